"""Keyboard and no-JavaScript journeys of the invoice screens (issue 17).

Carol works the editor with the keyboard only: a new line takes the focus and is announced,
a removed line hands the focus to the line before it (or to "+ Add line"), Check and Send
are reached and pressed from the keyboard. Deleting a draft asks first, with and without
JavaScript.
"""

import re

import pytest
from django.urls import reverse

from invoices.models import Document
from tests.conftest import PASSWORD, login
from tests.invoices.conftest import BUYER, editor_post, line

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def focused(page) -> str:
    """The name (or id) of the element that has the focus."""
    return page.evaluate("document.activeElement.name || document.activeElement.id || ''")


def press(page, selector: str, key: str = "Enter") -> None:
    page.focus(selector)
    page.keyboard.press(key)


def retype(page, selector: str, text: str) -> None:
    """Replace what an input holds, from the keyboard (new lines come with defaults)."""
    page.focus(selector)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(text)


def announced(page, text: str) -> None:
    page.locator("#editor-announcer").filter(has_text=text).wait_for(state="attached")


def test_it_keeps_the_focus_where_a_keyboard_user_works(page, screenshot, seller, buyer):
    login(page, "carol")
    page.wait_for_url("**/invoices/")
    page.goto("/invoices/new/invoice/")
    page.fill("input[name='invoice_id']", "INV-KEY-1")
    page.fill("input[name='customer_name']", BUYER["company_name"])
    page.fill("input[name='customer_tax_id']", BUYER["company_tax_id"])
    page.fill("textarea[name='customer_address']", "Vaartkom 31, 3000 Leuven, Belgium")

    # "+ Add line": the new line's first input has the focus, and the page says so.
    press(page, "#add-line")
    page.wait_for_selector("input[name='lines-1-description']")
    page.wait_for_function("() => document.activeElement.name === 'lines-1-description'")
    announced(page, "Line 2 added.")
    # The blank new lines are not marked invalid before anything was checked.
    assert page.locator("#editor-rows [aria-invalid]").count() == 0

    # Removing the first line: no line before it, so "+ Add line" takes the focus.
    press(page, "button[value='remove_line-0']")
    page.wait_for_selector("input[name='lines-1-description']", state="detached")
    page.wait_for_function("() => document.activeElement.id === 'add-line'")
    announced(page, "Line 1 removed.")

    retype(page, "input[name='lines-0-description']", "Sourdough bread")
    for name, value in (("quantity", "10"), ("unit_price", "4.50"), ("tax_rate", "6")):
        retype(page, f"input[name='lines-0-{name}']", value)
    press(page, "#add-line")
    page.wait_for_function("() => document.activeElement.name === 'lines-1-description'")
    page.keyboard.type("Birthday cake")
    press(page, "#add-line")
    page.wait_for_function("() => document.activeElement.name === 'lines-2-description'")

    # Removing the third line: the focus goes to the line before it, and Tab goes on from
    # there (not from the top of the page).
    press(page, "button[value='remove_line-2']")
    page.wait_for_selector("input[name='lines-2-description']", state="detached")
    page.wait_for_function("() => document.activeElement.name === 'lines-1-description'")
    announced(page, "Line 3 removed.")
    page.keyboard.press("Tab")
    assert focused(page) == "lines-1-quantity"
    retype(page, "input[name='lines-1-unit_price']", "35")
    assert page.input_value("input[name='lines-0-description']") == "Sourdough bread"
    screenshot("lines")

    retype(page, "input[name='payment_term']", "Net 30 days")
    press(page, "#validate")
    page.wait_for_selector("#validated")
    screenshot("checked")
    press(page, "#send")
    page.wait_for_url(re.compile(r".*/invoices/\d+/$"))
    assert "INV-KEY-1" in page.inner_text("h1")
    screenshot("sent")


def _draft(carol_client) -> Document:
    carol_client.post(
        reverse("invoices:new_invoice"),
        editor_post([line()], action="save", invoice_id="INV-DEL-1"),
    )
    return Document.objects.get(invoice_id="INV-DEL-1")


@pytest.fixture
def carol_client(client, carol):
    client.force_login(carol)
    return client


def test_it_asks_before_deleting_a_draft_with_javascript(page, seller, carol_client):
    document = _draft(carol_client)
    login(page, "carol")
    page.wait_for_url("**/invoices/")
    page.goto(f"/invoices/{document.pk}/")
    questions = []

    def dismiss(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("#delete-document")
    assert questions == ["Delete this draft?"]
    assert Document.objects.filter(pk=document.pk).exists()
    assert page.url.endswith(f"/invoices/{document.pk}/")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-document")
    page.wait_for_url("**/invoices/")  # straight to the list: no second question
    assert "Draft INV-DEL-1 deleted." in page.content()
    assert not Document.objects.filter(pk=document.pk).exists()


def test_it_asks_before_deleting_a_draft_without_javascript(
    browser, live_server, seller, carol_client
):
    document = _draft(carol_client)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", "carol")
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_url("**/invoices/")
        page.goto(f"/invoices/{document.pk}/")
        page.click("#delete-document")
        page.wait_for_url(f"**/invoices/{document.pk}/delete/?")
        assert page.inner_text("h1") == "Delete this draft?"
        assert Document.objects.filter(pk=document.pk).exists()
        page.click("text=Cancel")
        page.wait_for_url(f"**/invoices/{document.pk}/")

        page.click("#delete-document")
        page.wait_for_url(f"**/invoices/{document.pk}/delete/?")
        page.click("#confirm-button")
        page.wait_for_url("**/invoices/")
        assert not Document.objects.filter(pk=document.pk).exists()
    finally:
        context.close()
