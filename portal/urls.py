from django.contrib import admin
from django.urls import include, path

from accounts import mailbox
from accounts import views as account_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # Before tenants' staff/ URLs: the demo's mailbox and the customer logins of a tenant.
    path("staff/mail/", mailbox.mailbox, name="mailbox"),
    path("", include("notifications.urls")),
    path("staff/", include("accounts.staff_urls")),
    path("staff/", include("tenants.urls")),
    path("invoices/", include("invoices.urls")),
    path("keys/", include("tenants.reveal_urls")),
    path("django-admin/", admin.site.urls),
]
