"""Staff screens of the workers: onboard one customer, a CSV batch, the jobs list and a job
page that follows its steps live (htmx polling partial, with a plain link as fallback), key
rotation, the mirror reconciliation report; and the customer's one-time key reveal page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import admin_required, customer_required, staff_required
from tenants import services
from tenants.jobs import bulk, onboarding, reconcile, rotation
from tenants.jobs.forms import BulkUploadForm, OnboardForm, RotationPolicyForm
from tenants.models import Tenant
from tenants.models.jobs import (
    STEP_ORDER,
    BulkOnboarding,
    JobState,
    KeyRotation,
    OnboardingJob,
    OnboardingStep,
    ReconcileReport,
)

# Each polled page and the partial its htmx polling swaps (the page includes the partial).
PARTIALS = {
    "job": "_job_status",
    "bulk": "_bulk_status",
    "tenant_rotation": "_rotation_status",
    "sync": "_sync_report",
}


def _page(request: HttpRequest, name: str, ctx: dict) -> HttpResponse:
    """The whole page, or for htmx's polling only the part that changes."""
    template = PARTIALS[name] if request.htmx else name
    return render(request, f"tenants/jobs/{template}.html", ctx)


def tenant_url(tenant: Tenant | None) -> str:
    """The tenant's staff page, when the mirror screens provide one."""
    if tenant is None:
        return ""
    try:
        return reverse("tenants:tenant_detail", args=[tenant.pk])
    except NoReverseMatch:
        return ""


# --- one onboarding --------------------------------------------------------------------------
def _values_of(job: OnboardingJob | None) -> dict:
    """A failed job's values for the form, with a free name if its name was the problem."""
    if job is None:
        return {}
    values = {
        **job.tenant_fields,
        "test_mode": job.test_mode,
        "register_peppol": job.register_peppol,
    }
    if "name" in job.field_errors:
        values["name"] = services.suggest_free_name(job.name)
    return values


@staff_required
def onboard(request: HttpRequest) -> HttpResponse:
    again = None
    if str(request.GET.get("from", "")).isdigit():
        again = OnboardingJob.objects.filter(pk=int(request.GET["from"])).first()
    form = OnboardForm(request.POST or None, initial=_values_of(again))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        job = onboarding.start(data, register_peppol=data["register_peppol"], user=request.user)
        messages.success(request, _("Onboarding of %(name)s started.") % {"name": job.name})
        for warning in form.flash_warnings:
            messages.warning(request, warning)
        return redirect("tenants:job", job.pk)
    return render(request, "tenants/jobs/onboard.html", {"form": form, "again": again})


def _steps(job: OnboardingJob) -> list[dict]:
    current = STEP_ORDER.index(OnboardingStep(job.step))
    steps = []
    for index, step in enumerate(STEP_ORDER[:-1]):
        if index < current:
            status = "succeeded"
            if step == OnboardingStep.REGISTER_PEPPOL and job.peppol_skipped:
                status = "skipped"
        elif index == current:
            status = job.state
        else:
            status = "pending"
        steps.append({"label": step.label, "status": status})
    return steps


def _field_errors(job: OnboardingJob) -> list[tuple[str, list[str]]]:
    """The job's field errors under the labels of the onboarding form."""
    fields = OnboardForm.base_fields
    return [
        (str(fields[f].label) if f in fields else f, messages)
        for f, messages in job.field_errors.items()
    ]


@staff_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(OnboardingJob.objects.select_related("tenant", "api_key"), pk=pk)
    ctx = {
        "job": job,
        "steps": _steps(job),
        "field_errors": _field_errors(job),
        "tenant_url": tenant_url(job.tenant),
    }
    return _page(request, "job", ctx)


@staff_required
@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(OnboardingJob, pk=pk)
    if onboarding.retry(job, user=request.user):
        messages.success(request, _("The job was queued again; it resumes at its failed step."))
    else:
        messages.warning(request, _("Only a failed job can be retried."))
    return redirect("tenants:job", job.pk)


@staff_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = OnboardingJob.objects.select_related("tenant")
    state = request.GET.get("state", "")
    if state in JobState.values:
        jobs = jobs.filter(state=state)
    else:
        state = ""
    page = Paginator(jobs, 50).get_page(request.GET.get("page"))
    ctx = {"page": page, "state": state, "states": JobState.choices}
    return render(request, "tenants/jobs/jobs.html", ctx)


# --- CSV ------------------------------------------------------------------------------------
@staff_required
def bulk_upload(request: HttpRequest) -> HttpResponse:
    form = BulkUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            batch = bulk.create_batch(
                form.cleaned_data["file"],
                register_peppol=form.cleaned_data["register_peppol"],
                user=request.user,
            )
        except bulk.CsvUnreadable as e:
            form.add_error("file", str(e))
        else:
            return redirect("tenants:bulk", batch.pk)
    ctx = {"form": form, "columns": bulk.COLUMNS, "batches": BulkOnboarding.objects.all()[:10]}
    return render(request, "tenants/jobs/bulk_upload.html", ctx)


