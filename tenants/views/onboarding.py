"""Staff screens that onboard customers: one (a job followed on its page) or a CSV batch
(every row checked before anything is sent, then one job per valid row)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from accounts.access import admin_required, staff_required
from core.paging import page_query, seek_page
from tenants import checks
from tenants.checks import suggest_free_name
from tenants.forms import BulkUploadForm, CorrectionUploadForm, OnboardForm
from tenants.models.jobs import BulkOnboarding, OnboardingJob
from tenants.onboarding import bulk
from tenants.onboarding import handover as batch_handover
from tenants.onboarding import steps as onboarding
from tenants.views.common import polled_page


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
        values["name"] = suggest_free_name(job.name)
    return values


@staff_required
def onboard(request: HttpRequest) -> HttpResponse:
    again = None
    again_pk = request.GET.get("from", "")
    if again_pk.isascii() and again_pk.isdigit():  # "²".isdigit() too, and int() refuses it
        again = OnboardingJob.objects.filter(pk=int(again_pk)).first()
    form = OnboardForm(request.POST or None, initial=_values_of(again))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = onboarding.start(data, register_peppol=data["register_peppol"], user=request.user)
        except onboarding.AlreadyOnboarding as e:
            # A double submit, or a colleague was quicker: one job per company.
            messages.info(
                request,
                _("%(name)s is already being onboarded: this is that onboarding.")
                % {"name": e.job.name},
            )
            return redirect("tenants:job", e.job.pk)
        messages.success(request, _("Onboarding of %(name)s started.") % {"name": job.name})
        for warning in form.flash_warnings:
            messages.warning(request, warning)
        return redirect("tenants:job", job.pk)
    return render(request, "tenants/jobs/onboard.html", {"form": form, "again": again})


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
def bulk_history(request: HttpRequest) -> HttpResponse:
    """Every CSV batch, newest first: who, when, its rows and what became of them."""
    page = seek_page(
        BulkOnboarding.objects.select_related("created_by", "corrects"),
        request.GET.get("page"),
        ("-created_at", "-pk"),
    )
    bulk.history_counts(page.object_list)
    ctx = {"page": page, "query": page_query(request)}
    return render(request, "tenants/jobs/bulk_history.html", ctx)


@staff_required
def bulk_corrections(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the batch's rows to correct, as a CSV; POST: the corrected rows, checked as a new
    file that corrects this batch."""
    batch = get_object_or_404(BulkOnboarding, pk=pk)
    posted = request.method == "POST"
    form = CorrectionUploadForm(request.POST, request.FILES) if posted else CorrectionUploadForm()
    if posted:
        if form.is_valid():
            try:
                correction = bulk.create_correction(
                    batch, form.cleaned_data["file"], user=request.user
                )
            except bulk.CsvUnreadable as e:
                form.add_error("file", str(e))
            else:
                return redirect("tenants:bulk", correction.pk)
        ctx = {"batch": batch, "form": form}
        return render(request, "tenants/jobs/bulk_corrections.html", ctx, status=400)
    if request.GET.get("form"):
        return render(request, "tenants/jobs/bulk_corrections.html", {"batch": batch, "form": form})
    response = HttpResponse(bulk.corrections_csv(batch), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="onboarding-{batch.pk}-to-correct.csv"'
    return response


@staff_required
def bulk_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(bulk.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="onboarding-template.csv"'
    return response


@staff_required
def bulk_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(BulkOnboarding, pk=pk)
    jobs = {j.row_number: j for j in batch.jobs.all()}
    elsewhere = OnboardingJob.objects.in_bulk(
        [r["onboarding_job"] for r in batch.rows if r.get("onboarding_job")]
    )
    rows = []
    for r in batch.rows:
        # Errors and the Peppol verdict are stored as codes: worded here for this reader.
        errors = bulk.row_errors(r)
        peppol = r.get("peppol")
        rows.append(
            {
                **r,
                "errors": errors,
                "peppol": {**peppol, "text": checks.verdict_text(peppol)} if peppol else None,
                "job": jobs.get(r["row"]),
                "other_job": elsewhere.get(r.get("onboarding_job")),
                "cells": [
                    {"value": r["data"].get(bulk.FIELD_OF[c], ""), "errors": errors.get(c, [])}
                    for c in bulk.COLUMNS
                ],
            }
        )
    if not batch.started_at:
        # Before the start, the rows to fix come first (a long file hides them otherwise).
        rows.sort(key=lambda r: not r["errors"])
    progress = bulk.progress(batch)
    handovers = _handovers(batch)
    ctx = {
        "batch": batch,
        "rows": rows,
        "columns": bulk.COLUMNS,
        "progress": progress,
        "handovers": handovers,
        # The page refreshes itself while rows onboard or a hand-over is being sent.
        "polling": not progress["finished"] or any(h["job"].is_active for h in handovers),
        "valid_count": len(batch.valid_rows),
        "invalid_count": len(batch.invalid_rows),
    }
    return polled_page(request, "bulk", ctx)


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
    batch.refresh_from_db()
    elsewhere = sum(1 for r in batch.rows if r.get("onboarding_job"))
    if elsewhere:
        messages.warning(
            request,
            ngettext(
                "%(n)s row is already being onboarded by another job: it was not sent again.",
                "%(n)s rows are already being onboarded by other jobs: they were not sent again.",
                elsewhere,
            )
            % {"n": elsewhere},
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


# --- handing over access to a batch's customers ----------------------------------------------
class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=gettext_lazy("Language of the emails"), choices=settings.LANGUAGES
    )


def _handover_page(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """GET: what would be sent, and the button (no JavaScript needed); POST: queue it."""
    batch = get_object_or_404(BulkOnboarding, pk=pk)
    form = LanguageForm(request.POST or None, initial={"language": request.LANGUAGE_CODE})
    if request.method == "POST" and form.is_valid():
        _job, started = batch_handover.start(
            batch, action, form.cleaned_data["language"], by=request.user
        )
        if started:
            messages.success(
                request, _("Sending in the background: this page shows the outcome when done.")
            )
        else:
            messages.info(request, _("These are being sent already: this page shows the outcome."))
        return redirect("tenants:bulk", batch.pk)
    plan = bulk.handover_plan(batch, action)
    ctx = {"batch": batch, "form": form, "action": action, "plan": plan}
    return render(request, "tenants/jobs/bulk_handover.html", ctx)


def handover_report(action: str, counts: dict[str, int]) -> tuple[str, str]:
    """What a finished "Invite all" / "Send key links to all" did: (summary, problem)."""
    sent = counts.get(bulk.DONE, 0)
    if action == bulk.INVITE:
        text = ngettext("%(n)s invited", "%(n)s invited", sent)
    else:
        text = ngettext("%(n)s key link sent", "%(n)s key links sent", sent)
    parts = [text % {"n": sent}]
    reasons = {
        bulk.NO_EMAIL: _("no email"),
        bulk.EXISTS: _("login exists already"),
        bulk.REFUSED: _("no key the portal holds"),
        bulk.NOT_ONBOARDED: _("not onboarded"),
    }
    for reason, label in reasons.items():
        if counts.get(reason):
            parts.append(
                ngettext("%(n)s skipped: %(why)s", "%(n)s skipped: %(why)s", counts[reason])
                % {"n": counts[reason], "why": label}
            )
    if counts.get("before"):
        parts.append(
            ngettext("%(n)s sent before", "%(n)s sent before", counts["before"])
            % {"n": counts["before"]}
        )
    problem = ""
    if counts.get(bulk.FAILED):
        problem = ngettext(
            "%(n)s email could not be sent: see the results file, and resend it from the "
            "tenant's page.",
            "%(n)s emails could not be sent: see the results file, and resend them from "
            "the tenants' pages.",
            counts[bulk.FAILED],
        ) % {"n": counts[bulk.FAILED]}
    return ", ".join(parts), problem


def _handovers(batch: BulkOnboarding) -> list[dict]:
    """The batch's last "Invite all" and "Send key links to all": running, or what they did."""
    shown = []
    for action in (bulk.INVITE, bulk.KEY_LINK):
        job = batch_handover.last_job(batch, action)
        if job is None:
            continue
        summary, problem = handover_report(action, job.counts) if job.counts else ("", "")
        shown.append({"action": action, "job": job, "summary": summary, "problem": problem})
    return shown


@staff_required
def bulk_invite(request: HttpRequest, pk: int) -> HttpResponse:
    return _handover_page(request, pk, bulk.INVITE)


@admin_required  # it hands out keys, like the single hand-over
def bulk_key_links(request: HttpRequest, pk: int) -> HttpResponse:
    return _handover_page(request, pk, bulk.KEY_LINK)
