"""Browser journey: staff onboard a customer from the form and watch the steps advance on
the job page without reloading it (htmx polling)."""

from __future__ import annotations

import pytest

from tenants.models.jobs import OnboardingJob
from tenants.onboarding import steps as onboarding
from tests.conftest import login
from tests.tenants.jobs.conftest import customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_follows_an_onboarding_live(page, screenshot, otto, on_sandbox):
    data = customer(1)
    login(page, "otto")
    page.wait_for_url("**/staff/")
    page.goto("/staff/onboard/")
    page.fill("#id_description", data["description"])
    page.fill("#id_company_number", data["company_number"])
    page.fill("#id_company_tax_id", data["company_tax_id"])
    page.click('button:has-text("Start onboarding")')
    page.wait_for_url("**/staff/jobs/*/")
    job_url = page.url
    status = page.locator("#job-status")
    assert status.get_attribute("hx-trigger") == "every 1s"  # one customer: a few seconds
    assert page.locator('#job-status [data-state="queued"]').count() == 1
    screenshot("queued")

    # The worker's part, in this process: the page must notice by itself.
    onboarding.run(OnboardingJob.objects.get().pk)

    page.wait_for_selector('#job-status [data-state="succeeded"]', timeout=30_000)
    assert page.url == job_url
    assert page.locator('[data-step-status="succeeded"]').count() == 3
    assert "The customer is onboarded." in status.inner_text()
    assert page.locator("#job-status").get_attribute("hx-trigger") is None  # polling stopped
    screenshot("succeeded")


def test_it_checks_a_csv_before_onboarding_its_valid_rows(page, screenshot, tmp_path, otto):
    good = customer(2)
    csv = tmp_path / "customers.csv"
    csv.write_text(
        "company_name,name,country,company_number,vat_number,peppol_id\n"
        f"Good BV,good-bv,BE,{good['company_number']},{good['company_tax_id']},\n"
        "Typo BV,typo-bv,BE,0403170702,,\n"
    )
    login(page, "otto")
    page.wait_for_url("**/staff/")
    page.goto("/staff/onboard/csv/")
    page.set_input_files("#id_file", str(csv))
    page.click('button:has-text("Check the file")')
    page.wait_for_url("**/staff/onboard/csv/*/")

    bad_row = page.locator('tr[data-line="3"]')
    assert "Not a valid Belgian enterprise number" in bad_row.locator("td.has-error").inner_text()
    assert OnboardingJob.objects.count() == 0
    screenshot("checked")

    page.click('button:has-text("Onboard 1 customer")')
    page.wait_for_selector("#bulk-status")
    assert page.locator('#bulk-status tr[data-line="2"] .badge').inner_text() == "queued"
    assert "not sent" in page.locator('#bulk-status tr[data-line="3"]').inner_text()
    assert [j.name for j in OnboardingJob.objects.all()] == ["good-bv"]
    screenshot("started")
