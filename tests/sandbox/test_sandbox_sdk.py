"""The official SDK (e-invoice-api), pointed at the sandbox by base URL."""

from __future__ import annotations

import httpx
import pytest
from e_invoice_api import AuthenticationError, EInvoice, NotFoundError, UnprocessableEntityError

from .conftest import CUSTOMER_PEPPOL_ID, VENDOR_PEPPOL_ID, invoice


@pytest.fixture
def client(sandbox, vendor):
    _, key = vendor
    with EInvoice(api_key=key, base_url=sandbox.url, max_retries=0) as sdk:
        yield sdk


def test_it_validates_creates_sends_and_reads_a_document_with_the_sdk(sandbox, client):
    validation = client.validate.validate_json(**invoice())
    assert validation.is_valid is True
    assert validation.issues == []

    doc = client.documents.create(**invoice())
    assert doc.id.startswith("doc_")
    assert doc.state == "DRAFT"
    assert doc.invoice_total == "1210.00"
    assert str(doc.invoice_date) == "2024-10-24"

    sent = client.documents.send(doc.id)
    assert sent.state == "TRANSIT"

    final = sandbox.wait_for_state(client.api_key, doc.id, {"SENT", "FAILED"})
    assert final["state"] == "SENT"
    read = client.documents.retrieve(doc.id)
    assert read.state == "SENT"
    assert read.items[0].amount == "1000.00"

    timeline = client.documents.retrieve_timeline(doc.id)
    assert [e.event_type for e in timeline.events] == [
        "document_created",
        "send_attempted",
        "send_success",
    ]
    ubl = client.documents.ubl.get(doc.id)
    assert ubl.sender_peppol_scheme == "0208"
    assert ubl.sender_peppol_id == "1018265814"
    assert ubl.receiver_peppol_id == "0848934496"
    assert ubl.file_size and ubl.file_hash
    assert "<Invoice" in httpx.get(ubl.signed_url).text


def test_it_lists_the_inbox_with_the_sdk(sandbox, client, vendor):
    customer, customer_key = sandbox.create_tenant_with_key(
        "bakkerij", company_number="0706165839", peppol_ids=[CUSTOMER_PEPPOL_ID]
    )
    sandbox.register(customer["id"], CUSTOMER_PEPPOL_ID)
    for number in ("INV-1", "INV-2"):
        doc = client.documents.create(
            **invoice(
                invoice_id=number,
                customer_name="Bakkerij Van Damme BV",
                customer_tax_id="BE0706165839",
            )
        )
        client.documents.send(doc.id)
        sandbox.wait_for_state(client.api_key, doc.id, "SENT")

    with EInvoice(api_key=customer_key, base_url=sandbox.url, max_retries=0) as customer_sdk:
        page = customer_sdk.inbox.list(page_size=1)
        assert page.total == 2
        assert page.pages == 2
        assert page.items[0].state == "RECEIVED"
        assert page.items[0].direction == "INBOUND"
        # Iterating a page follows the pagination (page, pages) to the end.
        everything = [d.invoice_id for d in customer_sdk.inbox.list(page_size=1)]
        assert sorted(everything) == ["INV-1", "INV-2"]
        invoices = customer_sdk.inbox.list_invoices()
        assert invoices.total == 2
        me = customer_sdk.me.retrieve()
        assert me.peppol_ids == [CUSTOMER_PEPPOL_ID]
        assert me.smp_registration is True

    sent = client.outbox.list_received_documents()
    assert sent.total == 2
    assert client.drafts.list().total == 0


def test_it_parses_every_tenant_api_answer_with_the_sdk(sandbox, client):
    doc = client.documents.create(**invoice())
    assert client.documents.retrieve(doc.id).id == doc.id
    assert client.documents.validate(doc.id).is_valid is True
    with pytest.warns(DeprecationWarning):  # the SDK prefers drafts.list
        assert client.outbox.list_draft_documents().total == 1
    assert client.drafts.list(state="DRAFT").total == 1
    peppol = client.validate.validate_peppol_id(peppol_id=VENDOR_PEPPOL_ID)
    assert peppol.is_valid is True
    assert peppol.business_card.name == "E-INVOICE BV"
    lookup = client.lookup.retrieve(peppol_id="0208:0848934496")
    assert lookup.status == "success"
    participants = client.lookup.retrieve_participants(query="openpeppol")
    assert participants.total_count == 1
    assert participants.participants[0].peppol_id == "0208:0848934496"
    stats = client.stats.retrieve()
    assert stats.tenant_id
    assert client.documents.attachments.list(doc.id) == []
    deleted = client.documents.delete(doc.id)
    assert deleted.is_deleted is True


def test_it_raises_the_sdks_errors_for_401_404_and_422(sandbox, client):
    with pytest.raises(NotFoundError):
        client.documents.retrieve("doc_missing")
    with pytest.raises(UnprocessableEntityError):
        client.documents.create(**invoice(items=[]))
    with EInvoice(api_key="einv_wrong", base_url=sandbox.url, max_retries=0) as wrong:
        with pytest.raises(AuthenticationError):
            wrong.me.retrieve()
