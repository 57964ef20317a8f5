"""Browser journey: staff onboard a customer from the form and watch the steps advance on
the job page without reloading it (htmx polling)."""

from __future__ import annotations

import pytest

from tenants.jobs import onboarding
from tenants.models.jobs import OnboardingJob
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
    assert status.get_attribute("hx-trigger") == "every 2s"
    assert page.locator('#job-status [data-state="queued"]').count() == 1
    screenshot("queued")

    # The worker's part, in this process: the page must notice by itself.
    onboarding.run(OnboardingJob.objects.get().pk)

    page.wait_for_selector('#job-status [data-state="succeeded"]', timeout=10_000)
    assert page.url == job_url
    assert page.locator('[data-step-status="succeeded"]').count() == 3
    assert "The customer is onboarded." in status.inner_text()
    assert page.locator("#job-status").get_attribute("hx-trigger") is None  # polling stopped
    screenshot("succeeded")
