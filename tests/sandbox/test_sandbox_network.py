"""The sandbox as a little Peppol network: sending, receiving, lookups, listings, stats."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from .conftest import CUSTOMER_PEPPOL_ID, invoice

TO_BAKKERIJ = {"customer_name": "Bakkerij Van Damme BV", "customer_tax_id": "BE0706165839"}


@pytest.fixture
def customer(sandbox: Any) -> tuple[dict[str, Any], str]:
    """A second sandbox tenant, registered as Bakkerij Van Damme BV."""
    tenant, key = sandbox.create_tenant_with_key(
        "bakkerij-van-damme", company_number="0706165839", peppol_ids=[CUSTOMER_PEPPOL_ID]
    )
    sandbox.register(tenant["id"], CUSTOMER_PEPPOL_ID)
    return tenant, key


def create(sandbox: Any, key: str, **changes: Any) -> dict[str, Any]:
    with sandbox.tenant_client(key) as client:
        response = client.post("/api/documents/", json=invoice(**changes))
    assert response.status_code == 201, response.text
    return response.json()


def test_it_delivers_a_document_to_another_sandbox_tenants_inbox(sandbox, vendor, customer):
    _, vendor_key = vendor
    customer_tenant, customer_key = customer
    doc = create(sandbox, vendor_key, **TO_BAKKERIJ)
    with sandbox.tenant_client(vendor_key) as client:
        client.post(f"/api/documents/{doc['id']}/send")
    assert sandbox.wait_for_state(vendor_key, doc["id"], {"SENT", "FAILED"})["state"] == "SENT"

    with sandbox.tenant_client(customer_key) as client:
        inbox = client.get("/api/inbox/").json()
        assert inbox["total"] == 1
        received = inbox["items"][0]
        assert received["id"] != doc["id"]  # the recipient's own copy
        assert received["state"] == "RECEIVED"
        assert received["direction"] == "INBOUND"
        assert received["invoice_id"] == "INV-2024-001"
        assert received["invoice_total"] == "1210.00"
        timeline = client.get(f"/api/documents/{received['id']}/timeline").json()
        assert [e["event_type"] for e in timeline["events"]] == ["receive_success"]
        ubl = client.get(f"/api/documents/{received['id']}/ubl").json()
        assert (ubl["sender_peppol_scheme"], ubl["sender_peppol_id"]) == ("0208", "1018265814")
        # The sender cannot read the recipient's copy.
    with sandbox.tenant_client(vendor_key) as client:
        assert client.get(f"/api/documents/{received['id']}").status_code == 404
        assert client.get("/api/inbox/").json()["total"] == 0
        assert client.get("/api/outbox/").json()["total"] == 1


def test_it_fails_a_document_whose_receiver_is_not_a_participant(sandbox, vendor):
    _, key = vendor
    doc = create(sandbox, key, customer_name="Atelier Lumière SRL", customer_tax_id="BE1286602456")
    with sandbox.tenant_client(key) as client:
        assert client.post(f"/api/documents/{doc['id']}/send").json()["state"] == "TRANSIT"
        failed = sandbox.wait_for_state(key, doc["id"], {"SENT", "FAILED"})
        assert failed["state"] == "FAILED"
        events = client.get(f"/api/documents/{doc['id']}/timeline").json()["events"]
        assert [e["event_type"] for e in events] == [
            "document_created",
            "send_attempted",
            "send_failed",
        ]
        assert "0208:1286602456" in events[-1]["details"]["reason"]
        # Failed documents stay in the drafts listing (DRAFT, TRANSIT, FAILED by default).
        assert client.get("/api/drafts/").json()["items"][0]["state"] == "FAILED"


def test_it_sends_a_failed_document_again_only_under_the_old_guess(sandbox, vendor):
    # SANDBOX_RESEND_FAILED: the sandbox's old FAILED -> TRANSIT (the file says 405; the
    # documented answer is tested in test_sandbox_contract.py).
    sandbox.configure(resend_failed=True)
    _, key = vendor
    doc = create(sandbox, key, customer_name="Atelier Lumière SRL", customer_tax_id="BE1286602456")
    with sandbox.tenant_client(key) as client:
        client.post(f"/api/documents/{doc['id']}/send")
        assert sandbox.wait_for_state(key, doc["id"], {"SENT", "FAILED"})["state"] == "FAILED"
        atelier, _ = sandbox.create_tenant_with_key("atelier", peppol_ids=["0208:1286602456"])
        sandbox.register(atelier["id"], "0208:1286602456")
        assert client.post(f"/api/documents/{doc['id']}/send").status_code == 200
    assert sandbox.wait_for_state(key, doc["id"], {"SENT", "FAILED"})["state"] == "SENT"


def test_it_uses_the_receiver_from_the_query_parameters(sandbox, vendor, customer):
    _, vendor_key = vendor
    _, customer_key = customer
    doc = create(sandbox, vendor_key)  # addressed to OpenPeppol by VAT number...
    with sandbox.tenant_client(vendor_key) as client:
        response = client.post(
            f"/api/documents/{doc['id']}/send",
            params={"receiver_peppol_scheme": "0208", "receiver_peppol_id": "0706165839"},
        )
        assert response.status_code == 200
    sandbox.wait_for_state(vendor_key, doc["id"], "SENT")
    with sandbox.tenant_client(customer_key) as client:  # ...but routed to the bakery
        assert client.get("/api/inbox/").json()["total"] == 1


def test_it_answers_405_when_sending_a_document_that_is_not_a_draft(sandbox, vendor):
    _, key = vendor
    doc = create(sandbox, key)
    with sandbox.tenant_client(key) as client:
        client.post(f"/api/documents/{doc['id']}/send")
        again = client.post(f"/api/documents/{doc['id']}/send")
    assert again.status_code == 405
    assert "not in draft state" in again.json()["detail"]


def test_it_answers_400_when_peppol_information_is_missing(sandbox, vendor):
    _, key = vendor
    doc = create(sandbox, key)
    with sandbox.tenant_client(key) as client:
        response = client.post(
            f"/api/documents/{doc['id']}/send", params={"receiver_peppol_scheme": "0208"}
        )
    assert response.status_code == 400
    assert "receiver_peppol_id" in response.json()["detail"]


def test_it_answers_409_when_sending_from_someone_elses_peppol_id(sandbox, vendor):
    _, key = vendor
    doc = create(sandbox, key)
    with sandbox.tenant_client(key) as client:
        response = client.post(
            f"/api/documents/{doc['id']}/send",
            params={"sender_peppol_scheme": "0208", "sender_peppol_id": "0443055814"},
        )
        assert response.status_code == 409
        assert "not allowed" in response.json()["detail"]
        assert client.get(f"/api/documents/{doc['id']}").json()["state"] == "DRAFT"


def test_it_answers_404_for_unknown_documents(sandbox, vendor):
    _, key = vendor
    with sandbox.tenant_client(key) as client:
        for method, path in [
            ("GET", "/api/documents/doc_nope"),
            ("DELETE", "/api/documents/doc_nope"),
            ("POST", "/api/documents/doc_nope/send"),
            ("GET", "/api/documents/doc_nope/timeline"),
            ("GET", "/api/documents/doc_nope/ubl"),
        ]:
            response = client.request(method, path)
            assert response.status_code == 404, path
            assert response.json() == {"detail": "Document not found"}


def test_it_deletes_drafts_only(sandbox, vendor):
    _, key = vendor
    draft = create(sandbox, key)
    sent = create(sandbox, key, invoice_id="INV-2")
    with sandbox.tenant_client(key) as client:
        client.post(f"/api/documents/{sent['id']}/send")
        refused = client.delete(f"/api/documents/{sent['id']}")
        assert refused.status_code == 400
        assert "not in draft state" in refused.json()["detail"]
        deleted = client.delete(f"/api/documents/{draft['id']}")
        assert deleted.status_code == 200
        assert deleted.json() == {"is_deleted": True}
        assert client.get(f"/api/documents/{draft['id']}").status_code == 404


def test_it_keeps_attachments_sent_with_the_document(sandbox, vendor):
    _, key = vendor
    doc = create(
        sandbox,
        key,
        attachments=[
            {"file_name": "terms.pdf", "file_type": "application/pdf", "file_data": "JVBERi0xLjQK"}
        ],
    )
    with sandbox.tenant_client(key) as client:
        listed = client.get(f"/api/documents/{doc['id']}/attachments").json()
        assert [(a["file_name"], a["file_size"]) for a in listed] == [("terms.pdf", 9)]
        one = client.get(f"/api/documents/{doc['id']}/attachments/{listed[0]['id']}")
        assert one.json()["file_name"] == "terms.pdf"
        gone = client.delete(f"/api/documents/{doc['id']}/attachments/{listed[0]['id']}")
        assert gone.json() == {"is_deleted": True}
        assert client.get(f"/api/documents/{doc['id']}/attachments").json() == []


def test_it_filters_sorts_and_pages_the_drafts(sandbox, vendor):
    _, key = vendor
    create(sandbox, key, invoice_id="B-2", invoice_date="2024-10-02")
    create(sandbox, key, invoice_id="A-1", invoice_date="2024-10-01")
    create(sandbox, key, invoice_id="C-3", invoice_date="2024-11-15")
    with sandbox.tenant_client(key) as client:
        by_id = client.get("/api/drafts/", params={"sort_by": "invoice_id", "sort_order": "asc"})
        assert [d["invoice_id"] for d in by_id.json()["items"]] == ["A-1", "B-2", "C-3"]
        newest = client.get("/api/drafts/").json()["items"]
        assert [d["invoice_id"] for d in newest] == ["C-3", "A-1", "B-2"]  # created_at desc
        october = client.get(
            "/api/drafts/",
            params={"date_from": "2024-10-01T00:00:00", "date_to": "2024-10-31T00:00:00"},
        ).json()
        assert october["total"] == 2
        assert client.get("/api/drafts/", params={"search": "c-3"}).json()["total"] == 1
        page = client.get("/api/drafts/", params={"page": 2, "page_size": 2}).json()
        assert (page["total"], page["pages"], page["page"], page["has_next_page"]) == (
            3,
            2,
            2,
            False,
        )
        assert len(page["items"]) == 1
        too_big = client.get("/api/drafts/", params={"page_size": 101})
        assert too_big.status_code == 422
        assert too_big.json()["detail"][0]["loc"] == ["query", "page_size"]


def test_it_answers_lookups_from_registered_tenants_and_seeded_participants(
    sandbox, vendor, customer
):
    _, key = vendor
    with sandbox.tenant_client(key) as client:
        known = client.get(
            "/api/validate/peppol-id", params={"peppol_id": CUSTOMER_PEPPOL_ID}
        ).json()
        assert known["is_valid"] is True
        assert known["business_card"]["name"] == "Bakkerij Van Damme BV"
        unknown = client.get("/api/validate/peppol-id", params={"peppol_id": "0208:1286602456"})
        assert unknown.json()["is_valid"] is False
        malformed = client.get("/api/validate/peppol-id", params={"peppol_id": "BE0706165839"})
        assert malformed.status_code == 422
        assert isinstance(malformed.json()["detail"], str)
        outside = client.get("/api/lookup", params={"peppol_id": "9944:NL123456782B01"}).json()
        assert outside["status"] == "success"
        assert outside["businessCard"]["entities"][0]["name"] == "Voorbeeld Handel B.V."
        assert (
            client.get("/api/lookup", params={"peppol_id": "0208:1286602456"}).json()["status"]
            == "error"
        )
        found = client.get("/api/lookup/participants", params={"query": "bakkerij"}).json()
        assert [p["peppol_id"] for p in found["participants"]] == [CUSTOMER_PEPPOL_ID]
        german = client.get(
            "/api/lookup/participants", params={"query": "gmbh", "country_code": "DE"}
        )
        assert german.json()["total_count"] == 1


def test_it_counts_sent_and_received_documents_in_the_stats(sandbox, vendor, customer):
    _, vendor_key = vendor
    _, customer_key = customer
    doc = create(sandbox, vendor_key, **TO_BAKKERIJ)
    with sandbox.tenant_client(vendor_key) as client:
        client.post(f"/api/documents/{doc['id']}/send")
    sandbox.wait_for_state(vendor_key, doc["id"], "SENT")
    with sandbox.tenant_client(vendor_key) as client:
        sent = client.get("/api/stats").json()
        bad_range = client.get(
            "/api/stats", params={"start_date": "2024-02-01", "end_date": "2024-01-01"}
        )
    with sandbox.tenant_client(customer_key) as client:
        received = client.get("/api/stats", params={"aggregation": "MONTH"}).json()
    assert [(a["action"], a["count"]) for a in sent["actions"]] == [("DOCUMENT_SENT", 1)]
    assert [(a["action"], a["count"]) for a in received["actions"]] == [("DOCUMENT_RECEIVED", 1)]
    assert received["actions"][0]["stat_date"].endswith("-01")
    assert bad_range.status_code == 400


def test_it_drops_an_outside_invoice_into_an_inbox_on_request(sandbox, customer):
    tenant, key = customer
    doc = sandbox.receive(tenant["id"], invoice(**TO_BAKKERIJ), sender_peppol_id="0208:0848934496")
    assert doc["state"] == "RECEIVED"
    with sandbox.tenant_client(key) as client:
        assert client.get("/api/inbox/", params={"sender": "e-invoice"}).json()["total"] == 1
        assert client.get("/api/inbox/credit-notes").json()["total"] == 0


def test_it_refuses_the_organization_key_on_the_tenant_api(sandbox):
    with sandbox.tenant_client(sandbox.org_key) as client:
        response = client.get("/api/me/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid authentication credentials"}


def test_it_bills_each_action_a_credit_and_estimates_the_budget_from_it(sandbox, vendor):
    tenant, key = vendor
    today = date.today()
    days = [{"day": today - timedelta(days=n), "sent": 3, "received": 1} for n in range(10)]
    sandbox.add_usage(tenant["id"], days, plan="starter", credit_balance=400)
    with sandbox.tenant_client(key) as client:
        me = client.get("/api/me/").json()
        stats = client.get("/api/stats", params={"start_date": str(today - timedelta(days=9))})
    assert (me["plan"], me["credit_balance"]) == ("starter", 400)
    body = stats.json()
    assert body["average_daily_usage"] == 4.0
    assert body["budget_estimation_days"] == 100.0  # 400 credits at 4 a day
    assert sum(a["count"] for a in body["actions"] if a["action"] == "DOCUMENT_SENT") == 30
