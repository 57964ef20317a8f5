"""Scheduled key rotation without downtime (design-notes §2).

planned → new_key_stored → switched → grace → old_revoked, one row per run:

- planned: create a new key with the orphan-safe protocol of onboarding (its name carries
  the rotation; a later run revokes a key of that name the portal does not hold) and store
  it, not yet current, in the same transaction that records the phase.
- new_key_stored: switch in one transaction: the new key becomes current, the old one not.
  From the commit on, every portal call uses the new key; the old one stays valid.
- switched: email the tenant's customer users a one-time, expiring reveal link (never the
  key) and start the grace period (KEY_ROTATION_GRACE_HOURS).
- grace: the job waits (a `waiting` row, released by the dispatcher when due) ...
- old_revoked: ... then revokes the old key.

A crash at any point resumes from the recorded phase; in no phase is the tenant without a
working current key, and neither key is lost.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core import audit, mail
from einvoice import admin as admin_api
from jobs import dispatcher, runner
from jobs.models import JobState
from notifications.emit import emit as announce
from tenants import keys
from tenants.models import ApiKey, Tenant
from tenants.models.jobs import KeyRevealLink, KeyRotation, RotationPhase


class RotationRefused(Exception):
    pass


def grace_hours() -> float:
    return float(settings.KEY_ROTATION_GRACE_HOURS)


def link_hours() -> float:
    # Long enough to open after a weekend; never shorter than the grace period.
    return max(float(settings.KEY_REVEAL_LINK_HOURS), grace_hours())


# --- policy and planning ----------------------------------------------------------------------
def due_at(tenant: Tenant) -> datetime | None:
    """When the tenant's current key is due for rotation (None: no key to rotate)."""
    key = tenant.current_key()
    if key is None:
        return None
    born = key.remote_created_at or key.created_at
    return born + timedelta(days=tenant.effective_rotation_days)


def set_policy(tenant: Tenant, days: int | None, *, user) -> None:
    before = tenant.rotation_days
    Tenant.objects.filter(pk=tenant.pk).update(rotation_days=days)
    tenant.rotation_days = days
    audit.record(
        "key.rotation_policy", tenant=tenant, user=user, changes={"rotation_days": [before, days]}
    )


def start(tenant: Tenant, *, reason: str, user=None) -> KeyRotation:
    if tenant.is_deleted:
        raise RotationRefused(_("The tenant is deleted."))
    try:
        with transaction.atomic():
            rotation = KeyRotation.objects.create(
                tenant=tenant, reason=reason, requested_by=user, old_key=tenant.current_key()
            )
    except IntegrityError:
        raise RotationRefused(_("A key rotation of this tenant is already under way.")) from None
    audit.record(
        "key.rotation_start",
        tenant=tenant,
        actor=user or "job:rotation-planner",
        target=f"rotation #{rotation.pk}",
        changes={"reason": [None, reason]},
    )
    if reason == KeyRotation.REASON_SCHEDULE:
        announce(
            "key.due",
            f"key.due:{rotation.pk}",
            tenant=tenant,
            data={"path": reverse("tenants:tenant_rotation", args=[tenant.pk])},
        )
    dispatcher.kick()
    return rotation


def plan_due() -> int:
    """Beat: start a rotation for every tenant whose current key reached its age."""
    now = timezone.now()
    default_days = int(settings.KEY_ROTATION_DAYS)
    busy = KeyRotation.objects.filter(
        state__in=[JobState.QUEUED, JobState.RUNNING, JobState.WAITING]
    ).values("tenant_id")
    # One query for every tenant's current key age; the policy is compared here.
    rows = (
        ApiKey.objects.current()
        .filter(tenant__is_deleted=False)
        .exclude(tenant_id__in=busy)
        .values_list("tenant_id", "tenant__rotation_days", "remote_created_at", "created_at")
    )
    due = [
        tenant_id
        for tenant_id, days, remote_created, created in rows
        if (remote_created or created) + timedelta(days=days or default_days) <= now
    ]
    started = 0
    for tenant in Tenant.objects.filter(pk__in=due):
        try:
            start(tenant, reason=KeyRotation.REASON_SCHEDULE)
            started += 1
        except RotationRefused:
            continue
    return started


