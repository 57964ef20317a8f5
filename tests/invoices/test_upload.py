"""UBL and PDF upload, end to end against the sandbox.

Carol's accounting software makes UBL files: a valid one is checked, created and sent, and
reaches SENT (and Bob's inbox); a bad one shows each problem where it is in the file and
creates nothing. A PDF is converted with a progress display; what e-invoice.be read is shown,
and sent only when it could make a complete e-invoice of it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from invoices import inbound, outbound, upload
from invoices.models import Document, State
from sandbox import engine, pdf_render
from tests.invoices.conftest import BUYER, SELLER

pytestmark = pytest.mark.django_db(transaction=True)


def ubl_payload(**changes: Any) -> dict[str, Any]:
    """An invoice from Carol's company to Bob's, as her accounting software would make it."""
    today = date.today()
    payload = {
        "document_type": "INVOICE",
        "invoice_id": "UBL-2026-001",
        "invoice_date": today.isoformat(),
        "due_date": (today + timedelta(days=30)).isoformat(),
        "currency": "EUR",
        "vendor_name": SELLER["company_name"],
        "vendor_tax_id": SELLER["company_tax_id"],
        "vendor_company_id": SELLER["company_number"],
        "vendor_address": "Kerkstraat 12, 9000 Gent, Belgium",
        "customer_name": BUYER["company_name"],
        "customer_tax_id": BUYER["company_tax_id"],
        "customer_address": "Vaartkom 31, 3000 Leuven, Belgium",
        "payment_term": "Net 30 days",
        "items": [
            {
                "description": "Sourdough bread",
                "quantity": "20",
                "unit": "C62",
                "unit_price": "4.50",
                "amount": "90.00",
                "tax_rate": "6.00",
            },
        ],  # fmt: skip
    }
    payload.update(changes)
    return payload


def ubl_file(name: str = "UBL-2026-001.xml", **changes: Any) -> SimpleUploadedFile:
    xml = engine.to_ubl(ubl_payload(**changes), "software-1").encode()
    return SimpleUploadedFile(name, xml, content_type="application/xml")


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def uploads(sandbox, path: str) -> list:
    return [r for r in sandbox.requests() if r["method"] == "POST" and r["path"] == path]


def test_it_checks_creates_and_sends_an_uploaded_ubl_invoice(
    client, seller, buyer, carol, bob, sandbox
):
    client.force_login(carol)
    assert "Upload UBL or PDF" in text(client.get(reverse("invoices:documents")))
    file = ubl_file()
    sent_bytes = file.read()
    file.seek(0)
    response = client.post(reverse("invoices:upload"), {"file": file})
    document = Document.objects.get(tenant=seller.tenant, invoice_id="UBL-2026-001")
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:detail", args=[document.pk])
    assert document.origin == Document.Origin.UBL and document.remote_id
    assert document.customer_name == BUYER["company_name"] and str(document.total) == "95.40"
    assert [ln.description for ln in document.lines.all()] == ["Sourdough bread"]
    assert len(uploads(sandbox, "/api/validate/ubl")) == 1
    assert len(uploads(sandbox, "/api/documents/ubl")) == 1

    # It reaches SENT (here by the status check; webhooks do the same when they can reach us).
    sandbox.wait_for_state(seller.key, document.remote_id, "SENT")
    outbound.refresh(document)
    document.refresh_from_db()
    assert document.state == State.SENT
    page = text(client.get(reverse("invoices:detail", args=[document.pk])))
    assert "Created from the uploaded file UBL-2026-001.xml." in page
    # The file itself is the document's UBL.
    assert client.get(reverse("invoices:ubl", args=[document.pk])).content == sent_bytes
    assert Document.objects.filter(tenant=seller.tenant).count() == 1

    inbound.sync_inbox(buyer.tenant, force=True)
    received = Document.objects.get(tenant=buyer.tenant, invoice_id="UBL-2026-001")
    assert received.state == State.RECEIVED and received.total == document.total


def test_a_credit_note_uploads_the_same_way(client, seller, buyer, carol, sandbox):
    client.force_login(carol)
    note = ubl_file(
        "cn.xml", document_type="CREDIT_NOTE", invoice_id="CN-UBL-1", billing_reference="X-1"
    )
    assert client.post(reverse("invoices:upload"), {"file": note}).status_code == 302
    document = Document.objects.get(tenant=seller.tenant, invoice_id="CN-UBL-1")
    assert document.is_credit_note and document.state in (State.TRANSIT, State.SENT)


def test_a_bad_ubl_shows_each_problem_where_it_is_and_creates_nothing(
    client, seller, carol, sandbox
):
    client.force_login(carol)
    bad = ubl_file(
        "bad.xml",
        vendor_tax_id="BE0706165830",
        items=[
            {
                "description": "Bread",
                "quantity": "2",
                "unit": "C62",
                "unit_price": "50",
                "amount": "100.00",
                "tax_rate": "21.00",
            },
            {
                "description": "",
                "quantity": "1",
                "unit": "C62",
                "unit_price": "-5",
                "amount": "-5.00",
                "tax_rate": "21.00",
            },
        ],  # fmt: skip
    )
    response = client.post(reverse("invoices:upload"), {"file": bad})
    assert response.status_code == 400
    page = text(response)
    assert "bad.xml has 3 problems: nothing was created or sent." in page
    placed = dict(re.findall(r'<dt id="issue-([^"]+)">([^<]+)</dt>', page))
    assert placed["field-vendor_tax_id"] == "Seller VAT number"
    assert placed["line-1-description"].startswith("Line 2")
    assert "line-1-unit_price" in placed
    assert "is not valid: its length or check digits are wrong" in page
    assert not Document.objects.exists()
    assert uploads(sandbox, "/api/documents/ubl") == []


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"<html><body>an invoice</body></html>", "is not a UBL invoice or credit note"),
        (b"not xml at all", "is not a UBL invoice or credit note"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Invoice>&a;</Invoice>',
            "is not a UBL invoice or credit note",
        ),
        (b"", "This file is empty."),
    ],
)
def test_it_refuses_what_is_not_ubl_at_the_input_without_asking_the_api(
    client, seller, carol, sandbox, content, says
):
    client.force_login(carol)
    before = len(sandbox.requests())
    upload_file = SimpleUploadedFile("export.xml", content, content_type="application/xml")
    response = client.post(reverse("invoices:upload"), {"file": upload_file})
    assert response.status_code == 400
    error = re.search(r'id="id_file_error">(.*?)</div>', text(response))
    assert error and says in error.group(1)
    assert len(sandbox.requests()) == before and not Document.objects.exists()


def test_it_refuses_a_number_already_used(client, seller, carol, sandbox):
    Document.objects.create(tenant=seller.tenant, invoice_id="UBL-2026-001", state=State.SENT)
    client.force_login(carol)
    response = client.post(reverse("invoices:upload"), {"file": ubl_file()})
    assert response.status_code == 400
    assert "You already have a document with number UBL-2026-001" in text(response)
    assert uploads(sandbox, "/api/validate/ubl") == []


def _follow(client, url: str) -> str:
    """The conversion page as htmx polls it, until e-invoice.be is done (or 30 s)."""
    import time

    deadline = time.monotonic() + 30
    while True:
        page = text(client.get(url, HTTP_HX_REQUEST="true"))
        if 'data-status="pending"' not in page or time.monotonic() > deadline:
            return page
        time.sleep(0.1)


def test_a_pdf_is_converted_with_progress_and_what_was_read_is_shown(
    client, seller, carol, bob, buyer, sandbox
):
    sandbox.configure(conversion_delay=3)  # pending long enough to be seen on a loaded machine
    client.force_login(carol)
    pdf = pdf_render.render(ubl_payload(), {"invoice_total": "95.40"})
    response = client.post(
        reverse("invoices:upload"), {"file": SimpleUploadedFile("scan.pdf", pdf, "application/pdf")}
    )
    assert response.status_code == 302
    url = response["Location"]
    first = text(client.get(url))
    assert 'data-status="pending"' in first and '<meta http-equiv="refresh"' in first
    assert 'hx-trigger="every 1s"' in first
    done = _follow(client, url)
    assert 'data-status="completed"' in done
    assert "UBL-2026-001" in done and SELLER["company_tax_id"] in done
    # The sandbox reads no names or addresses from a PDF: not enough for an e-invoice.
    assert 'id="conversion-incomplete"' in done and "send-converted" not in done
    assert not Document.objects.exists()

    # Another tenant's conversion: not found.
    client.force_login(bob)
    assert client.get(url).status_code == 404
    assert client.post(url + "send/").status_code == 404


def test_a_pdf_e_invoice_be_could_complete_is_sent_as_its_ubl(
    client, seller, buyer, carol, sandbox, monkeypatch
):
    xml = engine.to_ubl(ubl_payload(invoice_id="PDF-2026-7"), "from-pdf")
    done = upload.Conversion("task_x", "completed", SimpleNamespace(ubl_document=xml))
    monkeypatch.setattr(upload, "conversion", lambda tenant, task_id: done)
    client.force_login(carol)
    page = text(client.get(reverse("invoices:conversion", args=["task_x"])))
    assert 'id="send-converted"' in page
    response = client.post(reverse("invoices:send_conversion", args=["task_x"]))
    document = Document.objects.get(tenant=seller.tenant, invoice_id="PDF-2026-7")
    assert response["Location"] == reverse("invoices:detail", args=[document.pk])
    assert document.origin == Document.Origin.PDF and document.state != State.DRAFT
