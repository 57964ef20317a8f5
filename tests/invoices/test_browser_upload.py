"""Browser journey in Chromium, in Dutch: Carol uploads a UBL file from her accounting
software; a wrong one shows each problem where it is in the file and nothing is made; the
corrected one is checked, created and sent. A PDF is read by e-invoice.be while the page shows
its progress (htmx), then what was read."""

import re

import pytest
from playwright.sync_api import expect

from invoices.models import Document
from sandbox import engine, pdf_render
from tests.conftest import login
from tests.invoices.test_browser_document import in_dutch
from tests.invoices.test_upload import ubl_payload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def xml(**changes) -> bytes:
    return engine.to_ubl(ubl_payload(**changes), "software-1").encode()


def test_it_uploads_a_ubl_invoice_in_dutch(page, screenshot, seller, buyer, carol, sandbox):
    login(page, "carol")
    page.wait_for_url("**/invoices/")
    in_dutch(page)
    page.click("#upload-link")
    page.wait_for_url("**/invoices/upload/")
    expect(page.locator("h1")).to_have_text("Een document opladen")
    screenshot("upload-nl")

    # A file with a wrong seller VAT number: the problem is placed, nothing is made.
    wrong = xml(invoice_id="UBL-WEB-1", vendor_tax_id="BE0706165830")
    page.set_input_files(
        "input[name='file']",
        {"name": "UBL-WEB-1.xml", "mimeType": "application/xml", "buffer": wrong},
    )
    page.click("#upload-send")
    issues = page.locator("#upload-issues")
    expect(issues).to_contain_text(
        "UBL-WEB-1.xml heeft 1 probleem: er werd niets gemaakt of verzonden."
    )
    expect(page.locator("#issue-field-vendor_tax_id")).to_have_text("Btw-nummer verkoper")
    screenshot("upload-nl-issues")
    assert not Document.objects.exists()

    # Corrected: checked, created and sent at once.
    page.set_input_files(
        "input[name='file']",
        {
            "name": "UBL-WEB-1.xml",
            "mimeType": "application/xml",
            "buffer": xml(invoice_id="UBL-WEB-1"),
        },
    )
    page.click("#upload-send")
    page.wait_for_url(re.compile(r".*/invoices/\d+/$"))
    expect(page.locator("ul.messages")).to_contain_text(
        "Document UBL-WEB-1 werd gemaakt uit UBL-WEB-1.xml en is onderweg."
    )
    expect(page.locator("#timeline")).to_contain_text(
        "Gemaakt uit het opgeladen bestand UBL-WEB-1.xml."
    )
    screenshot("upload-nl-sent")
    document = Document.objects.get(invoice_id="UBL-WEB-1")
    assert document.origin == Document.Origin.UBL and document.remote_id


def test_it_follows_a_pdf_conversion_in_dutch(page, screenshot, seller, carol, sandbox):
    sandbox.configure(conversion_delay=1.5)
    login(page, "carol")
    page.wait_for_url("**/invoices/")
    in_dutch(page)
    page.goto("/invoices/upload/")
    pdf = pdf_render.render(ubl_payload(invoice_id="PDF-WEB-1"), {"invoice_total": "95.40"})
    page.set_input_files(
        "input[name='file']", {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": pdf}
    )
    page.click("#upload-send")
    page.wait_for_url(re.compile(r".*/invoices/upload/pdf/[^/]+/$"))
    expect(page.locator("h1")).to_have_text("Een PDF-factuur")
    # htmx follows the task until e-invoice.be is done, without a reload.
    expect(page.locator("#conversion[data-status='completed']")).to_be_visible()
    expect(page.locator("#conversion-found")).to_contain_text("PDF-WEB-1")
    expect(page.locator("#conversion-incomplete")).to_contain_text("niet genoeg")
    screenshot("conversion-nl")
