"""Browser journey: Otto ticks tenants in the list, previews "register on Peppol", runs it, and
the progress page follows the jobs by itself (htmx polling)."""

from __future__ import annotations

import pytest

from einvoice import quota as ratelimit
from tenants import bulk_actions, mirror
from tenants.models import BulkAction, BulkItem, Tenant
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


def test_the_batch_history_in_dutch_lists_a_batch_and_its_corrections(
    page, screenshot, otto, tmp_path
):
    good = customer(7)
    csv = tmp_path / "klanten.csv"
    csv.write_text(
        "company_name,company_number\n"
        f"{good['description']},{good['company_number']}\n"
        "Typo BV,0403170702\n"
    )
    login(page, "otto")
    page.wait_for_url("**/staff/")
    page.select_option("#language", "nl")
    page.wait_for_function("document.documentElement.lang === 'nl'")
    page.goto("/staff/onboard/csv/")
    page.set_input_files("#id_file", str(csv))
    page.click("form.card button[type=submit]")
    page.wait_for_url("**/staff/onboard/csv/*/")

    page.goto("/staff/tenants/")
    page.click("text=CSV-batches")
    page.wait_for_url("**/staff/onboard/csv/history/")
    row = page.locator("#batch-history tbody tr").first
    assert "klanten.csv" in row.inner_text() and "otto" in row.inner_text()
    assert row.locator('[data-count="rows"]').inner_text() == "2"
    assert row.locator('[data-count="not_sent"]').inner_text() == "2"  # not started yet
    screenshot("history-nl")
    row.get_by_role("link", name="Rijen verbeteren").click()
    page.wait_for_url("**/corrections/?form=1")
    page.click("form.card button[type=submit]")  # no file: the error is under the field
    assert page.locator("#field-file .error").count() == 1
    screenshot("corrections-error-nl")


def test_it_cancels_a_running_bulk_action_from_its_progress_page(
    page, screenshot, otto, acme, globex
):
    action, _plan = bulk_actions.preview(
        "policy", [acme.pk, globex.pk], {"rotation_days": 30}, user=otto
    )
    bulk_actions.start(action, user=otto)
    bulk_actions.run(BulkItem.objects.filter(action=action).order_by("id").first().pk)
    login(page, "otto")
    page.goto(f"/staff/tenants/bulk/{action.pk}/")
    asked, answers = [], iter([False, True])  # first "no", then "yes"

    def answer(dialog) -> None:
        asked.append(dialog.message)
        if next(answers):
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", answer)
    page.click("#bulk-action-cancel")
    assert f"Cancel bulk action #{action.pk}?" in asked[0]
    assert page.locator("#bulk-action-cancel").count() == 1  # dismissed: nothing happened
    assert BulkAction.objects.get().cancelled_at is None
    page.click("#bulk-action-cancel")
    page.wait_for_selector("#bulk-action-cancelled")
    assert (
        "1 of 2 done, 0 failed. 1 cancelled." in page.locator("#bulk-action-summary").inner_text()
    )
    assert page.locator('#bulk-action-status [data-state="cancelled"]').count() == 1
    assert "1 tenant not yet processed is left alone" in page.locator("body").inner_text()
    screenshot("cancelled")
