"""Choosing a password through an emailed link: accepting an invitation, resetting one.

Both reuse Django's PasswordResetConfirmView (it moves the token out of the URL into the
session before showing the form, so the page's address carries no secret). When the link
does not work the page says why: expired, or already used (or replaced by a newer one).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import invitations, tasks
from core import audit
from core.models import Outcome

MODEL_BACKEND = "accounts.backends.UserBackend"


class _LinkView(auth_views.PasswordResetConfirmView):
    tokens: invitations.ExpiringTokens
    action = ""

    def dispatch(self, *args, **kwargs):
        self.token_generator = self.tokens
        return super().dispatch(*args, **kwargs)

    def _token(self) -> str:
        token = self.kwargs.get("token", "")
        if token == self.reset_url_token:
            return self.request.session.get(auth_views.INTERNAL_RESET_SESSION_TOKEN, "")
        return token

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        if not ctx.get("validlink"):
            ctx["expired"] = self.user is not None and self.tokens.has_expired(self._token())
            if self.user is not None:
                audit.record(
                    f"{self.action}_refused",
                    tenant=self.user.tenant,
                    target=self.user.get_username(),
                    actor_label="link",
                    request=self.request,
                    outcome=Outcome.ERROR,
                    error="expired" if ctx["expired"] else "used or replaced",
                )
        return ctx

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(
            self.action,
            tenant=self.user.tenant,
            target=self.user.get_username(),
            user=self.user,
            request=self.request,
        )
        return response


class InvitationAcceptView(_LinkView):
    """The invitee chooses a password and is logged in to their tenant's screens."""

    tokens = invitations.invitation_tokens
    action = "user.invitation_accept"
    template_name = "accounts/invitation_accept.html"
    post_reset_login = True
    post_reset_login_backend = MODEL_BACKEND
    success_url = reverse_lazy("home")


class ResetConfirmView(_LinkView):
    """Anyone with a reset link chooses a new password, then logs in (with 2FA for staff)."""

    tokens = invitations.reset_tokens
    action = "user.password_reset"
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")


class ForgotPasswordForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Email address"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


def forgot_password(request: HttpRequest) -> HttpResponse:
    """The same answer, after the same work, whether or not the address belongs to an
    account (no enumeration): the request only queues the address; a worker looks it up
    and sends the link (accounts.tasks)."""
    form = ForgotPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tasks.send_password_reset.delay(
            form.cleaned_data["email"],
            request.META.get("REMOTE_ADDR"),
            request.META.get("HTTP_USER_AGENT", "")[:300],
        )
        return redirect("password_reset_sent")
    return render(request, "accounts/password_forgot.html", {"form": form})


def reset_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_sent.html")


def reset_complete(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_complete.html", {"title": _("Password set")})
