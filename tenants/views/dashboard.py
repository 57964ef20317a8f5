"""The staff home page: counts that need attention and the latest audit entries."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.access import staff_required
from core.models import AuditEntry
from jobs import dispatcher
from jobs.models import JobState
from tenants.models import PeppolState, Tenant


def _failed_jobs() -> int:
    return sum(m.objects.filter(state=JobState.FAILED).count() for m in dispatcher.MODELS)


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    active = Tenant.objects.active()
    list_url = reverse("tenants:tenant_list")
    ctx = {
        "stats": [
            (_("Tenants"), active.count(), list_url),
            (
                _("Registered on Peppol"),
                active.filter(peppol__registered=True).count(),
                list_url + "?peppol=registered",
            ),
            (
                _("Peppol ID held elsewhere"),
                active.in_peppol_state(PeppolState.HELD_ELSEWHERE).count(),
                list_url + f"?peppol={PeppolState.HELD_ELSEWHERE}",
            ),
            (
                _("Peppol registration failed"),
                active.in_peppol_state(PeppolState.FAILED).count(),
                list_url + f"?peppol={PeppolState.FAILED}",
            ),
            (
                _("Keys due for rotation"),
                active.due_for_rotation().count(),
                list_url + "?due=on",
            ),
        ],
        "failed_jobs": _failed_jobs(),
        "failed_jobs_url": reverse("tenants:jobs") + "?state=failed",
        "recent": AuditEntry.objects.select_related("tenant")[:10],
    }
    return render(request, "tenants/dashboard.html", ctx)
