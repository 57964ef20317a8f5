"""Key hand-over: a one-time, expiring link that shows a tenant's current key to the
customer's technical contact, instead of staff reading the key aloud.

The same KeyRevealLink as rotation's (only the token's hash is stored; the token is only in
the email), addressed to an email rather than to a login: whoever holds the link opens it
once, after pressing a button (a mail scanner that fetches the link does not use it up).
An unused link can be withdrawn, and sent again (the old one stops working).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core import audit, mail
from tenants import rotation
from tenants.models import Tenant
from tenants.models.jobs import KeyRevealLink


class HandoverRefused(Exception):
    pass


def _expires_text(link: KeyRevealLink) -> str:
    return timezone.localtime(link.expires_at).strftime("%Y-%m-%d %H:%M %Z")


def send_link(
    tenant: Tenant, email: str, language: str, *, by, request: HttpRequest | None = None
) -> KeyRevealLink:
    """Email `email` a link to the tenant's current key; the key itself never leaves here."""
    key = tenant.current_key()
    if tenant.is_deleted or key is None or not key.is_held:
        raise HandoverRefused(
            _("%(tenant)s has no current key the portal holds: create one first.")
            % {"tenant": tenant.name}
        )
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        link = KeyRevealLink.objects.create(
            api_key=key,
            tenant=tenant,
            token_hash=rotation._hash(token),
            expires_at=timezone.now() + timedelta(hours=rotation.link_hours()),
            sent_to=email.strip().lower(),
            language=language,
            created_by=by if getattr(by, "is_authenticated", False) else None,
        )
        audit.record(
            "key.handover_send",
            tenant=tenant,
            target=key.name,
            actor=by,
            request=request,
            changes={"sent_to": [None, link.sent_to], "expires_at": [None, _expires_text(link)]},
        )
    context = {
        "tenant": tenant,
        "url": mail.absolute(reverse("keys:reveal", args=[token])),
        "expires": _expires_text(link),
    }
    mail.send("key_handover", context, link.sent_to, language)
    return link


def revoke_link(link: KeyRevealLink, *, by, request: HttpRequest | None = None) -> bool:
    """Withdraw an unused link; False if it was used (or withdrawn) meanwhile."""
    done = KeyRevealLink.objects.filter(
        pk=link.pk, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if done:
        audit.record(
            "key.handover_revoke",
            tenant=link.tenant,
            target=link.api_key.name,
            actor=by,
            request=request,
            changes={"sent_to": [link.sent_to, link.sent_to]},
        )
    return bool(done)


def resend_link(link: KeyRevealLink, *, by, request: HttpRequest | None = None) -> KeyRevealLink:
    """A new link to the same address; the unused old one is withdrawn first."""
    if link.used_at is not None:
        raise HandoverRefused(_("This link was used already: the key was handed over."))
    revoke_link(link, by=by, request=request)
    return send_link(link.tenant, link.sent_to, link.language, by=by, request=request)


def links_of(tenant: Tenant) -> list[KeyRevealLink]:
    return list(
        KeyRevealLink.objects.filter(tenant=tenant)
        .exclude(sent_to="")
        .select_related("api_key", "used_by")
        .order_by("-created_at")[:20]
    )
