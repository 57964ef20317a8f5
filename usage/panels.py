"""What the staff pages show of usage: the fleet's charts (dashboard), a tenant's charts and
figures (tenant page), the list's sparklines. Each returns a template context; the charts
come with the table behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tenants.models import Tenant
from usage import charts, fleet
from usage.charts import Series
from usage.models import KEY_PROBLEMS, UsageCollection

CHART_DAYS = (30, 90)


@dataclass
class Chart:
    id: str
    title: str
    svg: SafeString
    headers: list[str]
    rows: list[list[Any]]
    legend: list[tuple[SafeString, str]] = field(default_factory=list)


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
        rows=[[d, s, r, f] for d, s, r, f, _c in series.rows()],
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
        rows=[[d, "—" if c is None else c] for d, _s, _r, _f, c in series.rows()],
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
        rows=[[d, n] for d, n in zip(span, counts, strict=True)][::-1],
        legend=[(charts.legend_swatch(0), label)],
    )


def credit_url(days: int) -> str:
    return reverse("tenants:tenant_list") + f"?credit={days}"


def outlook_chart() -> Chart:
    buckets = fleet.credit_outlook()
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
        rows=[[label, n] for label, n, _u in bars],
    )


def fleet_panel(days: int) -> dict[str, Any]:
    series = fleet.fleet_days(days)
    return {
        "chart_days": days,
        "chart_day_choices": CHART_DAYS,
        "charts": [
            documents_chart("chart-documents", series),
            registrations_chart(days),
            credit_chart("chart-credit", series, _("Credit balance of all tenants")),
            outlook_chart(),
        ],
    }


def tenant_panel(tenant: Tenant, days: int = 30) -> dict[str, Any]:
    usage = UsageCollection.objects.filter(tenant=tenant).first()
    series = fleet.tenant_days(tenant, days)
    low = usage is not None and fleet.running_low().filter(pk=tenant.pk).exists()
    return {
        "usage": usage,
        "usage_key_problem": usage is not None
        and usage.state == "failed"
        and usage.problem in KEY_PROBLEMS,
        "usage_low": low,
        "credit_alert_days": settings.USAGE_CREDIT_ALERT_DAYS,
        "usage_charts": [
            documents_chart("chart-tenant-documents", series, width=480),
            credit_chart("chart-tenant-credit", series, _("Credit balance"), width=480),
        ],
    }


def sparkline_of(values: list[int]) -> SafeString:
    total = sum(values)
    label = ngettext(
        "%(n)s document in the last %(days)s days",
        "%(n)s documents in the last %(days)s days",
        total,
    ) % {"n": total, "days": len(values)}
    return charts.sparkline(values, label)
