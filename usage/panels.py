"""What the staff pages show of usage: the fleet's charts (dashboard), a tenant's charts and
figures (tenant page); the list's sparklines are usage.sparklines. The charts come with the
table behind them.

The charts change only when a collection stores figures, a tenant is deleted or a day
passes, while the pages that show them are read far more often: so each set of charts is
rendered once and cached (settings.CACHES, each process's memory), keyed by what it is drawn
from — the language, today's date and fleet.data_version() for the fleet, the tenant's last
collection for a tenant — and any change of those makes a new key (nothing is ever stale,
nothing needs deleting: an old entry simply stops being asked for). The fleet's section is
also stored in the database (RenderedPanel), where the collection worker puts it after each
run (prepare_fleet_panels): with 10 000 tenants a collection runs every minute, and the first
view after it would otherwise draw the charts again in every web process."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format, localize
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from tenants.models import Tenant
from usage import charts, fleet
from usage.charts import Series
from usage.models import KEY_PROBLEMS, RenderedPanel, UsageCollection

CHART_DAYS = (30, 90)


@dataclass
class Chart:
    id: str
    title: str
    svg: SafeString
    headers: list[str]
    # The table's rows as HTML (table_rows): built here, not in the template, because a
    # 90-day table is 360 cells and the template engine took longer over them than over
    # everything else on the dashboard.
    body: SafeString
    legend: list[tuple[SafeString, str]] = field(default_factory=list)


@functools.lru_cache(maxsize=2048)
def _day_label(day: date, language: str | None) -> str:
    # Each day is in three tables of the dashboard and on every chart drawn that day;
    # `language` keys the cache, the label is in the active one.
    return date_format(day, "D j M Y")


def _cell(value: Any) -> str:
    # As the template showed them: a day in the reader's language, anything else localized.
    return _day_label(value, get_language()) if isinstance(value, date) else localize(value)


def table_rows(rows: Iterable[list[Any]]) -> SafeString:
    """<tr>s of the table behind a chart: the first cell names the row, the others are
    figures (right-aligned)."""
    out = []
    for first, *figures in rows:
        cells = "".join(f'<td class="num">{escape(_cell(v))}</td>' for v in figures)
        out.append(f"<tr><td>{escape(_cell(first))}</td>{cells}</tr>")
    return mark_safe("".join(out))  # noqa: S308 - every cell is escaped


def chart_days(raw: str | None) -> int:
    return int(raw) if raw in {str(d) for d in CHART_DAYS} else CHART_DAYS[0]


def _span(days: fleet.DaySeries) -> str:
    return f"{date_format(days.days[0], 'j M Y')} – {date_format(days.days[-1], 'j M Y')}"


def documents_chart(chart_id: str, series: fleet.DaySeries, *, width: int = 640) -> Chart:
    sent, received, failed = series.totals
    labels = [_("Sent"), _("Received"), _("Failed")]
    title = _("Documents per day")
    summary = _("%(span)s: %(sent)s sent, %(received)s received, %(failed)s failed.") % {
        "span": _span(series),
        "sent": sent,
        "received": received,
        "failed": failed,
    }
    lines = [Series(labels[0], series.sent), Series(labels[1], series.received)]
    lines.append(Series(labels[2], series.failed))
    return Chart(
        id=chart_id,
        title=title,
        svg=charts.line_chart(chart_id, title, summary, series.days, lines, width=width),
        headers=[_("Day"), *labels],
        body=table_rows([d, s, r, f] for d, s, r, f, _c in series.rows()),
        legend=[(charts.legend_swatch(i), label) for i, label in enumerate(labels)],
    )


def credit_chart(chart_id: str, series: fleet.DaySeries, title: str, *, width: int = 640) -> Chart:
    known = [c for c in series.credit if c is not None]
    summary = (
        _("%(span)s: from %(first)s to %(last)s credits.")
        % {"span": _span(series), "first": known[0], "last": known[-1]}
        if known
        else _("%(span)s: no balance collected yet.") % {"span": _span(series)}
    )
    label = _("Credit balance")
    return Chart(
        id=chart_id,
        title=title,
        svg=charts.line_chart(
            chart_id, title, summary, series.days, [Series(label, series.credit)], width=width
        ),
        headers=[_("Day"), label],
        body=table_rows([d, "—" if c is None else c] for d, _s, _r, _f, c in series.rows()),
        legend=[(charts.legend_swatch(0), label)],
    )


def registrations_chart(days: int) -> Chart:
    span, counts = fleet.registrations(days)
    title = _("Tenants registered on Peppol")
    summary = _("%(first)s on %(start)s, %(last)s on %(end)s.") % {
        "first": counts[0],
        "last": counts[-1],
        "start": date_format(span[0], "j M Y"),
        "end": date_format(span[-1], "j M Y"),
    }
    label = _("Registered")
    return Chart(
        id="chart-registrations",
        title=title,
        svg=charts.line_chart("chart-registrations", title, summary, span, [Series(label, counts)]),
        headers=[_("Day"), label],
        body=table_rows([[d, n] for d, n in zip(span, counts, strict=True)][::-1]),
        legend=[(charts.legend_swatch(0), label)],
    )


def credit_url(days: int) -> str:
    return reverse("tenants:tenant_list") + f"?credit={days}"


def outlook_chart(buckets: list[tuple[int, int]]) -> Chart:
    labels = [
        _("Out of credit now")
        if days == 0
        else ngettext("Within %(n)s day", "Within %(n)s days", days) % {"n": days}
        for days, _n in buckets
    ]
    bars = [(label, n, credit_url(days)) for label, (days, n) in zip(labels, buckets, strict=True)]
    return Chart(
        id="chart-outlook",
        title=_("Tenants running out of credit"),
        svg=charts.bar_rows(bars),
        headers=[_("When"), _("Tenants")],
        body=table_rows([label, n] for label, n, _u in bars),
    )


def _cached(key: str, render: Any) -> Any:
    value = cache.get(key)
    if value is None:
        value = render()
        cache.set(key, value, CACHE_SECONDS)
    return value


# The keys already change with the data; the timeout only frees entries nobody asks for.
CACHE_SECONDS = 2 * 24 * 3600


# How long a drawing of older figures may stand in for the current one while the collection
# worker (beat, once a minute: usage.tasks.collect_due) draws the new one.
STALE_SECONDS = 120


def _shared(key: str, family: str, render: Any, *, stale_ok: bool = True) -> Any:
    """_cached with the database behind this process's cache (RenderedPanel): what another
    process rendered (the collection worker, another web process) is read, not drawn again.
    Rows of the same `family` (key prefix) under older keys are deleted once the new one is
    drawn. With `stale_ok`, a view that finds no drawing of the current figures shows the
    family's newest one drawn within STALE_SECONDS (a deleted tenant, a new UTC day: the
    worker's next minute draws them) instead of drawing them itself, at three times the
    view's usual cost; with no such drawing (no worker running) it draws them."""
    value = cache.get(key)
    if value is not None:
        return value
    stored = RenderedPanel.objects.filter(key=key).values_list("value", flat=True).first()
    if stored is not None:
        cache.set(key, stored, CACHE_SECONDS)
        return stored
    if stale_ok:
        recent = (
            RenderedPanel.objects.filter(
                key__startswith=family,
                rendered_at__gte=timezone.now() - timedelta(seconds=STALE_SECONDS),
            )
            .order_by("-rendered_at")
            .values_list("value", flat=True)
            .first()
        )
        if recent is not None:
            return recent  # not cached under the new key: the next view looks again
    value = render()
    RenderedPanel.objects.bulk_create(
        [RenderedPanel(key=key, value=value, rendered_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["value", "rendered_at"],
    )
    RenderedPanel.objects.filter(key__startswith=family).exclude(key=key).delete()
    cache.set(key, value, CACHE_SECONDS)
    return value


def fleet_panel(days: int, *, stale_ok: bool = True) -> dict[str, Any]:
    """The dashboard's usage section (period links, the four charts and their tables) as
    HTML, and the number of live tenants out of credit within USAGE_CREDIT_ALERT_DAYS (drawn
    from the same rows, and as slow to count over 10 000 tenants as a chart)."""
    alert_days = settings.USAGE_CREDIT_ALERT_DAYS
    # The version is read before the figures: a collection that lands in between is drawn
    # under the older key at worst, and the next view asks for the newer one.
    family = f"usage:fleet:{days}:{alert_days}:{get_language()}:"
    key = f"{family}{fleet.today()}:{fleet.data_version()}"

    def render() -> dict[str, Any]:
        series = fleet.fleet_days(days)
        buckets, low = fleet.credit_outlook(also=(alert_days,))
        shown = [
            documents_chart("chart-documents", series),
            registrations_chart(days),
            credit_chart("chart-credit", series, _("Credit balance of all tenants")),
            outlook_chart(buckets),
        ]
        html = render_to_string(
            "usage/_fleet.html",
            {"chart_days": days, "chart_day_choices": CHART_DAYS, "charts": shown},
        )
        return {"html": html, "running_low": low[alert_days]}

    value = _shared(key, family, render, stale_ok=stale_ok)
    return {
        "fleet_section": mark_safe(value["html"]),  # noqa: S308 - rendered (escaped) above
        "running_low": value["running_low"],
    }


def prepare_fleet_panels() -> None:
    """Render the dashboard's usage section for every period and language unless it is
    rendered already (the collection worker, after each run), so that the first view after a
    collection, in any web process, reads it instead of drawing it."""
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for days in CHART_DAYS:
                fleet_panel(days, stale_ok=False)


def tenant_panel(tenant: Tenant, days: int = 30) -> dict[str, Any]:
    usage = UsageCollection.objects.filter(tenant=tenant).first()
    low = usage is not None and fleet.running_low().filter(pk=tenant.pk).exists()
    # A tenant's days are written only by its own collection, which sets collected_at.
    collected = usage.collected_at.isoformat() if usage and usage.collected_at else "-"
    key = f"usage:tenant:{tenant.pk}:{days}:{get_language()}:{fleet.today()}:{collected}"

    def render() -> str:
        series = fleet.tenant_days(tenant, days)
        shown = [
            documents_chart("chart-tenant-documents", series, width=480),
            credit_chart("chart-tenant-credit", series, _("Credit balance"), width=480),
        ]
        return render_to_string("usage/_charts.html", {"charts": shown, "small": True})

    return {
        "usage": usage,
        "usage_key_problem": usage is not None
        and usage.state == "failed"
        and usage.problem in KEY_PROBLEMS,
        "usage_low": low,
        "credit_alert_days": settings.USAGE_CREDIT_ALERT_DAYS,
        "usage_charts": mark_safe(_cached(key, render)),  # noqa: S308 - rendered above
    }