# --- the run ----------------------------------------------------------------------------------
def run(rotation_id: int) -> KeyRotation | None:
    rotation = runner.claim(KeyRotation, rotation_id)
    if rotation is None:
        return None
    with admin_api.quota_wait(0):
        runner.execute(rotation, run_phase)
    return rotation


def run_phase(rotation: KeyRotation) -> bool:
    phase = rotation.phase
    if phase == RotationPhase.PLANNED:
        create_new_key(rotation)
    elif phase == RotationPhase.NEW_KEY_STORED:
        switch(rotation)
    elif phase == RotationPhase.SWITCHED:
        notify(rotation)
    elif phase == RotationPhase.GRACE:
        revoke_old(rotation)
    return rotation.phase == RotationPhase.OLD_REVOKED


def _advance(rotation: KeyRotation, phase: str, **fields) -> None:
    runner.save_progress(rotation, phase=phase, step_attempts=1, retries=0, **fields)


def create_new_key(rotation: KeyRotation) -> None:
    description = _("Rotated by the portal (rotation #%(id)s)") % {"id": rotation.pk}

    def advance(key: ApiKey) -> None:
        _advance(rotation, RotationPhase.NEW_KEY_STORED, new_key=key)

    keys.create_job_key(rotation, rotation.tenant, description, make_current=False, advance=advance)


def switch(rotation: KeyRotation) -> None:
    new_key = rotation.new_key
    if new_key is None or new_key.is_revoked:
        # Revoked meanwhile (by staff): start over with a fresh key.
        _advance(rotation, RotationPhase.PLANNED, new_key=None)
        return
    with transaction.atomic():
        ApiKey.objects.filter(tenant=rotation.tenant, is_current=True).exclude(
            pk=new_key.pk
        ).update(is_current=False)
        ApiKey.objects.filter(pk=new_key.pk).update(is_current=True)
        audit.record(
            "key.switch",
            tenant=rotation.tenant,
            target=new_key.name,
            actor_label=rotation.actor_label,
            changes={
                "current_key": [getattr(rotation.old_key, "fingerprint", None), new_key.fingerprint]
            },
        )
        _advance(rotation, RotationPhase.SWITCHED)
        announce(
            "key.rotated",
            f"key.rotated:{rotation.pk}",
            tenant=rotation.tenant,
            data={
                "path": reverse("tenants:tenant_rotation", args=[rotation.tenant_id]),
                "key": {"name": new_key.name},
            },
        )


def _when(moment: datetime) -> str:
    # With the zone: the reader of an email may live in another one.
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def notify(rotation: KeyRotation) -> None:
    tenant = rotation.tenant
    grace_until = timezone.now() + timedelta(hours=grace_hours())
    recipients = list(tenant.users.filter(is_active=True).exclude(email=""))
    for user in recipients:
        token = create_reveal_link(rotation, user)
        # The customer's page, outside /staff/; absolute, from PORTAL_BASE_URL (a worker
        # has no request to take the host from).
        url = settings.PORTAL_BASE_URL + reverse("keys:reveal", args=[token])
        # In the recipient's language, from templates/emails/key_rotated*.txt.
        mail.send_to_user(
            "key_rotated",
            {
                "user": user.get_username(),
                "tenant": tenant.description or tenant.name,
                "grace": _when(grace_until),
                "expires": _when(timezone.now() + timedelta(hours=link_hours())),
                "url": url,
            },
            user,
        )
    audit.record(
        "key.rotation_notify",
        tenant=tenant,
        actor_label=rotation.actor_label,
        changes={"recipients": [None, len(recipients)]},
    )
    _advance(rotation, RotationPhase.GRACE, grace_until=grace_until, notified_at=timezone.now())


