"""Browser journey: an admin creates a tenant and a key, and sees the key exactly once."""

import pytest

from tenants.models import ApiKey, Tenant
from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_creates_a_tenant_and_a_key_and_sees_it_once(page, screenshot, api, alice):
    login(page, "alice")
    page.wait_for_url("**/staff/")
    page.click("text=New tenant")
    page.fill("#id_description", "Dijle Software BV")
    page.fill("#id_company_number", "1998.121.608")
    page.fill("#id_company_tax_id", "BE1998121608")
    page.press("#id_company_tax_id", "Tab")
    # htmx suggestions, while typing
    suggestions = page.locator("#suggestions")
    suggestions.get_by_text("0208:1998121608").wait_for()
    assert "dijle-software-bv" in suggestions.inner_text()
    screenshot("tenant-form")
    page.click("button:has-text('Create tenant')")

    page.wait_for_url("**/staff/tenants/*/")
    assert page.locator("h1").inner_text().startswith("dijle-software-bv")
    tenant = Tenant.objects.get()
    assert tenant.peppol_id == "0208:1998121608"
    page.fill("#keys #id_name", "production")
    page.click("#keys button:has-text('Create key')")

    page.wait_for_url("**/staff/keys/*/reveal/")
    screenshot("reveal-before")
    page.click("text=Show the key now (once)")
    value = page.locator("#key-value").inner_text().strip()
    assert value == ApiKey.objects.get().reveal_value()
    assert page.get_by_role("button", name="Copy").is_visible()
    screenshot("reveal-once")

    page.reload()  # the browser may re-send the POST: the value is not shown again
    assert value not in page.content()
    page.goto(f"/staff/tenants/{tenant.pk}/")
    assert value not in page.content()
    assert ApiKey.objects.get().fingerprint in page.content()
    screenshot("tenant-page")
