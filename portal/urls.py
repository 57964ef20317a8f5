from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("staff/", include("tenants.urls")),
    path("invoices/", include("invoices.urls")),
    path("keys/", include("tenants.jobs.customer_urls")),
    path("django-admin/", admin.site.urls),
]