@staff_required
def bulk_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(bulk.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="onboarding-template.csv"'
    return response


@staff_required
def bulk_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(BulkOnboarding, pk=pk)
    jobs = {j.row_number: j for j in batch.jobs.all()}
    rows = [
        {
            **r,
            "job": jobs.get(r["row"]),
            "cells": [
                {"value": r["data"].get(bulk.FIELD_OF[c], ""), "errors": r["errors"].get(c, [])}
                for c in bulk.COLUMNS
            ],
        }
        for r in batch.rows
    ]
    if not batch.started_at:
        # Before the start, the rows to fix come first (a long file hides them otherwise).
        rows.sort(key=lambda r: not r["errors"])
    ctx = {
        "batch": batch,
        "rows": rows,
        "columns": bulk.COLUMNS,
        "progress": bulk.progress(batch),
        "valid_count": len(batch.valid_rows),
        "invalid_count": len(batch.invalid_rows),
    }
    return _page(request, "bulk", ctx)


@staff_required
@require_POST
def bulk_start(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(BulkOnboarding, pk=pk)
    started = bulk.start(batch, user=request.user)
    if started:
        messages.success(
            request,
            ngettext("%(n)s onboarding was queued.", "%(n)s onboardings were queued.", started)
            % {"n": started},
        )
    return redirect("tenants:bulk", batch.pk)


@staff_required
@require_POST
def bulk_retry(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(BulkOnboarding, pk=pk)
    retried, need_changes = bulk.retry_failed(batch, user=request.user)
    if retried:
        messages.success(
            request,
            ngettext(
                "%(n)s failed row was queued again.",
                "%(n)s failed rows were queued again.",
                retried,
            )
            % {"n": retried},
        )
    if need_changes:
        messages.warning(
            request,
            ngettext(
                "%(n)s row needs other values (see its details): retrying it as it is would "
                "fail again.",
                "%(n)s rows need other values (see their details): retrying them as they are "
                "would fail again.",
                need_changes,
            )
            % {"n": need_changes},
        )
    return redirect("tenants:bulk", batch.pk)


@staff_required
def bulk_results(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(BulkOnboarding, pk=pk)
    response = HttpResponse(bulk.results_csv(batch), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="onboarding-{batch.pk}-results.csv"'
    return response


# --- key rotation -----------------------------------------------------------------------------
def _with_link_counts(rotations):
    """Each rotation with how many reveal links it mailed and how many were opened."""
    # An aggregate drops Meta.ordering: newest first again (the page reads the first as active).
    return rotations.annotate(
        links_sent=Count("links"),
        links_opened=Count("links", filter=Q(links__used_at__isnull=False)),
    ).order_by("-created_at", "-id")


@staff_required
def rotations(request: HttpRequest) -> HttpResponse:
    page = Paginator(_with_link_counts(KeyRotation.objects.select_related("tenant")), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "tenants/jobs/rotations.html", {"page": page})


@staff_required
def tenant_rotation(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_object_or_404(Tenant, pk=pk)
    form = RotationPolicyForm(request.POST or None, initial={"rotation_days": tenant.rotation_days})
    if request.method == "POST":
        if not request.user.is_reseller_admin:
            raise PermissionDenied
        if form.is_valid():
            rotation.set_policy(tenant, form.cleaned_data["rotation_days"], user=request.user)
            messages.success(request, _("Rotation policy saved."))
            return redirect("tenants:tenant_rotation", tenant.pk)
    ctx = {
        "tenant": tenant,
        "form": form,
        "rotations": _with_link_counts(tenant.rotations.all())[:20],
        "customer_emails": tenant.users.filter(is_active=True).exclude(email="").count(),
        "due_at": rotation.due_at(tenant),
        "tenant_url": tenant_url(tenant),
    }
    return _page(request, "tenant_rotation", ctx)


@admin_required
@require_POST
def rotate_now(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_object_or_404(Tenant, pk=pk)
    try:
        rotation.start(tenant, reason=KeyRotation.REASON_MANUAL, user=request.user)
    except rotation.RotationRefused as e:
        messages.error(request, str(e))
    else:
        messages.success(request, _("Key rotation started."))
    return redirect("tenants:tenant_rotation", tenant.pk)


@never_cache
@customer_required
def key_reveal(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's one-time view of a rotated key (the link from the email)."""
    result = rotation.open_reveal_link(token, request.user, request)
    return render(
        request,
        "tenants/jobs/key_reveal.html",
        {"result": result},
        status=200 if result.ok else 410 if result.gone else 404,
    )


# --- reconciliation ---------------------------------------------------------------------------
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
    ctx = {"report": report, "items": _sync_items(report)}
    return _page(request, "sync", ctx)


@staff_required
@require_POST
def sync_run(request: HttpRequest) -> HttpResponse:
    reconcile.start(user=request.user)
    messages.success(request, _("Comparison with e-invoice.be started."))
    return redirect("tenants:sync")


@admin_required
@require_POST
def sync_action(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    report = get_object_or_404(ReconcileReport, pk=pk)
    action = request.POST.get("action", "")
    try:
        done = reconcile.resolve(report, index, action, user=request.user)
    except reconcile.ActionRefused as e:
        messages.error(request, str(e))
    else:
        messages.success(request, done)
    return redirect("tenants:sync")
