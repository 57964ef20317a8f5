"""Browser journey: Otto ticks tenants in the list, previews "register on Peppol", runs it, and
the progress page follows the jobs by itself (htmx polling)."""

from __future__ import annotations

import pytest

from einvoice import quota as ratelimit
from tenants import bulk_actions, mirror
from tenants.models import BulkItem, Tenant
from tests.conftest import login
from tests.tenants.jobs.conftest import customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_previews_and_runs_a_bulk_registration(page, screenshot, otto, on_sandbox):
    fleet = [mirror.create_tenant(customer(i), "system") for i in range(4)]
    Tenant.objects.filter(pk=fleet[3].pk).update(test_mode=True)
    ratelimit.reset()
    login(page, "otto")
    page.wait_for_url("**/staff/")
    page.goto("/staff/tenants/")
    for tenant in fleet:
        page.check(f'input[name=tenant][value="{tenant.pk}"]')
    page.select_option("#id_action", "register")
    screenshot("chosen")
    page.click('button:has-text("Preview")')

    page.wait_for_url("**/staff/tenants/bulk/*/")
    summary = page.locator("#bulk-preview-summary").inner_text()
    assert "3 will be registered on Peppol, 1 skipped" in summary
    assert "1 skipped because: test mode" in page.locator(".skip-reasons").inner_text()
    assert BulkItem.objects.count() == 0  # a dry run: nothing queued, nothing sent
    screenshot("preview")
    page.click('button:has-text("Run it for 3 tenants")')

    page.wait_for_selector("#bulk-action-status")
    assert page.locator('#bulk-action-status [data-state="queued"]').count() == 3
    assert page.locator("#bulk-action-status").get_attribute("hx-trigger") == "every 2s"
    # The workers' part, in this process: the page must notice by itself.
    for item in BulkItem.objects.all():
        bulk_actions.run(item.pk)

    page.wait_for_selector("#bulk-action-status:not([hx-trigger])", timeout=30_000)
    assert page.locator('#bulk-action-status [data-state="succeeded"]').count() == 3
    assert "3 of 3 done, 0 failed." in page.locator("#bulk-action-summary").inner_text()
    assert "registered as 0208:" in page.locator("#bulk-action-status").inner_text()
    screenshot("done")


def test_the_list_keeps_the_ticks_and_shows_the_missing_choice_without_javascript(
    browser, live_server, otto, on_sandbox
):
    from tests.conftest import PASSWORD

    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", "otto")
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_url("**/staff/")
        page.goto("/staff/tenants/")
        page.click('button:has-text("Preview")')
        assert "Choose at least one tenant" in page.locator("#id_tenant_error").inner_text()
        assert page.locator("#field-action .error").count() == 1
    finally:
        context.close()
