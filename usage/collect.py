"""Reading each tenant's usage and credit from e-invoice.be, at a pace the tenant API can take.

Beat runs `collect_due` once a minute. It gives every live tenant a collection row (due at
once the first time), sends a row whose key problem is solved (another key is current) back
to the queue, then runs at most USAGE_CALLS_PER_MINUTE / 2 due rows, one after the other:
each makes two calls with the tenant's own key (GET /api/me, GET /api/stats), stores the
days in one transaction and ends `waiting` until the tenant's next slot. Slots are spread
evenly over USAGE_COLLECT_PERIOD_SECONDS by tenant (a golden-ratio offset), so 10 000
tenants make about 14 calls a minute, not 20 000 at midnight.

A missing key (none, not held, unreadable) or one e-invoice.be refuses ends the row
`failed` with the problem named on the tenant page and the dashboard, and it is not tried
again until another key is current. Other errors retry with the runner's backoff; a row
that failed on them runs again at its next slot.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from einvoice.errors import KeyUnavailable
from einvoice.tenant import TenantApi, current_key
from invoices.models import Direction, Document, State
from jobs import runner
from jobs.models import JobState
from tenants.models import ApiKey, Tenant
from usage import fleet, sparklines
from usage.models import KEY_PROBLEMS, Problem, UsageCollection, UsageDay

CALLS_PER_TENANT = 2
# Days of /api/stats a collection after the first reads: the average (and so the API's
# budget estimate) is over this many days; the first one reads USAGE_HISTORY_DAYS.
RECENT_DAYS = 30
# A run of collect_due stops starting tenants after this (beat sends the next one a minute on).
RUN_SECONDS = 50.0
_GOLDEN = (math.sqrt(5) - 1) / 2


def period() -> float:
    return float(settings.USAGE_COLLECT_PERIOD_SECONDS)


def next_slot(tenant_id: int, now: datetime) -> datetime:
    """The tenant's next collection time: its own offset in every period, after `now`."""
    offset = (tenant_id * _GOLDEN % 1.0) * period()
    k = math.floor((now.timestamp() - offset) / period()) + 1
    return datetime.fromtimestamp(k * period() + offset, tz=UTC)


