"""Browser journey: the dashboard and a tenant page with their usage charts, in English and
in Dutch, after a collection against the sandbox (screenshots in artifacts/screenshots/)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import login
from tests.usage.conftest import fleet_on_sandbox, utc_today
from usage import collect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _varied_usage(sandbox, made) -> None:
    """A month that looks like one: weekdays busier than weekends, one tenant nearly out."""
    for i, (_tenant, remote) in enumerate(made):
        days = []
        for n in range(10, 60):
            day = utc_today() - timedelta(days=n)
            busy = day.weekday() < 5
            days.append({"day": day, "sent": (i + 2) * busy + n % 3, "received": i % 3 + busy})
        sandbox.add_usage(remote["id"], days, credit_balance=12 if i == 0 else None)


def test_the_dashboard_and_a_tenant_page_show_their_charts_in_english_and_dutch(
    page, screenshot, usage_sandbox, alice
):
    made = fleet_on_sandbox(usage_sandbox, 8, prefix="klant")
    _varied_usage(usage_sandbox, made)
    usage_sandbox.register(made[1][1]["id"], "0208:0403170701", "Acme BV")
    assert collect.collect_due() == 8

    login(page, "alice")
    page.wait_for_url("**/staff/")
    assert page.locator("#chart-documents").is_visible()
    assert "Documents per day" in page.locator("#chart-documents-t").text_content()
    needs = page.locator(".needs")
    assert "Tenants out of credit within 14 days" in needs.inner_text()
    page.get_by_text("Show the figures").first.click()
    assert page.locator("#chart-documents-h ~ details table tbody tr").count() == 30
    screenshot("dashboard-en")
    page.goto("/staff/?days=90")
    screenshot("dashboard-90-en")

    tenant = made[0][0]
    page.goto(f"/staff/tenants/{tenant.pk}/")
    assert page.locator("#chart-tenant-documents").is_visible()
    assert "runs out of credit" in page.locator("#usage").inner_text()
    screenshot("tenant-en")

    page.select_option("#language", "nl")
    page.wait_for_function("document.documentElement.lang === 'nl'")
    assert "Gebruik en krediet" in page.locator("#usage").inner_text()
    screenshot("tenant-nl")
    page.goto("/staff/")
    assert "Wat vandaag uw aandacht vraagt" in page.inner_text("main")
    assert "Documenten per dag" in page.locator("#chart-documents-t").text_content()
    screenshot("dashboard-nl")
    page.goto("/staff/tenants/?q=klant")
    assert page.locator("svg.spark").count() == 8
    screenshot("tenant-list-nl")
