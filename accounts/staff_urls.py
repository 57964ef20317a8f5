"""Customer logins of a tenant, on the tenant's staff page (under /staff/)."""

from django.urls import path

from accounts import staff_views

USER = "tenants/<int:pk>/users/<int:user_pk>"

urlpatterns = [
    path("tenants/<int:pk>/users/invite/", staff_views.invite, name="user_invite"),
    path(f"{USER}/resend/", staff_views.resend, name="user_resend"),
    path(f"{USER}/deactivate/", staff_views.set_active, {"active": False}, name="user_deactivate"),
    path(f"{USER}/reactivate/", staff_views.set_active, {"active": True}, name="user_reactivate"),
    path(f"{USER}/reset/", staff_views.send_reset, name="user_reset"),
]