def revoke_old(rotation: KeyRotation) -> None:
    now = timezone.now()
    if rotation.grace_until and now < rotation.grace_until:
        raise runner.RetryLater(
            (rotation.grace_until - now).total_seconds(),
            _("Grace period: the old key stays valid until %(when)s.")
            % {"when": timezone.localtime(rotation.grace_until).strftime("%Y-%m-%d %H:%M")},
        )
    old = rotation.old_key
    if old is not None and not old.is_revoked and old.pk != rotation.new_key_id:
        keys.revoke_key(old, rotation.actor_label)
    _advance(rotation, RotationPhase.OLD_REVOKED)


# --- the reveal link --------------------------------------------------------------------------
def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_reveal_link(rotation: KeyRotation, user) -> str:
    token = secrets.token_urlsafe(32)
    KeyRevealLink.objects.create(
        api_key=rotation.new_key,
        tenant=rotation.tenant,
        rotation=rotation,
        token_hash=_hash(token),
        expires_at=timezone.now() + timedelta(hours=link_hours()),
    )
    return token


@dataclass
class RevealResult:
    ok: bool = False
    gone: bool = False
    value: str = ""
    message: str = ""
    tenant: Tenant | None = None
    api_key: ApiKey | None = None


def _used_message(link: KeyRevealLink) -> str:
    # When and by whom: a customer who did not open it learns that a colleague did.
    who = link.used_by.get_username() if link.used_by else link.sent_to or "?"
    return _("This link was already used on %(when)s by %(user)s.") % {
        "when": timezone.localtime(link.used_at).strftime("%Y-%m-%d %H:%M"),
        "user": who,
    }


def find_reveal_link(token: str) -> KeyRevealLink | None:
    return (
        KeyRevealLink.objects.select_related("api_key", "tenant", "used_by")
        .filter(token_hash=_hash(token))
        .first()
    )


def _refused(link: KeyRevealLink, user, request, reason: str) -> None:
    audit.record(
        "key.reveal_refused",
        tenant=link.tenant,
        target=link.api_key.name,
        user=user,
        actor_label=None if user else f"link:{link.sent_to or '?'}",
        request=request,
        outcome=audit.Outcome.ERROR,
        error=reason,
    )


def open_reveal_link(token: str, user, request=None) -> RevealResult:
    """Show the key once: a rotation link to a logged-in customer user of its tenant, a
    hand-over link (tenants.handover) to whoever holds it."""
    link = find_reveal_link(token)
    user = user if user is not None and user.is_authenticated else None
    if link is None or (
        not link.is_handover and (user is None or link.tenant_id != user.tenant_id)
    ):
        return RevealResult(message=_("This link is not valid."))
    now = timezone.now()
    if link.used_at is not None:
        _refused(link, user, request, "already used")
        return RevealResult(gone=True, message=_used_message(link))
    if link.revoked_at is not None:
        _refused(link, user, request, "withdrawn")
        return RevealResult(gone=True, message=_("This link was withdrawn by your reseller."))
    if link.expires_at <= now or link.api_key.is_revoked or not link.api_key.is_held:
        _refused(link, user, request, "expired")
        return RevealResult(gone=True, message=_("This link has expired."))
    won = KeyRevealLink.objects.filter(
        pk=link.pk, used_at__isnull=True, revoked_at__isnull=True
    ).update(used_at=now, used_by=user)
    if not won:
        link.refresh_from_db()
        return RevealResult(gone=True, message=_used_message(link))
    audit.record(
        "key.reveal",
        tenant=link.tenant,
        target=link.api_key.name,
        user=user,
        actor_label=None if user else f"link:{link.sent_to}",
        request=request,
    )
    return RevealResult(
        ok=True, value=link.api_key.reveal_value(), tenant=link.tenant, api_key=link.api_key
    )