def tenants_per_run() -> int:
    return max(1, int(settings.USAGE_CALLS_PER_MINUTE) // CALLS_PER_TENANT)


def schedule_new(now: datetime, limit: int = 2000) -> int:
    """A collection row for each live tenant that has none: due now (the pace spreads them)."""
    new = list(
        Tenant.objects.active().filter(usage__isnull=True).values_list("pk", flat=True)[:limit]
    )
    UsageCollection.objects.bulk_create(
        [UsageCollection(tenant_id=pk, next_attempt_at=now) for pk in new],
        ignore_conflicts=True,
    )
    return len(new)


def requeue(now: datetime, limit: int = 2000) -> int:
    """Failed rows that can work now: a key problem once another key is current; any other
    failure at the row's next slot. Never the same missing or refused key again."""
    held = ApiKey.objects.current().exclude(encrypted_value="")
    new_key = (
        UsageCollection.objects.filter(state=JobState.FAILED, problem__in=KEY_PROBLEMS)
        .annotate(current=Subquery(held.filter(tenant_id=OuterRef("tenant_id")).values("pk")[:1]))
        .filter(current__isnull=False)
        .filter(Q(problem_key__isnull=True) | ~Q(problem_key=F("current")))
    )
    other = UsageCollection.objects.filter(
        state=JobState.FAILED,
        problem=Problem.FAILED,
        finished_at__lte=now - timedelta(seconds=period()),
    )
    ids = list(new_key.values_list("pk", flat=True)[:limit]) + list(
        other.values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return 0
    return UsageCollection.objects.filter(pk__in=ids, state=JobState.FAILED).update(
        state=JobState.QUEUED, next_attempt_at=now, retries=0, finished_at=None, updated_at=now
    )


def due(now: datetime) -> list[int]:
    ready = Q(state__in=[JobState.QUEUED, JobState.WAITING], next_attempt_at__lte=now)
    stale = Q(state=JobState.RUNNING, lease_until__lt=now)
    return list(
        UsageCollection.objects.filter(ready | stale, tenant__is_deleted=False)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[: tenants_per_run()]
    )


def collect_due() -> int:
    """Beat, once a minute: schedule, requeue, then collect what is due at the pace."""
    now = timezone.now()
    schedule_new(now)
    requeue(now)
    started = time.monotonic()
    ran = 0
    for pk in due(now):
        if time.monotonic() - started > RUN_SECONDS:
            break
        if run(pk) is not None:
            ran += 1
    return ran


def run(pk: int) -> UsageCollection | None:
    job = runner.claim(UsageCollection, pk)
    if job is None:
        return None
    runner.execute(job, collect_once, on_failure=_failed)
    return job


def _failed(job: UsageCollection) -> None:
    if job.problem not in KEY_PROBLEMS:
        UsageCollection.objects.filter(pk=job.pk).update(problem=Problem.FAILED)


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def collect_once(job: UsageCollection) -> bool:
    """Read /api/me and /api/stats, store them, and wait for the next slot."""
    tenant = Tenant.objects.get(pk=job.tenant_id)
    now = timezone.now()
    if tenant.is_deleted:
        raise runner.RetryLater((next_slot(tenant.pk, now) - now).total_seconds())
    today = _utc_day(now)
    days = RECENT_DAYS if job.collected_at else int(settings.USAGE_HISTORY_DAYS)
    start = today - timedelta(days=max(1, days) - 1)
    api = TenantApi(tenant)
    try:
        me = api.me()
        stats = api.stats(start, today)
    except KeyUnavailable as e:
        key = current_key(tenant)  # re-read after a refusal: the key that was tried last
        problem = Problem.KEY_REFUSED if e.status == 401 else Problem.NO_KEY
        runner.save_progress(
            job,
            problem=problem,
            problem_key=key if key is not None and key.is_held else None,
            problem_since=job.problem_since or now,
        )
        raise runner.PermanentFailure(str(e)) from None
    counts: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for action in stats.actions:
        counts[action.stat_date][0 if action.action == "DOCUMENT_SENT" else 1] += action.count
    with transaction.atomic():
        _store_days(job, tenant, start, today, counts, me.credit_balance)
        sparklines.store([tenant.pk], today)
        runner.save_progress(
            job,
            plan=me.plan or "",
            credit_balance=me.credit_balance,
            smp_registration=me.smp_registration,
            smp_registration_date=me.smp_registration_date,
            average_daily_usage=stats.average_daily_usage,
            budget_estimation_days=stats.budget_estimation_days,
            collected_at=now,
            problem=Problem.NONE,
            problem_key=None,
            problem_since=None,
            retries=0,
        )
    raise runner.RetryLater((next_slot(tenant.pk, now) - now).total_seconds())


def failed_per_day(tenant: Tenant, start: date) -> dict[date, int]:
    """Outbound documents of the portal's mirror that went FAILED, per (UTC) day."""
    since = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    rows = (
        Document.objects.filter(
            tenant=tenant,
            direction=Direction.OUTBOUND,
            state=State.FAILED,
            state_changed_at__gte=since,
        )
        .annotate(day=TruncDate("state_changed_at", tzinfo=UTC))
        .values("day")
        .annotate(n=Count("pk"))
    )
    return {row["day"]: row["n"] for row in rows}


def _store_days(
    job: UsageCollection,
    tenant: Tenant,
    start: date,
    today: date,
    counts: dict[date, list[int]],
    balance: int | None,
) -> None:
    """Upsert the tenant's changed days and move the fleet's sums by the differences."""
    existing = {u.day: u for u in UsageDay.objects.filter(tenant=tenant, day__gte=start)}
    failed = failed_per_day(tenant, start)
    changed: list[UsageDay] = []
    deltas: dict[date, tuple[int, int, int]] = {}
    for day in sorted(set(counts) | set(failed) | set(existing) | {today}):
        if not start <= day <= today:
            continue
        old = existing.get(day)
        sent, received = counts.get(day, (0, 0))
        row = UsageDay(
            tenant=tenant,
            day=day,
            sent=sent,
            received=received,
            failed=failed.get(day, 0),
            credit_balance=balance if day == today else (old.credit_balance if old else None),
        )
        before = (old.sent, old.received, old.failed) if old else (0, 0, 0)
        after = (row.sent, row.received, row.failed)
        if old is not None and before == after and old.credit_balance == row.credit_balance:
            continue
        changed.append(row)
        if after != before:
            deltas[day] = (after[0] - before[0], after[1] - before[1], after[2] - before[2])
    UsageDay.objects.bulk_create(
        changed,
        update_conflicts=True,
        unique_fields=["tenant", "day"],
        update_fields=["sent", "received", "failed", "credit_balance"],
    )
    credit_delta = (balance or 0) - (job.credit_balance or 0)
    fleet.apply(deltas, today, credit_delta)
