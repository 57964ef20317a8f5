""" "Register as soon as it is free": a watch on a Peppol ID another access point holds.

A watch is a leased job row (tenants.models.PeppolWatch) run by the same runner and
dispatcher as onboarding and rotation. Each run looks the ID up once (the tenant API's
lookup, not the organization quota); while it is still held the run ends `waiting` until
the next check of a schedule that doubles from PEPPOL_WATCH_FIRST_CHECK_SECONDS up to
PEPPOL_WATCH_MAX_INTERVAL_SECONDS, and the watch gives up after PEPPOL_WATCH_GIVE_UP_DAYS.
The run that finds the ID free registers the tenant (through the limiter, like every Admin
API call) and tells the reseller's admins by email.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from core import audit, mail
from einvoice import admin as admin_api
from jobs import runner
from jobs.models import ACTIVE_STATES, JobState
from tenants import checks, peppol
from tenants.errors import HeldElsewhere, PeppolUnavailable
from tenants.models import OnboardingJob, PeppolState, PeppolWatch, Tenant, WatchOutcome

logger = logging.getLogger(__name__)


def _scaled(seconds: float) -> float:
    return seconds / float(settings.RATE_LIMIT_TIME_SCALE)


def check_interval(checks_done: int) -> float:
    """Seconds until the next look-up after `checks_done` checks: doubling, capped."""
    first = float(settings.PEPPOL_WATCH_FIRST_CHECK_SECONDS)
    cap = float(settings.PEPPOL_WATCH_MAX_INTERVAL_SECONDS)
    return _scaled(min(cap, first * 2 ** min(checks_done, 30)))


def active_watch(tenant: Tenant) -> PeppolWatch | None:
    return tenant.peppol_watches.filter(state__in=ACTIVE_STATES).first()


def start(
    tenant: Tenant,
    verdict: checks.PeppolVerdict,
    actor: audit.Actor,
    *,
    onboarding: OnboardingJob | None = None,
    user: User | None = None,
) -> PeppolWatch:
    """Watch `verdict.peppol_id` for `tenant` (or the watch already running: one per tenant)."""
    existing = active_watch(tenant)
    if existing is not None:
        return existing
    now = timezone.now()
    try:
        with transaction.atomic():
            watch = PeppolWatch.objects.create(
                tenant=tenant,
                peppol_id=verdict.peppol_id,
                onboarding=onboarding,
                company_name=(onboarding.description if onboarding else "")[:200],
                holder=verdict.holder,
                state=JobState.WAITING,
                next_attempt_at=now + timedelta(seconds=check_interval(0)),
                give_up_at=now + timedelta(seconds=_scaled(_give_up_seconds())),
                created_by=user,
            )
            peppol.set_state(
                tenant,
                PeppolState.HELD_ELSEWHERE,
                actor,
                reason=verdict.text,
                holder=verdict.holder,
            )
            audit.record(
                "peppol.watch",
                actor=actor,
                tenant=tenant,
                target=verdict.peppol_id,
                changes={"watching": [False, True]},
            )
    except IntegrityError:  # a concurrent start won (one active watch per tenant)
        return active_watch(tenant)
    return watch


def _give_up_seconds() -> float:
    return float(settings.PEPPOL_WATCH_GIVE_UP_DAYS) * 86400


def run(watch_id: int) -> PeppolWatch | None:
    watch = runner.claim(PeppolWatch, watch_id)
    if watch is None:
        return None
    with admin_api.quota_wait(0):
        runner.execute(watch, check_once)
    return watch


def _finish(watch: PeppolWatch, outcome: str, **fields) -> bool:
    runner.save_progress(watch, outcome=outcome, **fields)
    return True


def check_once(watch: PeppolWatch) -> bool:
    """One look-up; True when the watch is over (registered, taken, gave up, not needed)."""
    tenant = Tenant.objects.get(pk=watch.tenant_id)
    if tenant.is_deleted or tenant.peppol_id != watch.peppol_id:
        return _finish(watch, WatchOutcome.CANCELLED)
    now = timezone.now()
    verdict = checks.preflight(watch.peppol_id, exclude=tenant)
    seen = {"holder": verdict.holder} if verdict.held_elsewhere else {}
    runner.save_progress(watch, checks=watch.checks + 1, last_checked_at=now, **seen)
    if verdict.kind == checks.Verdict.OURS:
        peppol.set_state(tenant, PeppolState.FAILED, watch.actor_label, reason=verdict.text)
        _notify(watch, tenant, "taken", verdict.text)
        return _finish(watch, WatchOutcome.TAKEN)
    if verdict.free:
        return _register(watch, tenant)
    if verdict.held_elsewhere:
        peppol.set_state(
            tenant,
            PeppolState.HELD_ELSEWHERE,
            watch.actor_label,
            reason=verdict.text,
            holder=verdict.holder,
        )
    if now >= watch.give_up_at:
        peppol.set_state(
            tenant,
            PeppolState.FAILED,
            watch.actor_label,
            reason=verdict.text if verdict.held_elsewhere else verdict.reason,
        )
        _notify(watch, tenant, "gave_up", verdict.text)
        return _finish(watch, WatchOutcome.GAVE_UP)
    # Still held (or the lookup failed: say so, check again later, never guess).
    raise runner.RetryLater(check_interval(watch.checks), note=verdict.text)


def _register(watch: PeppolWatch, tenant: Tenant) -> bool:
    try:
        peppol.register_peppol(
            tenant,
            watch.actor_label,
            peppol_id=watch.peppol_id,
            company_name=watch.company_name or None,
        )
    except HeldElsewhere as e:  # taken again between the look-up and the call
        raise runner.RetryLater(check_interval(watch.checks), note=e.verdict.text) from None
    except PeppolUnavailable as e:
        raise runner.PermanentFailure(str(e)) from None
    _notify(watch, tenant, "registered", "")
    return _finish(watch, WatchOutcome.REGISTERED)


def cancel(watch: PeppolWatch, actor: audit.Actor) -> bool:
    """Staff stop watching (a waiting watch; a running one finishes its check first)."""
    now = timezone.now()
    stopped = PeppolWatch.objects.filter(
        pk=watch.pk, state__in=[JobState.QUEUED, JobState.WAITING]
    ).update(
        state=JobState.SUCCEEDED,
        outcome=WatchOutcome.CANCELLED,
        dispatched_at=None,
        finished_at=now,
        updated_at=now,
    )
    if stopped:
        tenant = watch.tenant
        peppol.set_state(tenant, PeppolState.NOT_REGISTERED, actor)
        audit.record(
            "peppol.watch",
            actor=actor,
            tenant=tenant,
            target=watch.peppol_id,
            changes={"watching": [True, False]},
        )
    return bool(stopped)


def _notify(watch: PeppolWatch, tenant: Tenant, event: str, detail: str) -> None:
    """Email the reseller's admins (and whoever started the watch) what happened."""
    recipients = {
        u.pk: u for u in User.objects.filter(role=Role.ADMIN, is_active=True).exclude(email="")
    }
    if watch.created_by and watch.created_by.is_active and watch.created_by.email:
        recipients[watch.created_by.pk] = watch.created_by
    url = mail.absolute(reverse("tenants:tenant_detail", args=[tenant.pk]))
    for user in recipients.values():
        try:
            mail.send_to_user(
                f"peppol_watch_{event}",
                {"tenant": tenant.name, "peppol_id": watch.peppol_id, "detail": detail, "url": url},
                user,
            )
        except Exception:  # a mail outage must not undo the registration
            logger.warning("peppol watch #%s: could not email %s", watch.pk, user.pk, exc_info=True)
