"""Destructive job actions ask first, with and without JavaScript (issue 17): "Rotate now" on a
tenant's rotation page and "Mark deleted" on the Sync page. Without JavaScript their button
opens a confirmation page; with it a confirm() dialog asks and the action then runs at once.
Job pages reload themselves without JavaScript while the job runs."""

import pytest

from tenants import reconcile
from tenants.models import Tenant
from tenants.models.jobs import KeyRotation, OnboardingJob
from tenants.onboarding import steps as onboarding
from tests.conftest import PASSWORD, login, make_tenant
from tests.tenants.jobs.conftest import customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_js(browser, live_server, alice):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url("**/staff/")
    yield page
    context.close()


def test_it_confirms_rotate_now_without_javascript(no_js, acme):
    no_js.goto(f"/staff/tenants/{acme.pk}/rotation/")
    no_js.click("button:has-text('Rotate now')")
    no_js.wait_for_url(f"**/staff/tenants/{acme.pk}/rotate/?")
    assert "Create a new key now?" in no_js.inner_text("h1")
    assert KeyRotation.objects.count() == 0
    no_js.click("#confirm-button")
    no_js.wait_for_url(f"**/staff/tenants/{acme.pk}/rotation/")
    assert KeyRotation.objects.count() == 1
    assert "Key rotation started." in no_js.content()
    # While it runs the page reloads itself (no htmx polling without JavaScript).
    assert 'http-equiv="refresh"' in no_js.content()


def test_it_confirms_mark_deleted_without_javascript(no_js, on_sandbox, alice):
    make_tenant("ghost", "Ghost BV", "0417497106")  # only in the portal
    report = reconcile.start(user=alice)
    reconcile.run(report.pk)
    no_js.goto("/staff/sync/")
    no_js.click("button:has-text('Mark deleted')")
    assert "Mark ghost deleted in the portal?" in no_js.inner_text("h1")
    assert not Tenant.objects.get(name="ghost").is_deleted
    no_js.click("#confirm-button")
    no_js.wait_for_url("**/staff/sync/")
    assert Tenant.objects.get(name="ghost").is_deleted


def test_it_confirms_rotate_now_with_javascript(page, alice, acme):
    login(page, "alice")
    page.wait_for_url("**/staff/")
    page.goto(f"/staff/tenants/{acme.pk}/rotation/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button:has-text('Rotate now')")
    assert KeyRotation.objects.count() == 0
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Rotate now')")
    page.wait_for_selector("text=Key rotation started.")
    assert page.url.endswith(f"/staff/tenants/{acme.pk}/rotation/")  # no confirmation page
    assert KeyRotation.objects.count() == 1


def test_it_reloads_a_running_job_page_without_javascript(no_js, on_sandbox):
    job = onboarding.start(customer(1), register_peppol=False)
    no_js.goto(f"/staff/jobs/{job.pk}/")
    assert 'http-equiv="refresh"' in no_js.content()
    assert "This page updates itself every few seconds." in no_js.inner_text("#job-status")
    onboarding.run(job.pk)
    assert OnboardingJob.objects.get(pk=job.pk).state == "succeeded"
    no_js.wait_for_selector('#job-status [data-state="succeeded"]', timeout=30_000)
    assert 'http-equiv="refresh"' not in no_js.content()  # finished: it stops
