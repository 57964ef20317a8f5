"""Customer accounts by invitation, and password resets for everyone.

An invitation creates the customer user with an unusable password and emails a one-time,
expiring link to choose one (Django's PasswordResetTokenGenerator: the token hashes the
password, so it stops working once a password is set). Resending replaces the unusable
password, which voids the links sent before; deactivating voids them too.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts.models import Role
from core import audit, mail


class ExpiringTokens(PasswordResetTokenGenerator):
    """A token generator with its own salt and lifetime, voided by deactivation."""

    def __init__(self, key_salt: str, setting: str) -> None:
        self.key_salt = key_salt
        self.setting = setting
        super().__init__()

    @property
    def lifetime(self) -> timedelta:
        return timedelta(hours=float(getattr(settings, self.setting)))

    def check_token(self, user, token) -> bool:
        # Django's own check reads the one PASSWORD_RESET_TIMEOUT; this one, the lifetime.
        if not (user and token):
            return False
        try:
            issued = base36_to_int(str(token).split("-", 1)[0])
        except ValueError:
            return False
        secrets = [self.secret, *self.secret_fallbacks]
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, issued, s), token)
            for s in secrets
        ):
            return False
        return not self.has_expired(token)

    def _make_hash_value(self, user, timestamp: int) -> str:
        return super()._make_hash_value(user, timestamp) + str(user.is_active)

    def has_expired(self, token: str) -> bool:
        """Whether a well-formed token is past its lifetime (else it was used or replaced)."""
        try:
            issued = base36_to_int(str(token).split("-", 1)[0])
        except ValueError:
            return False
        return self._num_seconds(self._now()) - issued > self.lifetime.total_seconds()


invitation_tokens = ExpiringTokens("accounts.invitations.invitation", "INVITATION_LINK_HOURS")
reset_tokens = ExpiringTokens("accounts.invitations.reset", "PASSWORD_RESET_LINK_HOURS")


def _link(route: str, user, tokens: ExpiringTokens) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return mail.absolute(reverse(route, args=[uid, tokens.make_token(user)]))


def _expires(tokens: ExpiringTokens) -> str:
    moment = timezone.localtime(timezone.now() + tokens.lifetime)
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def send_invitation(user) -> None:
    mail.send_to_user(
        "invitation",
        {
            "tenant": user.tenant,
            "url": _link("invitation_accept", user, invitation_tokens),
            "expires": _expires(invitation_tokens),
            "username": user.get_username(),
        },
        user,
    )


def send_reset(user) -> None:
    mail.send_to_user(
        "password_reset",
        {
            "url": _link("password_reset_confirm", user, reset_tokens),
            "expires": _expires(reset_tokens),
            "username": user.get_username(),
        },
        user,
    )


def invite(tenant, email: str, language: str, *, by, request: HttpRequest | None = None):
    """Create a customer user of `tenant` (login = the email address) and invite them."""
    User = get_user_model()
    email = User.objects.normalize_email(email.strip()).lower()
    if User.objects.filter(username__iexact=email).exists():
        raise ValidationError({"email": _("A login with this email address exists already.")})
    user = User(username=email, email=email, role=Role.CUSTOMER, tenant=tenant, language=language)
    user.set_unusable_password()
    user.full_clean()
    with transaction.atomic():
        user.save()
        audit.record(
            "user.invite",
            tenant=tenant,
            target=email,
            user=by,
            request=request,
            changes={
                "email": [None, email],
                "role": [None, Role.CUSTOMER],
                "language": [None, language],
            },
        )
    send_invitation(user)
    return user


def resend(user, *, by, request: HttpRequest | None = None) -> None:
    """A fresh invitation; the links sent before stop working."""
    user.set_unusable_password()
    user.save(update_fields=["password"])
    audit.record(
        "user.invite_resend", tenant=user.tenant, target=user.email, user=by, request=request
    )
    send_invitation(user)


def set_active(user, active: bool, *, by, request: HttpRequest | None = None) -> None:
    if user.is_active == active:
        return
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit.record(
        "user.reactivate" if active else "user.deactivate",
        tenant=user.tenant,
        target=user.get_username(),
        user=by,
        request=request,
        changes={"is_active": [not active, active]},
    )


def reset_by_staff(user, *, by, request: HttpRequest | None = None) -> None:
    """Email the user a reset link (staff never see or choose the password)."""
    audit.record(
        "user.password_reset_send",
        tenant=user.tenant,
        target=user.get_username(),
        user=by,
        request=request,
    )
    send_reset(user)


def is_pending(user) -> bool:
    """Invited, and no password chosen yet."""
    return user.is_active and not user.has_usable_password()
