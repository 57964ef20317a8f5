"""The PDF of a document: it opens, carries the number, the total and the accents, and a long
document wraps and runs over pages with every page numbered."""

import base64
import io
import time
from concurrent.futures import wait
from concurrent.futures.process import BrokenProcessPool
from datetime import date

from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader

from einvoice.tenant import TenantApi
from invoices import pdf
from invoices.models import Direction, State
from invoices.rendering import readable
from tests.conftest import ARTIFACTS
from tests.invoices.conftest import editor_post, line
from tests.invoices.documents_fixtures import received_invoice, sent_credit_note, stored

NEW = reverse("invoices:new_invoice")


def text_of(content: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(content))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def keep(name: str, content: bytes) -> None:
    """Kept under artifacts/ (gitignored) to be looked at."""
    (ARTIFACTS / "pdf").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "pdf" / name).write_bytes(content)


def test_the_pdf_of_a_received_invoice_opens_with_its_number_and_total(client, carol, acme):
    doc = received_invoice(acme)
    client.force_login(carol)
    client.cookies["django_language"] = "nl"
    response = client.get(reverse("invoices:pdf", args=[doc.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="received-invoice-AL-2026-0042.pdf"'
    assert response.content.startswith(b"%PDF-")
    keep("received-invoice-nl.pdf", response.content)
    pages, text = text_of(response.content)
    assert pages == 1
    assert "Factuur AL-2026-0042" in text
    assert "€ 1.434,00" in text.replace("\u00a0", " ")
    # The accents and the euro sign as they were sent; the OGM in its standard form.
    for expected in (
        "Atelier Lumière SRL",
        "Éclairage façade",
        "Crème brûlée",
        "Noël",
        "+++010/8068/17183+++",
        "BE68 5390 0754 7034",
    ):
        assert expected in text, expected
    assert "pagina 1 van 1" in text


def test_download_asks_the_browser_to_save_it(client, carol, acme):
    doc = sent_credit_note(acme)
    client.force_login(carol)
    response = client.get(reverse("invoices:pdf", args=[doc.pk]), {"download": "1"})
    assert response["Content-Disposition"] == 'attachment; filename="creditnote-CN-2026-007.pdf"'
    _pages, text = text_of(response.content)
    assert "Credit note CN-2026-007" in text and "Total to refund" in text


def test_a_long_document_wraps_and_runs_over_numbered_pages(acme):
    long_description = "Onderhoud van de installatie volgens contract, inclusief verplaatsing " * 6
    lines = [(f"{i}. {long_description}", "1", "10", "21", "10.00") for i in range(1, 61)]
    doc = stored(
        acme,
        lines=lines,
        invoice_id="INV-LONG-1",
        note="Opmerking " * 400 + "EINDE",
        vendor_address="Ĺong street ő 1 中",  # what Vera lacks: the base letter, else "?"
    )
    with translation.override("fr"):
        content = pdf.render(readable(doc))
    keep("long-invoice-fr.pdf", content)
    pages, text = text_of(content)
    assert pages >= 3
    assert f"page {pages} de {pages}" in text
    assert "Facture INV-LONG-1 · page 1 de" in text
    assert "60. Onderhoud" in text and "EINDE" in text
    assert "Long street o 1 ?" in text


def test_every_kind_of_document_renders(acme):
    for doc in (
        received_invoice(acme),
        sent_credit_note(acme),
        stored(acme, lines=[], invoice_id="EMPTY-DRAFT", state=State.DRAFT, invoice_date=None),
        # What a sender may put in a received document: an address of 1000 short lines, a
        # description without a space, markup.
        stored(
            acme,
            lines=[
                ("x" * 500, "1", "1", "21", "1.00"),
                ("<b>bold</b> & <i>", "1", "1", "0", "1.00"),
            ],
            invoice_id="HOSTILE-1",
            direction=Direction.INBOUND,
            vendor_address="a\n" * 1000,
            customer_name="</para><font size=90>",
        ),
        stored(
            acme,
            lines=[],
            invoice_id="X\x07\x1bY",  # control characters (PostgreSQL cannot store a NUL)
            direction=Direction.OUTBOUND,
            invoice_date=date(2026, 1, 1),
        ),
    ):
        assert pdf.render(readable(doc)).startswith(b"%PDF-")


def test_the_attachment_for_the_api_is_the_pdf_in_the_portals_language(acme, settings):
    doc = sent_credit_note(acme)
    with translation.override("nl"):
        payload = pdf.with_attachment(doc, {"invoice_id": doc.invoice_id, "attachments": []})
    (attached,) = payload["attachments"]
    assert (attached["file_name"], attached["file_type"]) == (
        "creditnote-CN-2026-007.pdf",
        "application/pdf",
    )
    _pages, text = text_of(base64.b64decode(attached["file_data"]))
    assert "Credit note CN-2026-007" in text  # the buyer's language is not known: English


def test_a_pdf_the_customer_attached_under_that_name_is_kept(acme, settings):
    doc = sent_credit_note(acme)
    theirs = {"file_name": "creditnote-CN-2026-007.pdf", "file_data": "AAAA"}
    assert pdf.with_attachment(doc, {"attachments": [theirs]})["attachments"] == [theirs]
    settings.INVOICES_ATTACH_PDF = False
    assert pdf.with_attachment(doc, {"items": []}) == {"items": []}


def test_a_drafts_pdf_says_it_is_not_the_sent_document(acme):
    doc = stored(acme, lines=[], invoice_id="CONCEPT-1", state=State.DRAFT)
    with translation.override("nl"):
        _pages, text = text_of(pdf.render(readable(doc)))
    assert "Concept: nog niet verzonden" in text
    sent = stored(acme, lines=[], invoice_id="SENT-1")
    with translation.override("nl"):
        assert "Concept" not in text_of(pdf.render(readable(sent)))[1]


def test_markup_in_a_senders_text_is_printed_as_text(acme):
    doc = stored(
        acme,
        lines=[("<b>bold</b> & <i>", "1", "1", "0", "1.00")],
        invoice_id="MARKUP-1",
        direction=Direction.INBOUND,
        customer_name="</para><font size=90>",
        vendor_address="a\n" * 1000,
    )
    with translation.override("en"):
        pages, text = text_of(pdf.render(readable(doc)))
    assert "<b>bold</b> & <i>" in text and "</para><font size=90>" in text
    assert pages > 1  # the 1000-line address runs over pages instead of failing


def test_it_attaches_the_document_as_sent_without_the_drafts_note(acme):
    doc = stored(
        acme, lines=[("Bread", "1", "4.50", "6", "4.50")], invoice_id="SEND-ME-1", state=State.DRAFT
    )
    (attached,) = pdf.with_attachment(doc, {})["attachments"]
    _pages, text = text_of(base64.b64decode(attached["file_data"]))
    assert "Invoice SEND-ME-1" in text and "not sent yet" not in text


def _sent_attachments(monkeypatch) -> tuple[list, list]:
    """(the documents each PDF render in this process was for, the attachment of each create
    call). A render ahead runs in the renderer process and is not among them."""
    rendered, attached = [], []
    real_render, real_create = pdf._render_attachment, TenantApi.create_document

    def render_here(document, rows):
        rendered.append(document)
        return real_render(document, rows)

    def create(self, payload):
        attached.append(payload["attachments"][-1])
        return real_create(self, payload)

    monkeypatch.setattr(pdf, "_render_attachment", render_here)
    monkeypatch.setattr(TenantApi, "create_document", create)
    return rendered, attached


def _wait_for_renders_ahead() -> None:
    """Until every render ahead is kept (its future is done before its callback has run)."""
    deadline = time.monotonic() + 60
    while pdf._rendering and time.monotonic() < deadline:
        with pdf._ahead_lock:
            pending = list(pdf._rendering.values())
        wait(pending, timeout=1)
        time.sleep(0.01)
    assert not pdf._rendering


def test_it_sends_the_pdf_that_the_check_rendered_in_another_process(
    client, carol, seller, buyer, monkeypatch
):
    rendered, attached = _sent_attachments(monkeypatch)
    client.force_login(carol)
    body = editor_post([line("Croissant")], invoice_id="AHEAD-1", note="Thank you")
    assert 'id="validated"' in client.post(NEW, body).content.decode()
    _wait_for_renders_ahead()

    response = client.post(NEW, {**body, "action": "send"})
    assert response.status_code == 302
    assert rendered == []  # rendered by the check, in the renderer process: not again here
    (pdf_file,) = attached
    assert pdf_file["file_name"] == "invoice-AHEAD-1.pdf"
    _pages, text = text_of(base64.b64decode(pdf_file["file_data"]))
    assert "Invoice AHEAD-1" in text and "Croissant" in text and "Thank you" in text
    assert "not sent yet" not in text


def test_it_renders_the_pdf_again_when_the_send_differs_from_the_check(
    client, carol, seller, buyer, monkeypatch
):
    rendered, attached = _sent_attachments(monkeypatch)
    client.force_login(carol)
    body = editor_post([line()], invoice_id="AHEAD-2", note="Checked note")
    assert 'id="validated"' in client.post(NEW, body).content.decode()
    _wait_for_renders_ahead()
    response = client.post(NEW, {**body, "note": "Sent note", "action": "send"})
    assert response.status_code == 302
    assert len(rendered) == 1
    _pages, text = text_of(base64.b64decode(attached[0]["file_data"]))
    assert "Sent note" in text and "Checked note" not in text


def test_the_next_check_starts_a_new_renderer_when_the_last_one_died(
    client, carol, seller, buyer, monkeypatch
):
    rendered, attached = _sent_attachments(monkeypatch)
    client.force_login(carol)
    killed = pdf._renderer.submit("os._exit", 1)  # the renderer process dies (OOM killer, say)
    wait([killed], timeout=60)
    assert isinstance(killed.exception(), BrokenProcessPool)

    body = editor_post([line()], invoice_id="AHEAD-3", note="Thank you")
    assert 'id="validated"' in client.post(NEW, body).content.decode()
    _wait_for_renders_ahead()
    assert client.post(NEW, {**body, "action": "send"}).status_code == 302
    assert rendered == []  # the check's render ahead ran in a new renderer process
    _pages, text = text_of(base64.b64decode(attached[0]["file_data"]))
    assert "Invoice AHEAD-3" in text and "Thank you" in text
