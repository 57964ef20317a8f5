"""Browser journey in Chromium, in Dutch: Bob finds Carol's invoice in his inbox, reads it as a
document (seller, buyer, VAT per rate, the structured reference) and opens its PDF; Carol
exports her month for the bookkeeper and a reversed range is refused next to its field."""

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from invoices import inbound
from tests.conftest import login
from tests.invoices.test_e2e import wait_for
from tests.invoices.test_received_pdf_e2e import send_to_bob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def in_dutch(page) -> None:
    with page.expect_navigation():
        page.select_option("#language", "nl")
    expect(page.locator("html")).to_have_attribute("lang", "nl")


def test_it_reads_a_received_invoice_as_a_document_and_opens_its_pdf_in_dutch(
    page, screenshot, client, seller, buyer, carol, bob, portal_url
):
    send_to_bob(client, carol, "INV-WEB-PDF")
    assert wait_for(lambda: inbound.sync_inbox(buyer.tenant, force=True), timeout=30)

    login(page, "bob")
    in_dutch(page)
    page.goto("/invoices/inbox/")
    page.click("tr[data-document='INV-WEB-PDF'] a")
    page.wait_for_url(re.compile(r".*/invoices/\d+/$"))
    page.click("#view-document")
    paper = page.locator("#document[data-document='INV-WEB-PDF']")
    expect(paper.locator("h1")).to_have_text("Factuur INV-WEB-PDF")
    expect(page.locator("#vat-breakdown")).to_contain_text("Maatstaf van heffing")
    expect(page.locator("#vat-breakdown tr[data-rate='21.00']")).to_contain_text("€ 70,00")
    expect(page.locator("#document-total")).to_have_text("€ 132,40")
    expect(page.locator("#pay-reference")).to_have_text("+++010/8068/17183+++")
    expect(page.locator("#pay-iban")).to_have_text("BE68 5390 0754 7034")
    screenshot("document-nl")

    # The PDF, fetched as the browser would open it (same session).
    pdf_url = page.get_attribute("#open-pdf", "href")
    response = page.request.get(pdf_url)
    assert response.ok and response.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.body())).pages[0].extract_text()
    assert "Factuur INV-WEB-PDF" in text and "132,40" in text and "pagina 1 van 1" in text

    # Printed, the portal around the document disappears.
    page.emulate_media(media="print")
    expect(page.locator("header.topbar")).to_be_hidden()
    screenshot("document-nl-print")


def test_it_exports_the_archive_and_refuses_a_reversed_range_in_dutch(
    page, screenshot, acme, carol, live_server
):
    login(page, "carol")
    in_dutch(page)
    page.goto("/invoices/")
    page.click("#archive-link")
    expect(page.locator("h1")).to_have_text("Archief voor de boekhouder")
    page.fill("#id_date_from", "2026-11-30")
    page.fill("#id_date_to", "2026-11-01")
    page.click("#export-csv")
    expect(page.locator("#field-date_to .error")).to_have_text(
        "Het einde van de periode ligt vóór het begin."
    )
    screenshot("archive-error")
    page.fill("#id_date_from", "2026-11-01")
    page.fill("#id_date_to", "2026-11-30")
    with page.expect_download() as download:
        page.click("#export-csv")
    assert download.value.suggested_filename == "documents-all-20261101-20261130.csv"
