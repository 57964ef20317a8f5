"""Staff screens of the mirror reconciliation: the latest report (live while it runs), a new
comparison with e-invoice.be, and the action that resolves one item."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import admin_required, staff_required
from tenants import reconcile
from tenants.models import Tenant
from tenants.models.jobs import ReconcileReport
from tenants.views.common import confirm_page, polled_page


def _sync_items(report: ReconcileReport | None) -> list[dict]:
    """The report's items as the page shows them: field labels, tenant links, outcomes."""
    if report is None:
        return []
    local = dict(
        Tenant.objects.filter(remote_id__in=[i["remote_id"] for i in report.items]).values_list(
            "remote_id", "pk"
        )
    )
    return [
        {
            **item,
            "index": index,
            "tenant_url": reverse("tenants:tenant_detail", args=[local[item["remote_id"]]])
            if item["remote_id"] in local
            else "",
            "diff_rows": [
                (reconcile.FIELD_LABELS.get(field, field), pair[0], pair[1])
                for field, pair in item.get("diffs", {}).items()
            ],
            "resolved_label": reconcile.RESOLVED_LABELS.get(item.get("resolved", ""), ""),
        }
        for index, item in enumerate(report.items)
    ]


@staff_required
def sync(request: HttpRequest) -> HttpResponse:
    report = ReconcileReport.objects.first()
    ctx = {
        "report": report,
        "items": _sync_items(report) if report and report.state != report.STATE_RUNNING else [],
        "share_percent": round(float(settings.SYNC_QUOTA_SHARE) * 100),
    }
    return polled_page(request, "sync", ctx)


@staff_required
@require_POST
def sync_run(request: HttpRequest) -> HttpResponse:
    reconcile.start(user=request.user)
    messages.success(request, _("Comparison with e-invoice.be started."))
    return redirect("tenants:sync")


@admin_required
@require_http_methods(["GET", "POST"])
def sync_action(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    report = get_object_or_404(ReconcileReport, pk=pk)
    if request.method == "GET":  # "Mark deleted" without JavaScript: ask first (issue 17)
        if request.GET.get("action") != "mark_deleted" or index >= len(report.items):
            return redirect("tenants:sync")
        question = _("Mark %(name)s deleted in the portal? e-invoice.be does not know it any more.")
        return confirm_page(
            request,
            question % {"name": report.items[index].get("name", "")},
            _("Mark deleted"),
            reverse("tenants:sync"),
            fields=[("action", "mark_deleted")],
        )
    action = request.POST.get("action", "")
    try:
        done = reconcile.resolve(report, index, action, user=request.user)
    except reconcile.ActionRefused as e:
        messages.error(request, str(e))
    else:
        messages.success(request, done)
    return redirect("tenants:sync")
