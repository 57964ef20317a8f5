from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import password_views, views

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password_change.html",
            success_url=reverse_lazy("password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("password/forgot/", password_views.forgot_password, name="password_reset"),
    path("password/forgot/sent/", password_views.reset_sent, name="password_reset_sent"),
    path(
        "password/reset/<uidb64>/<token>/",
        password_views.ResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/reset/done/", password_views.reset_complete, name="password_reset_complete"),
    path(
        "invitation/<uidb64>/<token>/",
        password_views.InvitationAcceptView.as_view(),
        name="invitation_accept",
    ),
    path("two-factor/setup/", views.otp_setup, name="otp_setup"),
    path("two-factor/verify/", views.otp_verify, name="otp_verify"),
]
