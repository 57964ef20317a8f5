"""The staff home page: what needs attention today (each a link to the filtered list), the
fleet's usage charts, and the latest audit entries."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import staff_required
from core.models import AuditEntry
from invoices.models import Direction, Document, State
from jobs import dispatcher
from jobs.models import JobState
from tenants.models import PeppolState, Tenant
from usage import fleet, panels

# A FAILED delivery stays on the dashboard this long (the list's `failed` filter).
FAILED_DAYS = 7


def _failed_jobs() -> int:
    return sum(m.objects.filter(state=JobState.FAILED).count() for m in dispatcher.MODELS)


def failed_deliveries() -> int:
    since = timezone.now() - timedelta(days=FAILED_DAYS)
    return Document.objects.filter(
        direction=Direction.OUTBOUND, state=State.FAILED, state_changed_at__gte=since
    ).count()


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    active = Tenant.objects.active()
    list_url = reverse("tenants:tenant_list")
    held = active.in_peppol_state(PeppolState.HELD_ELSEWHERE).count()
    due = active.due_for_rotation().count()
    failed_jobs = _failed_jobs()
    jobs_url = reverse("tenants:jobs") + "?state=failed"
    usage = panels.fleet_panel(panels.chart_days(request.GET.get("days")))
    ctx = {
        "stats": [
            (_("Tenants"), active.count(), list_url),
            (
                _("Registered on Peppol"),
                active.filter(peppol__registered=True).count(),
                list_url + "?peppol=registered",
            ),
            (
                _("Peppol registration failed"),
                active.in_peppol_state(PeppolState.FAILED).count(),
                list_url + f"?peppol={PeppolState.FAILED}",
            ),
        ],
        # What needs me today: (label, count, link to the filtered list).
        "needs": [
            (_("Jobs failed"), failed_jobs, jobs_url),
            (
                _("Deliveries FAILED in the last %(n)s days") % {"n": FAILED_DAYS},
                failed_deliveries(),
                list_url + "?failed=on",
            ),
            (_("Keys overdue for rotation"), due, list_url + "?due=on"),
            (
                _("Peppol IDs held by another access point"),
                held,
                list_url + f"?peppol={PeppolState.HELD_ELSEWHERE}",
            ),
            (
                _("Tenants out of credit within %(n)s days")
                % {"n": settings.USAGE_CREDIT_ALERT_DAYS},
                usage["running_low"],
                list_url + "?credit=low",
            ),
            (
                _("Usage not collected: key missing or refused"),
                fleet.key_problems().count(),
                list_url + "?usage=key_problem",
            ),
        ],
        "failed_jobs": failed_jobs,
        "failed_jobs_url": jobs_url,
        "recent": AuditEntry.objects.select_related("tenant")[:10],
        "fleet_section": usage["fleet_section"],
    }
    return render(request, "tenants/dashboard.html", ctx)
