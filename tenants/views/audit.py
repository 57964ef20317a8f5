"""Staff screens of the audit log: the filtered list and its CSV export (itself audited)."""

from __future__ import annotations

import csv
import json
from datetime import datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import timezone

from accounts.access import staff_required
from core import audit
from core.models import AuditEntry
from core.spreadsheet import safe_row
from tenants.forms import AuditFilterForm
from tenants.views.common import list_page, valid_filters


def _audit_queryset(form: AuditFilterForm) -> QuerySet:
    qs = AuditEntry.objects.select_related("tenant").order_by("-sequence")
    data = valid_filters(form)
    if data.get("actor"):
        qs = qs.filter(actor__icontains=data["actor"])
    if data.get("action"):
        qs = qs.filter(action=data["action"])
    if data.get("tenant"):
        qs = qs.filter(
            Q(tenant__name__icontains=data["tenant"]) | Q(target__icontains=data["tenant"])
        )
    if data.get("outcome"):
        qs = qs.filter(outcome=data["outcome"])
    tz = timezone.get_current_timezone()
    if data.get("date_from"):
        qs = qs.filter(created_at__gte=datetime.combine(data["date_from"], time.min, tz))
    if data.get("date_to"):
        end = datetime.combine(data["date_to"], time.min, tz) + timedelta(days=1)
        qs = qs.filter(created_at__lt=end)
    return qs


def _audit_form(request: HttpRequest) -> AuditFilterForm:
    actions = list(
        AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct()
    )
    return AuditFilterForm(request.GET or None, actions=actions)


@staff_required
def audit_list(request: HttpRequest) -> HttpResponse:
    form = _audit_form(request)
    return list_page(
        request,
        form,
        _audit_queryset(form),
        ("-sequence", "-pk"),
        "tenants/audit_list.html",
        "tenants/_audit_results.html",
        "audit-results",
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


AUDIT_COLUMNS = [
    "sequence",
    "time",
    "actor",
    "action",
    "tenant",
    "target",
    "outcome",
    "error",
    "changes",
    "ip",
    "user_agent",
    "prev_hash",
    "hash",
    # The error's code and parameters (core.texts), when it has them: `error` is worded in
    # the downloader's language, these are what the hash covers.
    "error_code",
    "error_params",
]


@staff_required
def audit_export(request: HttpRequest) -> HttpResponse:
    form = _audit_form(request)
    qs = _audit_queryset(form)
    used = {k: v for k, v in valid_filters(form).items() if v not in ("", None)}
    audit.record(
        "audit.export",
        target=", ".join(f"{k}={v}" for k, v in used.items())[:200] or "all",
        user=request.user,
        request=request,
    )
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(AUDIT_COLUMNS)
        for e in qs.iterator(chunk_size=2000):
            yield writer.writerow(
                safe_row(
                    (
                        e.sequence,
                        # The time the screens show (with its UTC offset).
                        timezone.localtime(e.created_at).isoformat(),
                        e.actor,
                        e.action,
                        e.tenant.name if e.tenant_id and e.tenant else "",
                        e.target,
                        e.outcome,
                        e.error_text,
                        json.dumps(e.changes, ensure_ascii=False, sort_keys=True),
                        e.ip,
                        e.user_agent,
                        e.prev_hash,
                        e.hash,
                        e.error_code,
                        json.dumps(e.error_params, ensure_ascii=False, sort_keys=True)
                        if e.error_code
                        else "",
                    )
                )
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response


@staff_required
def audit_checkpoint(request: HttpRequest) -> JsonResponse:
    """A signed checkpoint of the chain head now, to keep outside the portal:
    `manage.py verify_audit_log --checkpoint FILE` holds the log against it later."""
    point = audit.head_checkpoint()
    audit.record(
        "audit.checkpoint", target=f"#{point.sequence}", actor=request.user, request=request
    )
    response = JsonResponse(point.as_dict())
    response["Content-Disposition"] = (
        f'attachment; filename="audit-checkpoint-{point.sequence}.json"'
    )
    return response
