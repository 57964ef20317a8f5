"""Staff screens of the onboarding jobs: the list, a job's page that follows its steps live
(htmx polling partial, with a plain link as fallback), and the retry of a failed job."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import staff_required
from core import texts
from core.paging import seek_page
from jobs.models import JobState
from tenants.forms import OnboardForm
from tenants.models.jobs import STEP_ORDER, OnboardingJob, OnboardingStep
from tenants.onboarding import steps as onboarding
from tenants.views.common import polled_page


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
        (str(fields[f].label) if f in fields else f, [texts.render(m) for m in messages])
        for f, messages in job.field_errors.items()
    ]


@staff_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(OnboardingJob.objects.select_related("tenant", "api_key"), pk=pk)
    ctx = {
        "job": job,
        "steps": _steps(job),
        "field_errors": _field_errors(job),
        "tenant_url": reverse("tenants:tenant_detail", args=[job.tenant_id])
        if job.tenant_id
        else "",
    }
    return polled_page(request, "job", ctx)


@staff_required
@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(OnboardingJob, pk=pk)
    try:
        retried = onboarding.retry(job, user=request.user)
    except onboarding.AlreadyOnboarding as e:
        messages.info(
            request,
            _("%(name)s is already being onboarded: this is that onboarding.")
            % {"name": e.job.name},
        )
        return redirect("tenants:job", e.job.pk)
    if retried:
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
    page = seek_page(jobs, request.GET.get("page"), ("-created_at", "-pk"))
    query = urlencode({"state": state}) if state else ""
    ctx = {"page": page, "query": query, "state": state, "states": JobState.choices}
    return render(request, "tenants/jobs/jobs.html", ctx)
