"""Browser journey in Chromium, in Dutch: Carol starts an invoice, types a VAT rate of 150 %
by mistake (the line says why it is not counted, the totals say they are incomplete), saves it
as an incomplete draft, opens it again from the list twice to finish it, and sends it; it
reaches SENT as one document."""

import re

import pytest
from playwright.sync_api import expect

from invoices.models import Document, State
from tests.conftest import login
from tests.invoices.test_browser import fill_line

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_saves_edits_and_sends_a_draft_in_dutch(
    page, screenshot, seller, buyer, carol, portal_url
):
    page.goto("/accounts/login/")
    page.select_option("#language", "nl")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    login(page, "carol")
    page.wait_for_url("**/invoices/")
    page.goto("/invoices/new/invoice/")
    expect(page.locator("h1")).to_have_text("Nieuwe factuur")

    # Only a number and one line, whose VAT rate is a typo: the line says so, nothing is hidden.
    page.fill("input[name='invoice_id']", "INV-CONCEPT-1")
    fill_line(page, 0, "Zuurdesembrood", "10", "4,50", "150")
    page.locator("input[name='lines-0-tax_rate']").blur()
    expect(page.locator("#line-note-0")).to_contain_text("Een btw-tarief ligt tussen 0 en 100 %.")
    expect(page.locator("#line-0")).to_have_class(re.compile(r"\bnot-counted\b"))
    expect(page.locator("#totals-incomplete")).to_contain_text("Onvolledig: regel 1")
    expect(page.locator("[data-total='total']")).to_contain_text("0,00")
    screenshot("error-line")

    # Saved as it is: an incomplete draft, listed as such.
    page.click("#save")
    page.wait_for_url(re.compile(r".*/invoices/\d+/$"))
    expect(page.locator("#draft-incomplete")).to_be_visible()
    screenshot("incomplete-draft")
    page.goto("/invoices/")
    row = page.locator("tr[data-document='INV-CONCEPT-1']")
    expect(row.locator("[data-incomplete]")).to_have_text("onvolledig")

    # First edit: the rate is fixed, the buyer given; saved again.
    row.locator("a").click()
    page.click("#edit-document")
    expect(page.locator("h1")).to_have_text("Factuur INV-CONCEPT-1 (concept)")
    assert page.input_value("input[name='lines-0-tax_rate']") == "150"  # as it was typed
    page.fill("input[name='lines-0-tax_rate']", "6")
    page.fill("input[name='customer_name']", "Dijle Software BV")
    page.fill("input[name='customer_tax_id']", "BE1998121608")
    page.fill("textarea[name='customer_address']", "Vaartkom 31, 3000 Leuven, België")
    page.fill("input[name='payment_term']", "30 dagen")
    page.locator("[data-total='total']").filter(has_text="47,70").wait_for()
    expect(page.locator("#totals-incomplete")).to_have_count(0)
    expect(page.locator("#line-0")).not_to_have_class(re.compile(r"\bnot-counted\b"))
    page.click("#save")
    page.wait_for_url(re.compile(r".*/invoices/\d+/$"))
    expect(page.locator("#draft-incomplete")).to_have_count(0)

    # Second edit: a price changes; checked, then sent.
    page.click("#edit-document")
    page.fill("input[name='lines-0-unit_price']", "4,80")
    page.locator("[data-total='total']").filter(has_text="50,88").wait_for()
    page.click("#validate")
    page.wait_for_selector("#validated")
    screenshot("checked")
    page.click("#send")
    page.wait_for_url(re.compile(r".*/invoices/\d+/$"))
    page.wait_for_selector("#state[data-state='SENT']", timeout=30_000)
    expect(page.locator("#timeline")).to_contain_text("Verzonden via Peppol.")
    screenshot("sent")
    documents = Document.objects.filter(tenant=seller.tenant, invoice_id="INV-CONCEPT-1")
    assert documents.count() == 1 and documents.get().state == State.SENT
