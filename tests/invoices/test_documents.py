"""Saving, sending, the document list and detail, the inbox, against the sandbox.

Webhooks are not reachable here (no live server): the poll task and the state partial bring
documents from TRANSIT to their final state, as they do when notifications are lost.
"""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from invoices import services, tasks
from invoices.models import Direction, Document, DocumentType, State
from tests.invoices.conftest import BUYER, NOT_ON_PEPPOL, editor_post, line

NEW = reverse("invoices:new_invoice")


@pytest.fixture
def carol_client(client, carol):
    client.force_login(carol)
    return client


def send_invoice(client, number: str, action: str = "send", **changes) -> Document:
    response = client.post(
        NEW,
        editor_post(
            [line(), line("Cake", "1", "20", "21")], action=action, invoice_id=number, **changes
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    return Document.objects.get(invoice_id=number, direction=Direction.OUTBOUND)


def settle(sandbox, key, document: Document) -> Document:
    """Wait for the sandbox's network, then run the poll task as beat would."""
    sandbox.wait_for_state(key, document.remote_id, {"SENT", "FAILED"})
    Document.objects.filter(pk=document.pk).update(last_polled_at=None)
    tasks.poll_documents()
    document.refresh_from_db()
    return document


def test_it_saves_a_draft_then_sends_it_from_its_page(
    carol_client, seller, buyer, portal_on_sandbox
):
    document = send_invoice(carol_client, "INV-D1", action="save")
    assert document.state == State.DRAFT and document.remote_id
    page = carol_client.get(reverse("invoices:detail", args=[document.pk])).content.decode()
    assert 'id="send-document"' in page and 'id="delete-document"' in page

    carol_client.post(reverse("invoices:send", args=[document.pk]))
    document.refresh_from_db()
    assert document.state == State.TRANSIT
    assert settle(portal_on_sandbox, seller.key, document).state == State.SENT
    # A second click on an old page changes nothing and calls nothing.
    before = len(portal_on_sandbox.requests())
    carol_client.post(reverse("invoices:send", args=[document.pk]))
    assert len(portal_on_sandbox.requests()) == before


def test_it_sends_straight_away_and_the_poll_task_records_delivery(
    carol_client, seller, buyer, portal_on_sandbox
):
    document = send_invoice(carol_client, "INV-S1")
    assert document.state == State.TRANSIT
    document = settle(portal_on_sandbox, seller.key, document)
    assert document.state == State.SENT
    timeline = [e.state for e in document.events.all()]
    assert timeline[-2:] == [State.TRANSIT, State.SENT]
    listing = carol_client.get(reverse("invoices:documents")).content.decode()
    assert 'data-document="INV-S1"' in listing and 'data-state="SENT"' in listing


def test_it_says_why_a_send_to_a_buyer_not_on_peppol_failed_and_resends(
    carol_client, seller, portal_on_sandbox
):
    document = send_invoice(
        carol_client,
        "INV-F1",
        customer_name=NOT_ON_PEPPOL["company_name"],
        customer_tax_id=NOT_ON_PEPPOL["company_tax_id"],
    )
    document = settle(portal_on_sandbox, seller.key, document)
    assert document.state == State.FAILED
    assert "0208:1286602456 is not registered on the Peppol network" in document.failure_reason
    page = carol_client.get(reverse("invoices:detail", args=[document.pk])).content.decode()
    assert "Delivery failed:" in page and "not registered on the Peppol network" in page
    assert 'id="resend-document"' in page and 'id="delete-document"' not in page

    # The buyer joins Peppol; "send again" moves FAILED → TRANSIT → SENT.
    remote, _key = portal_on_sandbox.create_tenant_with_key(
        "atelier", company_number="1286602456", peppol_ids=["0208:1286602456"]
    )
    portal_on_sandbox.register(remote["id"], "0208:1286602456")
    carol_client.post(reverse("invoices:send", args=[document.pk]))
    document.refresh_from_db()
    assert document.state == State.TRANSIT and document.failure_reason == ""
    assert settle(portal_on_sandbox, seller.key, document).state == State.SENT


def test_it_deletes_a_draft_here_and_at_the_api(carol_client, seller, portal_on_sandbox):
    document = send_invoice(carol_client, "INV-X1", action="save")
    response = carol_client.post(reverse("invoices:delete", args=[document.pk]))
    assert response.status_code == 302
    assert not Document.objects.filter(pk=document.pk).exists()
    with portal_on_sandbox.tenant_client(seller.key) as api:
        assert api.get(f"/api/documents/{document.remote_id}").status_code == 404


def test_it_downloads_the_ubl(carol_client, seller, buyer):
    document = send_invoice(carol_client, "INV-U1", action="save")
    response = carol_client.get(reverse("invoices:ubl", args=[document.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="INV-U1.xml"'
    assert b"<cbc:ID>INV-U1</cbc:ID>" in response.content


def test_it_keeps_a_credit_note_a_credit_note_with_positive_amounts(
    carol_client, seller, buyer, portal_on_sandbox
):
    invoice = settle(portal_on_sandbox, seller.key, send_invoice(carol_client, "INV-C1"))
    body = editor_post(
        [line("Returned bread", "2", "4.50", "6")],
        action="send",
        invoice_id="CN-C1",
        corrects=str(invoice.pk),
    )
    response = carol_client.post(reverse("invoices:new_credit_note"), body)
    assert response.status_code == 302, response.content.decode()[:2000]
    credit = Document.objects.get(invoice_id="CN-C1")
    assert credit.document_type == DocumentType.CREDIT_NOTE and credit.corrects == invoice
    assert credit.total == credit.subtotal + credit.total_tax > 0
    with portal_on_sandbox.tenant_client(seller.key) as api:
        remote = api.get(f"/api/documents/{credit.remote_id}").json()
    assert remote["document_type"] == "CREDIT_NOTE" and remote["invoice_total"] == "9.54"


def test_it_offers_only_sent_invoices_of_the_tenant_to_correct(carol_client, acme, globex):
    mine = Document.objects.create(
        tenant=acme, invoice_id="INV-1", state=State.SENT, remote_id="d1"
    )
    Document.objects.create(tenant=acme, invoice_id="DRAFT-2", state=State.DRAFT, remote_id="d2")
    other = Document.objects.create(
        tenant=globex, invoice_id="GLOBEX-9", state=State.SENT, remote_id="d9"
    )
    page = carol_client.get(reverse("invoices:new_credit_note")).content.decode()
    assert f'<option value="{mine.pk}">INV-1' in page
    assert "DRAFT-2" not in page and "GLOBEX-9" not in page
    body = editor_post([line()], action="validate", invoice_id="CN-1", corrects=str(other.pk))
    response = carol_client.post(reverse("invoices:new_credit_note"), body)
    assert "Select a valid choice" in response.content.decode()


def test_it_filters_searches_and_pages_the_list(carol_client, acme):
    today = date.today()
    for i in range(30):
        Document.objects.create(
            tenant=acme,
            invoice_id=f"INV-{i:03}",
            remote_id=f"doc{i}",
            customer_name="Dijle Software BV" if i % 2 else "Kust Logistiek NV",
            state=State.SENT if i % 3 else State.FAILED,
            invoice_date=today - timedelta(days=i),
        )
    url = reverse("invoices:documents")
    first = carol_client.get(url).content.decode()
    assert first.count("data-document=") == 25 and "Page 1 of 2" in first
    assert carol_client.get(url, {"page": 2}).content.decode().count("data-document=") == 5

    failed = carol_client.get(url, {"state": "FAILED"}).content.decode()
    assert failed.count("data-document=") == 10 and 'data-state="SENT"' not in failed
    kust = carol_client.get(url, {"party": "kust"}).content.decode()
    assert kust.count("data-document=") == 15
    recent = carol_client.get(
        url, {"date_from": (today - timedelta(days=4)).isoformat(), "date_to": today.isoformat()}
    )
    assert recent.content.decode().count("data-document=") == 5
    search = carol_client.get(
        url, {"q": "INV-007"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    )
    assert (
        search.content.decode().count("data-document=") == 1
        and "<html" not in search.content.decode()
    )
    junk = carol_client.get(url, {"date_from": "2025-13-45", "page": "x", "state": "NOPE"})
    assert junk.status_code == 200


def test_it_pulls_the_inbox_when_stale(client, bob, seller, buyer, portal_on_sandbox):
    with portal_on_sandbox.tenant_client(seller.key) as api:
        payload = {
            "document_type": "INVOICE",
            "invoice_id": "IN-77",
            "invoice_date": date.today().isoformat(),
            "vendor_name": "Bakkerij Van Damme BV",
            "vendor_tax_id": "BE0706165839",
            "customer_name": BUYER["company_name"],
            "customer_tax_id": BUYER["company_tax_id"],
            "payment_term": "Net 30",
            "items": [
                {"description": "Bread", "quantity": "3", "unit_price": "2.00", "tax_rate": "6.00"}
            ],
        }
        created = api.post("/api/documents/", json=payload).json()
        api.post(f"/api/documents/{created['id']}/send")
    portal_on_sandbox.wait_for_state(seller.key, created["id"], "SENT")
    client.force_login(bob)
    page = client.get(reverse("invoices:inbox")).content.decode()
    assert 'data-document="IN-77"' in page and 'data-state="RECEIVED"' in page
    received = Document.objects.get(tenant=buyer.tenant, invoice_id="IN-77")
    assert (
        received.direction == Direction.INBOUND and received.vendor_name == "Bakkerij Van Damme BV"
    )
    assert received.total == services._dec("6.36") and received.lines.count() == 1
    detail = client.get(reverse("invoices:detail", args=[received.pk])).content.decode()
    assert "Bread" in detail and 'id="send-document"' not in detail
    # A second page load within the staleness window does not call the API again.
    before = len(portal_on_sandbox.requests())
    client.get(reverse("invoices:inbox"))
    assert [
        r for r in portal_on_sandbox.requests()[before:] if r["path"].startswith("/api/inbox")
    ] == []


def test_it_adopts_the_document_of_a_lost_create_answer_instead_of_making_two(
    carol_client, seller, buyer, portal_on_sandbox
):
    portal_on_sandbox.set_faults(
        rules=[
            {"method": "POST", "path": "/api/documents/", "action": "drop_after_write", "times": 1}
        ]
    )
    body = editor_post([line()], action="send", invoice_id="INV-L1")
    response = carol_client.post(NEW, body)
    document = Document.objects.get(invoice_id="INV-L1")
    assert response.status_code == 302 and response["Location"].endswith(f"/{document.pk}/")
    assert document.remote_id == "" and document.state == State.DRAFT
    page = carol_client.get(response["Location"]).content.decode()
    assert "cannot be reached right now" in page and 'id="send-document"' in page

    carol_client.post(reverse("invoices:send", args=[document.pk]))
    document.refresh_from_db()
    assert document.remote_id and document.state == State.TRANSIT
    with portal_on_sandbox.tenant_client(seller.key) as api:
        drafts = api.get("/api/drafts/", params={"search": "INV-L1"}).json()["items"]
    assert [d["id"] for d in drafts] == [document.remote_id]  # one document, not two


def test_it_sends_discounts_and_surcharges_with_totals_the_api_agrees_with(
    carol_client, seller, buyer, portal_on_sandbox
):
    adjustments = [
        {"kind": "allowance", "reason": "Loyal customer", "amount": "4.55", "tax_rate": "6"},
        {"kind": "charge", "reason": "Delivery", "amount": "7.50", "tax_rate": "21"},
    ]
    lines = [line("Bread", "10", "4.55", "6"), line("Cake", "3", "12.35", "21")]
    body = editor_post(lines, adjustments, action="validate", invoice_id="INV-AC1")
    assert 'id="validated"' in carol_client.post(NEW, body).content.decode()
    carol_client.post(NEW, {**body, "action": "send"})
    document = Document.objects.get(invoice_id="INV-AC1")
    # 45.50 − 4.55 = 40.95 at 6% → 2.46; 37.05 + 7.50 = 44.55 at 21% → 9.36
    assert (str(document.subtotal), str(document.total_tax), str(document.total)) == (
        "85.50",
        "11.82",
        "97.32",
    )
    with portal_on_sandbox.tenant_client(seller.key) as api:
        remote = api.get(f"/api/documents/{document.remote_id}").json()
    assert (remote["subtotal"], remote["total_tax"], remote["invoice_total"]) == (
        "85.50",
        "11.82",
        "97.32",
    )
    assert [a["reason"] for a in remote["allowances"]] == ["Loyal customer"]
    assert [c["reason"] for c in remote["charges"]] == ["Delivery"]


def test_the_buyer_sees_the_discounts_so_the_lines_add_up_to_the_total(
    client, carol, bob, seller, buyer, portal_on_sandbox
):
    adjustments = [
        {"kind": "allowance", "reason": "Loyal customer", "amount": "50", "tax_rate": "21"},
        {"kind": "charge", "reason": "Delivery", "amount": "7.50", "tax_rate": "21"},
    ]
    lines = [line("Consultancy", "8", "95", "21", unit="HUR"), line("Licence", "1", "1250,5", "6")]
    client.force_login(carol)
    client.post(NEW, editor_post(lines, adjustments, action="send", invoice_id="INV-DS1"))
    sent = Document.objects.get(invoice_id="INV-DS1", direction=Direction.OUTBOUND)
    mine = text_of(client.get(reverse("invoices:detail", args=[sent.pk])))
    # Prices with their cents, units in words, the IBAN as on a bank statement.
    assert "Licence 1 piece (C62) 1,250.50 6 1,250.50" in mine
    assert "Consultancy 8 hour (HUR) 95.00 21 760.00" in mine
    assert "BE68 5390 0754 7034" in mine
    assert "Lines 2,010.50 Discounts −50.00 Surcharges 7.50 Total without VAT 1,968.00" in mine

    portal_on_sandbox.wait_for_state(seller.key, sent.remote_id, "SENT")
    client.force_login(bob)
    client.get(reverse("invoices:inbox"), {"refresh": "1"})
    received = Document.objects.get(tenant=buyer.tenant, invoice_id="INV-DS1")
    theirs = text_of(client.get(reverse("invoices:detail", args=[received.pk])))
    assert "Allowance (discount) Loyal customer 21 −50.00" in theirs
    assert "Charge (surcharge) Delivery 21 7.50" in theirs
    assert "Lines 2,010.50 Discounts −50.00 Surcharges 7.50 Total without VAT 1,968.00" in theirs


def text_of(response) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_a_revoked_key_disables_sending_and_says_so_once(carol_client, acme):
    draft = Document.objects.create(tenant=acme, invoice_id="INV-K1", remote_id="doc_k1")
    url = reverse("invoices:detail", args=[draft.pk])
    page = carol_client.get(url).content.decode()
    assert page.count("Ask your reseller to issue a new key") == 1
    assert 'id="send-document" disabled' in page and 'id="download-ubl"' not in page
    # A click from a page opened before the revocation: the banner, not the message twice.
    page = carol_client.post(reverse("invoices:send", args=[draft.pk]), follow=True)
    assert page.content.decode().count("Ask your reseller to issue a new key") == 1
    draft.refresh_from_db()
    assert draft.state == State.DRAFT


def test_the_inbox_has_no_state_filter_of_one_value(carol_client, acme, monkeypatch):
    monkeypatch.setattr("invoices.services.sync_inbox", lambda tenant, force=False: 0)
    assert 'name="state"' in carol_client.get(reverse("invoices:documents")).content.decode()
    assert 'name="state"' not in carol_client.get(reverse("invoices:inbox")).content.decode()
