"""Browser journeys: an admin connects the reseller's system (endpoint, secret shown once,
Send test, delivery log); a customer turns off the emails about failed documents."""

import pytest

from notifications import preferences
from notifications.models import WebhookEndpoint
from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_connects_a_webhook_endpoint_and_sends_a_test(page, screenshot, alice, receiver):
    from playwright.sync_api import expect

    login(page, "alice")
    page.wait_for_url("**/staff/")
    page.get_by_role("link", name="Notifications").click()
    expect(page.locator("h1")).to_have_text("Notifications")
    page.get_by_role("link", name="Webhook endpoints").click()
    page.fill("input[name=url]", receiver.url)
    page.fill("input[name=description]", "Our ERP")
    page.get_by_role("button", name="Add").click()
    expect(page.locator("h1")).to_have_text("Signing secret")
    secret = page.locator("#secret").inner_text()
    assert secret == WebhookEndpoint.objects.get().reveal_secret()
    screenshot("secret")
    receiver.secret = secret

    page.get_by_role("link", name="Done").click()
    page.get_by_role("button", name="Send test").click()
    expect(page.locator(".messages")).to_contain_text("The test event was delivered")
    expect(page.locator("tr[data-state=succeeded]")).to_have_count(1)
    screenshot("delivery-log")
    [hook] = receiver.received
    assert hook.verified and hook.event["type"] == "webhook.test"


def test_it_lets_a_customer_turn_off_failed_document_emails(page, carol):
    from playwright.sync_api import expect

    login(page, "carol")
    page.wait_for_url("**/invoices/")
    page.get_by_role("link", name="Notifications").click()
    page.get_by_label("A document could not be delivered").select_option("off")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Your notification settings are saved.")
    assert preferences.mode_for(carol, "document.failed") == "off"
    assert preferences.mode_for(carol, "document.received") == "immediate"
