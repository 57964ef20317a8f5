"""Browser journey: an admin creates a tenant and a key, and sees the key exactly once."""

import pytest

from tenants.models import ApiKey, Tenant
from tests.conftest import PASSWORD, login

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


def test_live_checks_show_each_error_under_its_field(page, screenshot, api, alice):
    login(page, "alice")
    page.wait_for_url("**/staff/")
    page.goto("/staff/tenants/new/")
    page.fill("#id_description", "Acme BV")
    page.fill("#id_company_number", "0403.170.702")
    page.press("#id_company_number", "Tab")
    error = page.locator("#field-company_number .live-errors .error")
    error.wait_for()
    assert "Belgian enterprise number" in error.inner_text()
    assert page.locator("#field-company_tax_id .error").count() == 0
    screenshot("live-error")
    page.fill("#id_company_number", "0403.170.701")
    page.press("#id_company_number", "Tab")
    error.wait_for(state="detached")
    page.locator("#suggestions").get_by_text("0208:0403170701").wait_for()


def test_the_main_forms_work_without_javascript(browser, live_server, api, alice):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")  # the first submit button is the language's
        page.wait_for_url("**/staff/")

        page.goto("/staff/tenants/new/")
        page.fill("#id_description", "Dijle Software BV")
        page.fill("#id_company_number", "1998.121.609")
        page.click("button:has-text('Create tenant')")
        assert "Belgian enterprise number" in page.locator("#field-company_number").inner_text()
        page.fill("#id_company_number", "1998.121.608")
        page.click("button:has-text('Create tenant')")
        page.wait_for_url("**/staff/tenants/*/")
        tenant = Tenant.objects.get()

        page.fill("#keys #id_name", "production")
        page.click("#keys button:has-text('Create key')")
        page.wait_for_url("**/staff/keys/*/reveal/")
        page.click("text=Show the key now (once)")
        assert page.locator("#key-value").inner_text().strip() == (
            ApiKey.objects.get().reveal_value()
        )

        page.goto(f"/staff/tenants/{tenant.pk}/peppol/register/")
        page.click("button:has-text('Register')")
        page.wait_for_url(f"**/staff/tenants/{tenant.pk}/")
        tenant.refresh_from_db()
        assert tenant.peppol.registered
        page.fill("#peppol #id_company_name", "Dijle Software")
        page.click("#peppol button:has-text('Update business card')")
        page.wait_for_url(f"**/staff/tenants/{tenant.pk}/")
        assert "Business card updated." in page.content()

        page.goto("/staff/tenants/")
        page.fill("#id_q", "dijle")
        page.click("form[role=search] button[type=submit]")
        assert "q=dijle" in page.url and "1 tenant" in page.content()
    finally:
        context.close()


def test_a_peppol_id_held_elsewhere_is_explained_and_watched(page, screenshot, api, alice):
    from tenants import keys, mirror

    tenant = mirror.create_tenant(
        {
            "name": "zwarte-kat",
            "description": "Brouwerij De Zwarte Kat NV",
            "company_number": "0443055814",
            "company_tax_id": "BE0443055814",
            "peppol_id": "0208:0443055814",
        },
        alice,
    )
    keys.create_key(tenant, "production", "", alice)  # the look-ups use a key the portal holds
    login(page, "alice")
    page.wait_for_url("**/staff/")
    page.goto(f"/staff/tenants/{tenant.pk}/")
    page.click("text=Register on Peppol")
    verdict = page.locator("#peppol-verdict")
    assert "Noordzee Access Point BV" in verdict.inner_text()
    assert "migration key" in verdict.inner_text()
    screenshot("held-elsewhere")
    page.click("button:has-text('Register as soon as it is free')")
    page.wait_for_url(f"**/staff/tenants/{tenant.pk}/")
    watch = page.locator("#peppol-watch")
    assert watch.get_attribute("data-watch") == "watching"
    assert "Next check" in watch.inner_text()
    assert "held elsewhere (watching)" in page.locator("#peppol-panel").inner_text()
    screenshot("watching")
