"""The fleet's sums (FleetDay, kept by usage.collect) and the questions asked of them: the
series the charts draw, registrations over time, who runs out of credit, whose usage
cannot be read. Every function is a fixed number of queries, whatever the fleet's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Max, Q, QuerySet, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from jobs.models import JobState
from tenants.models import Tenant
from usage.models import KEY_PROBLEMS, FleetDay, UsageCollection, UsageDay


def today() -> date:
    return timezone.now().astimezone(UTC).date()


# --- kept by the collection -------------------------------------------------------------------
def apply(deltas: dict[date, tuple[int, int, int]], day: date, credit_delta: int) -> None:
    """Add one tenant's changes: (sent, received, failed) per day, and its balance's change
    to `day` (today's row starts from the last known fleet balance)."""
    if not FleetDay.objects.filter(day=day).exists():
        last = (
            FleetDay.objects.filter(day__lt=day, credit_balance__isnull=False)
            .order_by("-day")
            .values_list("credit_balance", flat=True)
            .first()
        )
        FleetDay.objects.bulk_create(
            [FleetDay(day=day, credit_balance=last or 0)], ignore_conflicts=True
        )
    FleetDay.objects.bulk_create(
        [FleetDay(day=d, credit_balance=None) for d in deltas if d != day], ignore_conflicts=True
    )
    for d, (sent, received, failed) in deltas.items():
        FleetDay.objects.filter(day=d).update(
            sent=F("sent") + sent, received=F("received") + received, failed=F("failed") + failed
        )
    if credit_delta:
        FleetDay.objects.filter(day=day).update(
            credit_balance=Coalesce(F("credit_balance"), Value(0)) + credit_delta
        )


def data_version() -> str:
    """What the fleet's figures are drawn from, in a few characters (the key of their cached
    charts, usage.panels): every collection that stores figures sets its row's collected_at
    to now (indexed), so the newest one moves; a tenant deleted (or made) changes how many
    tenants there are, live and in all. Three index-only queries, whatever the fleet's size."""
    latest = UsageCollection.objects.aggregate(m=Max("collected_at"))["m"]
    live, every = Tenant.objects.active().count(), Tenant.objects.count()
    return f"{latest.timestamp() if latest else 0}:{live}:{every}"


# --- what the charts draw ---------------------------------------------------------------------
@dataclass
class DaySeries:
    days: list[date]
    sent: list[int]
    received: list[int]
    failed: list[int]
    credit: list[int | None]

    @property
    def totals(self) -> tuple[int, int, int]:
        return sum(self.sent), sum(self.received), sum(self.failed)

    def rows(self) -> list[tuple[date, int, int, int, int | None]]:
        """Newest first, for the table behind the chart."""
        return list(
            zip(self.days, self.sent, self.received, self.failed, self.credit, strict=True)
        )[::-1]


def window(days: int, until: date | None = None) -> list[date]:
    until = until or today()
    return [until - timedelta(days=n) for n in range(days - 1, -1, -1)]


def _series(rows, days: list[date]) -> DaySeries:
    by_day = {r.day: r for r in rows}
    pick = [by_day.get(d) for d in days]
    return DaySeries(
        days=days,
        sent=[r.sent if r else 0 for r in pick],
        received=[r.received if r else 0 for r in pick],
        failed=[r.failed if r else 0 for r in pick],
        credit=[r.credit_balance if r else None for r in pick],
    )


def fleet_days(days: int) -> DaySeries:
    span = window(days)
    return _series(FleetDay.objects.filter(day__gte=span[0], day__lte=span[-1]), span)


def tenant_days(tenant: Tenant, days: int) -> DaySeries:
    span = window(days)
    rows = UsageDay.objects.filter(tenant=tenant, day__gte=span[0], day__lte=span[-1])
    return _series(rows, span)


def sparklines(
    tenant_ids: list[int], days: int = 30, until: date | None = None
) -> dict[int, list[int]]:
    """Documents sent + received per day of each tenant over the `days` days up to `until`
    (today): one query for a page of them."""
    span = window(days, until)
    index = {d: i for i, d in enumerate(span)}
    lines = {pk: [0] * days for pk in tenant_ids}
    rows = UsageDay.objects.filter(
        tenant_id__in=tenant_ids, day__gte=span[0], day__lte=span[-1]
    ).values_list("tenant_id", "day", "sent", "received")
    for tenant_id, day, sent, received in rows:
        lines[tenant_id][index[day]] = sent + received
    return lines


def registrations(days: int) -> tuple[list[date], list[int]]:
    """Live tenants registered on e-invoice.be's SMP (as /api/me says) at the end of each day."""
    span = window(days)
    since = datetime.combine(span[0], datetime.min.time(), tzinfo=UTC)
    live = UsageCollection.objects.filter(tenant__is_deleted=False, smp_registration=True)
    before = live.filter(smp_registration_date__lt=since).count()
    per_day = dict(
        live.filter(smp_registration_date__gte=since)
        .annotate(day=TruncDate("smp_registration_date", tzinfo=UTC))
        .values_list("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    running, counts = before, []
    for d in span:
        running += per_day.get(d, 0)
        counts.append(running)
    return span, counts


# --- credit -----------------------------------------------------------------------------------
def _runs_out_within(days: float) -> Q:
    """Out of credit, or out within `days` at the pace of the last days (the API's estimate;
    0.0 there means nothing used, unless the balance is 0)."""
    return Q(usage__credit_balance__lte=0) | Q(
        usage__average_daily_usage__gt=0, usage__budget_estimation_days__lt=days
    )


def running_low(days: float | None = None) -> QuerySet[Tenant]:
    """Live tenants out of credit within `days` (USAGE_CREDIT_ALERT_DAYS): for the list's
    filter, the dashboard and notifications ("credit running low")."""
    if days is None:
        days = settings.USAGE_CREDIT_ALERT_DAYS
    return Tenant.objects.active().filter(_runs_out_within(days))


CREDIT_BUCKETS = (0, 7, 14, 30, 90)


def credit_outlook(also: tuple[int, ...] = ()) -> tuple[list[tuple[int, int]], dict[int, int]]:
    """(days, tenants out of credit within that many days) for each bucket; 0 = already out.
    `also`: more spans counted in the same pass (as running_low(days).count() would), keyed
    by days in the second value; one query over the fleet either way."""
    live = Tenant.objects.active()
    spans = sorted({*CREDIT_BUCKETS, *also})
    counts = live.aggregate(
        **{
            f"b{days}": Count(
                "pk",
                filter=Q(usage__credit_balance__lte=0) if days == 0 else _runs_out_within(days),
            )
            for days in spans
        }
    )
    return [(days, counts[f"b{days}"]) for days in CREDIT_BUCKETS], {
        days: counts[f"b{days}"] for days in also
    }


# --- usage that cannot be read ----------------------------------------------------------------
def key_problems() -> QuerySet[Tenant]:
    """Live tenants whose usage is not collected: no usable key, or the key was refused."""
    return Tenant.objects.active().filter(
        usage__state=JobState.FAILED, usage__problem__in=KEY_PROBLEMS
    )
