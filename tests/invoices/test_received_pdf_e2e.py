"""Done-when, against the sandbox: Carol sends an invoice to Bob's tenant over Peppol; Bob's
inbox pulls it, and its PDF opens with the invoice number and the total in its text."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from invoices import inbound
from invoices.models import Direction, Document
from tests.invoices.conftest import editor_post, line
from tests.invoices.test_e2e import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def send_to_bob(client, carol, number: str) -> None:
    client.force_login(carol)
    post = editor_post(
        [line("Zuurdesembrood", "10", "4.50", "6"), line("Crème brûlée", "2", "35", "21")],
        action="send",
        invoice_id=number,
        payment_reference="+++010/8068/17183+++",
    )
    assert client.post(reverse("invoices:new_invoice"), post).status_code == 302


def test_the_pdf_of_a_received_invoice_opens_with_its_number_and_total(
    client, seller, buyer, carol, bob
):
    send_to_bob(client, carol, "INV-PDF-1")
    # Delivered by the network a moment later: Bob's inbox pulls until it is there.
    assert wait_for(lambda: inbound.sync_inbox(buyer.tenant, force=True), timeout=30)
    client.force_login(bob)
    client.cookies["django_language"] = "nl"
    assert (
        'data-document="INV-PDF-1"'
        in client.get(reverse("invoices:inbox"), {"refresh": "1"}).content.decode()
    )
    received = Document.objects.get(tenant=buyer.tenant, invoice_id="INV-PDF-1")
    assert received.direction == Direction.INBOUND and str(received.total) == "132.40"

    response = client.get(reverse("invoices:pdf", args=[received.pk]))
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Factuur INV-PDF-1" in text
    assert "€ 132,40" in text.replace("\u00a0", " ")
    assert "Crème brûlée" in text and "+++010/8068/17183+++" in text
    # 21 % on 70.00 and 6 % on 45.00, as the sender computed them.
    assert "€ 14,70" in text.replace("\u00a0", " ") and "€ 2,70" in text.replace("\u00a0", " ")


def test_an_outgoing_document_carries_its_pdf_to_the_buyer(client, seller, buyer, carol, sandbox):
    send_to_bob(client, carol, "INV-PDF-2")
    assert wait_for(lambda: inbound.sync_inbox(buyer.tenant, force=True), timeout=30)
    received = Document.objects.get(tenant=buyer.tenant, invoice_id="INV-PDF-2")
    # What Bob's tenant got from the network, read with Bob's key (the sandbox keeps an
    # attachment's name, type and size; its content is checked in tests/invoices/test_pdf.py).
    with sandbox.tenant_client(buyer.key) as api:
        (attached,) = api.get(f"/api/documents/{received.remote_id}/attachments").json()
    assert (attached["file_name"], attached["file_type"]) == (
        "invoice-INV-PDF-2.pdf",
        "application/pdf",
    )
    assert attached["file_size"] > 10_000


def test_the_pdf_is_left_out_when_the_setting_says_so(
    client, seller, buyer, carol, sandbox, settings
):
    settings.INVOICES_ATTACH_PDF = False
    send_to_bob(client, carol, "INV-PDF-3")
    sent = Document.objects.get(tenant=seller.tenant, invoice_id="INV-PDF-3")
    with sandbox.tenant_client(seller.key) as api:
        assert api.get(f"/api/documents/{sent.remote_id}/attachments").json() == []
