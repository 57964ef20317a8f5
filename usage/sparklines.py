"""The tenant list's sparklines: each tenant's documents of the last 30 days, drawn when its
collection stores the days rather than on every view of the list.

The list used to read 30 day rows per tenant and draw each line on every view (1 500 rows
and 50 drawings per page). The collection is the only writer of a tenant's day rows, so it
also keeps the drawing on the tenant's collection row (`store`): the counts of the 30 days
up to that day and the polyline's points. The list (`for_stored`, the columns read in its
own query; `for_tenants` reads them itself) shows the stored points on the day they were
drawn; on a later day the window has moved on by so many days, whose rows the next
collection will write, so the stored counts are shifted and drawn again, in Python. A
tenant never collected has no day rows: a flat line. Only a drawing dated after
today (a clock set back) is read from the day rows again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.utils.safestring import SafeString
from django.utils.translation import ngettext

from usage import charts, fleet
from usage.models import UsageCollection

DAYS = 30


def _label(total: int) -> str:
    return ngettext(
        "%(n)s document in the last %(days)s days",
        "%(n)s documents in the last %(days)s days",
        total,
    ) % {"n": total, "days": DAYS}


def drawn(values: list[int]) -> SafeString:
    """The sparkline of these daily counts (oldest first)."""
    return charts.sparkline(values, _label(sum(values)))


def _counts(text: str) -> list[int]:
    return [int(n) for n in text.split(",")] if text else [0] * DAYS


def store(tenant_ids: Iterable[int], day: date) -> None:
    """Draw the tenants' lines of the DAYS days up to `day` onto their collection rows (the
    collection calls it in the transaction that stores the days)."""
    for pk, values in fleet.sparklines(list(tenant_ids), DAYS, until=day).items():
        UsageCollection.objects.filter(tenant_id=pk).update(
            sparkline_day=day,
            sparkline_counts=",".join(map(str, values)),
            sparkline_points=charts.sparkline_points(values),
        )


# The collection row's columns that hold a tenant's drawing (the list may read them in its
# own query: for_stored).
STORED = ("sparkline_day", "sparkline_counts", "sparkline_points")


def for_tenants(tenant_ids: list[int]) -> dict[int, SafeString]:
    """Each tenant's sparkline for today: one query (two after a clock set back)."""
    rows = UsageCollection.objects.filter(tenant_id__in=tenant_ids, sparkline_day__isnull=False)
    stored = {pk: rest for pk, *rest in rows.values_list("tenant_id", *STORED)}
    return for_stored({pk: stored.get(pk, (None, "", "")) for pk in tenant_ids})


def for_stored(stored: dict[int, tuple]) -> dict[int, SafeString]:
    """Each tenant's sparkline for today from its collection row's STORED columns (None
    for its day: never collected, a flat line); a query only after a clock set back."""
    today = fleet.today()
    lines: dict[int, SafeString] = {}
    ahead: list[int] = []
    flat = None
    for pk, (day, counts, points) in stored.items():
        if day is None:
            flat = flat or drawn([0] * DAYS)
            lines[pk] = flat
            continue
        values = _counts(counts)
        if day == today:
            lines[pk] = charts.sparkline_svg(points, _label(sum(values)))
        elif day < today:
            moved = min((today - day).days, DAYS)
            lines[pk] = drawn(values[moved:] + [0] * moved)
        else:
            ahead.append(pk)
    for pk, values in fleet.sparklines(ahead, DAYS).items() if ahead else ():
        lines[pk] = drawn(values)
    return lines
