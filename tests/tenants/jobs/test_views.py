"""The job screens: onboarding form, job page (htmx partial), jobs list, CSV batch."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jobs.models import JobState
from tenants import checks
from tenants.models.jobs import BulkOnboarding, OnboardingJob, OnboardingStep
from tenants.onboarding import steps as onboarding
from tests.conftest import after_commit_tasks
from tests.tenants.jobs.conftest import admin_calls, customer, run_until_finished

pytestmark = pytest.mark.django_db


def form_data(**overrides) -> dict:
    data = customer(1)
    data.pop("name")
    return {**data, "register_peppol": "on", **overrides}


def test_it_starts_an_onboarding_from_one_form(client, otto, django_capture_on_commit_callbacks):
    client.force_login(otto)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("tenants:onboard"), form_data())

    job = OnboardingJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("tenants:job", args=[job.pk])
    assert job.name == "customer-1-bv"  # derived from the company name
    assert job.state == JobState.QUEUED and job.register_peppol and job.created_by == otto
    assert len(after_commit_tasks(callbacks)) == 1  # the dispatcher is kicked only after the commit


def test_it_shows_field_errors_and_starts_nothing(client, otto):
    client.force_login(otto)
    response = client.post(reverse("tenants:onboard"), form_data(company_number="0403170702"))

    assert response.status_code == 200
    assert "Not a valid Belgian enterprise number" in response.content.decode()
    assert not OnboardingJob.objects.exists()


def test_it_keeps_customers_out_of_the_job_screens(client, carol):
    client.force_login(carol)
    for name in ("tenants:onboard", "tenants:jobs", "tenants:bulk_upload", "tenants:sync"):
        assert client.get(reverse(name)).status_code == 403


def test_it_polls_the_job_status_until_the_job_ends(client, otto, on_sandbox):
    client.force_login(otto)
    job = onboarding.start(customer(2), register_peppol=True)
    url = reverse("tenants:job", args=[job.pk])

    page = client.get(url).content.decode()
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in page and f'hx-get="{url}"' in page
    assert "<html" not in partial and 'id="job-status"' in partial
    assert f'href="{url}"' in partial  # a plain link does the same without JavaScript

    run_until_finished(job)
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in partial
    assert "The customer is onboarded." in partial
    assert partial.count('data-step-status="succeeded"') == 3


def test_it_retries_a_failed_job_from_its_page(client, otto, on_sandbox):
    client.force_login(otto)
    on_sandbox.set_faults(
        rules=[{"method": "POST", "path": "/api/admin/tenants/*/peppol/register", "status": 409}]
    )
    job = run_until_finished(onboarding.start(customer(3), register_peppol=True))
    page = client.get(reverse("tenants:job", args=[job.pk])).content.decode()
    assert "Retry from the failed step" in page

    client.post(reverse("tenants:job_retry", args=[job.pk]))

    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.step == OnboardingStep.REGISTER_PEPPOL


def test_it_lists_only_failed_jobs_when_asked(client, otto):
    client.force_login(otto)
    ok = onboarding.start(customer(4), register_peppol=False)
    bad = onboarding.start(customer(5), register_peppol=False)
    OnboardingJob.objects.filter(pk=bad.pk).update(state=JobState.FAILED, last_error="boom")

    page = client.get(reverse("tenants:jobs"), {"state": "failed"}).content.decode()

    assert bad.name in page and ok.name not in page


CSV = (
    "company_name,name,country,company_number,vat_number,peppol_id\n"
    "Good One BV,good-one,BE,{good},BE{good},\n"
    "Bad Number BV,bad-number,BE,0403170702,,\n"
    "Good Two BV,good-one,BE,{good2},,\n"
)


def _upload(client, text: str):
    good, good2 = customer(6)["company_number"], customer(7)["company_number"]
    data = text.format(good=good, good2=good2).encode()
    return client.post(
        reverse("tenants:bulk_upload"),
        {"file": SimpleUploadedFile("customers.csv", data, "text/csv"), "register_peppol": "on"},
    )


def test_it_checks_every_csv_row_before_sending_anything(client, otto, on_sandbox):
    client.force_login(otto)
    response = _upload(client, CSV)
    batch = BulkOnboarding.objects.get()
    assert response.url == reverse("tenants:bulk", args=[batch.pk])

    page = client.get(response.url).content.decode()

    assert "Not a valid Belgian enterprise number" in page  # line 3, company_number cell
    assert "Same as line 2 of this file." in page  # line 4 reuses line 2's name
    assert "Onboard 1 customer" in page
    assert not OnboardingJob.objects.exists() and admin_calls(on_sandbox) == []


def test_it_runs_the_valid_rows_and_writes_a_results_file_without_keys(client, otto, on_sandbox):
    client.force_login(otto)
    batch_url = _upload(client, CSV).url
    batch = BulkOnboarding.objects.get()

    client.post(reverse("tenants:bulk_start", args=[batch.pk]))
    client.post(reverse("tenants:bulk_start", args=[batch.pk]))  # a double click starts nothing

    jobs = list(batch.jobs.all())
    assert [j.name for j in jobs] == ["good-one"]
    run_until_finished(jobs[0])
    status = client.get(batch_url, headers={"HX-Request": "true"}).content.decode()
    assert "1 of 1 onboarded, 0 failed." in status and "hx-trigger" not in status

    results = client.get(reverse("tenants:bulk_results", args=[batch.pk]))
    text = results.content.decode()
    assert results["Content-Type"].startswith("text/csv")
    lines = text.strip().splitlines()
    assert lines[0].startswith("line,company_name,name,state")
    assert ",succeeded," in lines[1] and ",yes," in lines[1]
    assert ",invalid," in lines[2] and ",invalid," in lines[3]
    key = OnboardingJob.objects.get(pk=jobs[0].pk).api_key
    assert key.reveal_value() not in text and "einv_" not in text


def test_it_offers_a_template_with_the_documented_columns(client, otto):
    client.force_login(otto)
    text = client.get(reverse("tenants:bulk_template")).content.decode()
    assert text.splitlines()[0] == (
        "company_name,name,country,company_number,vat_number,peppol_id,email"
    )


def test_it_refuses_a_file_with_unknown_columns(client, otto):
    client.force_login(otto)
    response = _upload(client, "company,vat\nAcme,BE0403170701\n")
    assert response.status_code == 200
    assert "Unknown column(s): company, vat." in response.content.decode()
    assert not BulkOnboarding.objects.exists()


def test_it_renders_every_staff_page(client, alice, acme):
    client.force_login(alice)
    for name, args in [
        ("tenants:onboard", []),
        ("tenants:jobs", []),
        ("tenants:bulk_upload", []),
        ("tenants:rotations", []),
        ("tenants:tenant_rotation", [acme.pk]),
        ("tenants:sync", []),
    ]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name
    page = client.get(reverse("tenants:tenant_rotation", args=[acme.pk])).content.decode()
    assert "Rotate now" in page and 'name="rotation_days"' in page


def test_it_offers_a_tenant_page_section(acme):
    from django.template.loader import render_to_string

    job = onboarding.start(customer(8), register_peppol=False)
    OnboardingJob.objects.filter(pk=job.pk).update(tenant=acme)
    html = render_to_string("tenants/jobs/_tenant_jobs.html", {"tenant": acme})
    assert reverse("tenants:job", args=[job.pk]) in html
    assert reverse("tenants:tenant_rotation", args=[acme.pk]) in html


def test_it_lets_only_admins_change_the_rotation_policy(client, alice, otto, acme):
    url = reverse("tenants:tenant_rotation", args=[acme.pk])
    client.force_login(otto)
    assert client.post(url, {"rotation_days": "30"}).status_code == 403
    client.force_login(alice)
    assert client.post(url, {"rotation_days": "0"}).status_code == 200  # field error
    client.post(url, {"rotation_days": "30"})
    acme.refresh_from_db()
    assert acme.rotation_days == 30


# --- what QA found ---------------------------------------------------------------------------
def test_it_offers_to_onboard_again_when_the_values_were_the_problem(client, otto, on_sandbox):
    on_sandbox.create_tenant_with_key("customer-0020", company_number="0403170701")
    job = run_until_finished(onboarding.start(customer(20), register_peppol=True))
    client.force_login(otto)

    page = client.get(reverse("tenants:job", args=[job.pk])).content.decode()

    # A retry would fail the same way: it is not offered; the form with the values is.
    assert "Retry from the failed step" not in page
    again = reverse("tenants:onboard") + f"?from={job.pk}"
    assert f'href="{again}"' in page
    assert "<strong>Tenant name</strong>" in page  # the form's label, not the field's name
    form = client.get(again).content.decode()
    suggestion = checks.suggest_free_name(job.name)
    assert suggestion != job.name and f'value="{suggestion}"' in form  # a free name instead
    assert f'value="{job.company_number}"' in form and 'value="Customer 20 BV"' in form


def test_it_says_when_the_peppol_step_was_skipped(client, otto, on_sandbox):
    job = run_until_finished(onboarding.start(customer(21, test_mode=True), register_peppol=True))
    client.force_login(otto)
    page = client.get(reverse("tenants:job", args=[job.pk])).content.decode()
    assert 'data-step-status="skipped"' in page and "(skipped: test mode)" in page
    assert page.count('data-step-status="succeeded"') == 2


def test_it_says_when_a_jobs_worker_stopped(client, otto):
    from datetime import timedelta

    from django.utils import timezone

    job = onboarding.start(customer(22), register_peppol=True)
    OnboardingJob.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, lease_until=timezone.now() - timedelta(seconds=1)
    )
    client.force_login(otto)
    page = client.get(reverse("tenants:job", args=[job.pk])).content.decode()
    assert "The worker running this step stopped" in page


def test_it_checks_onboarding_input_like_the_new_tenant_form(client, otto, acme):
    client.force_login(otto)
    page = client.get(reverse("tenants:onboard")).content.decode()
    assert f'hx-get="{reverse("tenants:tenant_suggest")}"' in page  # live checks per field

    # "a.c.m.e" is the same name as "acme" for e-invoice.be: refused before anything is sent.
    response = client.post(reverse("tenants:onboard"), form_data(name="a.c.m.e"))
    assert "is taken by the tenant acme" in response.content.decode()
    assert not OnboardingJob.objects.exists()


def test_it_lists_the_rows_to_fix_first_and_counts_in_words(client, otto, acme, on_sandbox):
    client.force_login(otto)
    good, other = customer(23)["company_number"], customer(24)["company_number"]
    text = (
        "company_name,name,country,company_number,vat_number,peppol_id\n"
        f"Good BV,good-bv,BE,{good},,\n"
        f"Other BV,other-bv,BE,{other},,\n"
        "Acme Again BV,a.c.m.e,BE,,,\n"
    )
    upload = SimpleUploadedFile("c.csv", text.encode(), "text/csv")
    url = client.post(reverse("tenants:bulk_upload"), {"file": upload}).url
    page = client.get(url).content.decode()

    lines = [int(n) for n in __import__("re").findall(r'data-line="(\d+)"', page)]
    assert lines == [4, 2, 3]
    assert "The tenant acme already has this name" in page

    batch = BulkOnboarding.objects.get()
    response = client.post(reverse("tenants:bulk_start", args=[batch.pk]), follow=True)
    assert "2 onboardings were queued." in response.content.decode()


def test_it_retries_only_the_failed_rows_a_retry_can_fix(client, otto, on_sandbox):
    client.force_login(otto)
    batch = BulkOnboarding.objects.create(file_name="x.csv", rows=[])
    fixable = onboarding.start(customer(25), register_peppol=True, batch=batch, row_number=2)
    taken = onboarding.start(customer(26), register_peppol=True, batch=batch, row_number=3)
    OnboardingJob.objects.filter(pk=fixable.pk).update(state=JobState.FAILED, last_error="503")
    OnboardingJob.objects.filter(pk=taken.pk).update(
        state=JobState.FAILED, field_errors={"name": ["This name is taken by another company."]}
    )

    response = client.post(reverse("tenants:bulk_retry", args=[batch.pk]), follow=True)

    page = response.content.decode()
    assert "1 failed row was queued again." in page and "1 row needs other values" in page
    assert OnboardingJob.objects.get(pk=fixable.pk).state == JobState.QUEUED
    assert OnboardingJob.objects.get(pk=taken.pk).state == JobState.FAILED


def test_it_keeps_job_screens_for_staff_and_the_reveal_page_for_customers(client, carol, alice):
    from django.urls import URLPattern

    from tenants import urls as tenant_urls

    urls = []
    for pattern in tenant_urls.job_patterns:
        assert isinstance(pattern, URLPattern)
        args = [1, 0][: str(pattern.pattern).count("<int:")]
        urls.append(reverse(f"tenants:{pattern.name}", args=args))
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(carol)
    for url in urls:
        assert client.get(url).status_code == 403, url
        assert client.post(url).status_code == 403, url
    reveal = reverse("keys:reveal", args=["not-a-token"])
    assert reveal.startswith("/keys/") and client.get(reveal).status_code == 404
    client.force_login(alice)
    assert client.get(reveal).status_code == 403
