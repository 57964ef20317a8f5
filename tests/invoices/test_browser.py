"""Browser journey in Chromium: Carol writes an invoice with three htmx lines and live totals,
fixes what the checks find, sends it to Bob's tenant; Bob finds it in his inbox; Carol sends a
credit note for part of it."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import log_out, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_line(
    page, i: int, description: str, quantity: str, price: str, rate: str, unit: str = "C62"
):
    fill_checked(page, f"input[name='lines-{i}-description']", description)
    fill_checked(page, f"input[name='lines-{i}-quantity']", quantity)
    page.select_option(f"select[name='lines-{i}-unit']", unit)
    fill_checked(page, f"input[name='lines-{i}-unit_price']", price)
    fill_checked(page, f"input[name='lines-{i}-tax_rate']", rate)


def fill_checked(page, selector: str, value: str) -> None:
    """Fill, then read the value back: under CI load one fill came out without its first letter
    ("elivery"), not reproduced on a quiet machine. Filled again (at most twice) after the page
    is idle, so the journey tests the editor rather than the race."""
    for _ in range(3):
        page.fill(selector, value)
        if page.input_value(selector) == value:
            return
        page.wait_for_load_state("networkidle")
    assert page.input_value(selector) == value, selector


def add_line(page, count_after: int):
    page.click("#add-line")
    # Settled: the editor focuses the new line's first input (typing before that raced the
    # settle under CI load and lost the first letters).
    new = page.locator(f"input[name='lines-{count_after - 1}-description']")
    expect(new).to_be_focused()
    # And no totals request still on its way (on a loaded machine one settled while the next
    # line was being filled, and its first letter was lost).
    page.wait_for_load_state("networkidle")


def test_it_writes_validates_and_sends_an_invoice_then_a_credit_note(
    page, screenshot, seller, buyer, carol, bob, portal_url
):
    login(page, "carol")
    page.wait_for_url("**/invoices/")
    page.click("text=New invoice")
    page.wait_for_url("**/invoices/new/invoice/")
    assert page.input_value("input[name='vendor_name']") == "Bakkerij Van Damme BV"

    page.fill("input[name='invoice_id']", "INV-WEB-1")
    page.fill("input[name='customer_name']", "Dijle Software BV")
    page.fill("input[name='customer_tax_id']", "BE1998121608")
    page.fill("textarea[name='customer_address']", "Vaartkom 31, 3000 Leuven, Belgium")
    page.click("#peppol-check-button")
    page.wait_for_selector("[data-peppol='ok']")

    # Three lines, two added with htmx; the totals follow on the server, per VAT rate.
    fill_line(page, 0, "Sourdough bread", "10", "4.50", "6")
    add_line(page, 2)
    fill_line(page, 1, "Birthday cake", "1", "35", "21")
    add_line(page, 3)
    fill_line(page, 2, "Delivery", "1,5", "20", "21", unit="HUR")
    page.locator("input[name='lines-2-tax_rate']").blur()
    total = page.locator("[data-total='total']")
    total.filter(has_text="126.35").wait_for()
    assert "VAT 21% on 65.00" in page.inner_text("#totals")
    assert "VAT 6% on 45.00" in page.inner_text("#totals")
    # The line's own cell is filled when the totals settle, a moment after they show.
    expect(page.locator("#line-2 .line-amount")).to_have_text("30.00")
    screenshot("three-lines")

    # Remove and re-add a line: what was typed in the others stays.
    add_line(page, 4)
    page.click("button[value='remove_line-3']")
    page.wait_for_selector("input[name='lines-3-description']", state="detached")
    assert page.input_value("input[name='lines-1-description']") == "Birthday cake"

    # The checks: no due date and no payment terms → shown next to the due date.
    page.fill("input[name='payment_term']", "")
    page.click("#validate")
    page.wait_for_selector("#issue-count")
    assert "give a due date" in page.inner_text("#field-due_date")
    assert page.input_value("input[name='lines-2-description']") == "Delivery"
    screenshot("issues")
    page.fill("input[name='payment_term']", "Net 30 days")
    page.click("#validate")
    page.wait_for_selector("#validated")

    page.click("#send")
    page.wait_for_url(re.compile(r".*/invoices/\d+/$"))
    page.wait_for_selector("#state[data-state='SENT']", timeout=30_000)
    screenshot("sent")
    page.goto("/invoices/")
    assert page.locator("tr[data-document='INV-WEB-1'] [data-state='SENT']").count() == 1

    log_out(page)
    login(page, "bob")
    page.goto("/invoices/inbox/")
    page.wait_for_selector("tr[data-document='INV-WEB-1'] [data-state='RECEIVED']")
    screenshot("inbox")
    page.click("text=INV-WEB-1")
    assert "126.35 EUR" in page.inner_text("#grand-total")

    # The credit note: positive amounts, referencing the invoice it corrects.
    log_out(page)
    login(page, "carol")
    page.goto("/invoices/new/credit-note/")
    page.fill("input[name='invoice_id']", "CN-WEB-1")
    corrected = page.locator("select[name='corrects'] option", has_text="INV-WEB-1")
    page.select_option("select[name='corrects']", corrected.get_attribute("value"))
    page.fill("input[name='customer_name']", "Dijle Software BV")
    page.fill("input[name='customer_tax_id']", "BE1998121608")
    page.fill("input[name='payment_term']", "Refund within 14 days")
    fill_line(page, 0, "Birthday cake (returned)", "1", "35", "21")
    page.locator("[data-total='total']").filter(has_text="42.35").wait_for()
    page.click("#send")
    page.wait_for_selector("#state[data-state='SENT']", timeout=30_000)
    assert "Credit note CN-WEB-1" in page.inner_text("h1")
    screenshot("credit-note")


def test_it_leaves_the_focus_where_the_user_moved_it_while_a_line_was_removed(
    page, seller, buyer, carol, portal_url
):
    """After a line's removal the editor focuses the line before, unless the user has gone
    on to another field meanwhile: moved a moment later, the focus took that field's next
    keystrokes (a Delete went to a line's description and ate its first letter)."""
    login(page, "carol")
    page.wait_for_url("**/invoices/")
    page.goto("/invoices/new/invoice/")
    fill_line(page, 0, "Sourdough bread", "10", "4.50", "6")
    add_line(page, 2)
    fill_line(page, 1, "Delivery", "1", "20", "21")
    page.wait_for_load_state("networkidle")
    # Remove line 2 and, before its answer is back, go on to the payment terms.
    page.evaluate(
        """() => {
            document.querySelector("button[value='remove_line-1']").click();
            document.querySelector("input[name='payment_term']").focus();
        }"""
    )
    page.wait_for_selector("input[name='lines-1-description']", state="detached")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(100)  # htmx settles 20 ms after the swap
    expect(page.locator("input[name='payment_term']")).to_be_focused()
    page.keyboard.type("Net 30 days")
    assert page.input_value("input[name='payment_term']") == "Net 30 days"
    assert page.input_value("input[name='lines-0-description']") == "Sourdough bread"
    # A removal with the focus on its button still moves it to the line before.
    add_line(page, 2)
    page.click("button[value='remove_line-1']")
    expect(page.locator("input[name='lines-0-description']")).to_be_focused()
