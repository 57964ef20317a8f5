"""Every curl example of the invoice (tenant API) guide, run against the sandbox."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import ISSUE_KEYS, invoice


def curl_post(sandbox: Any, key: str, path: str, payload: dict[str, Any]) -> httpx.Response:
    """POST as the guide's curl examples do: bearer tenant key, JSON body."""
    return httpx.post(
        f"{sandbox.url}{path}",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        json=payload,
    )


def test_it_validates_the_guides_invoice_json(sandbox, vendor):
    _, key = vendor
    response = curl_post(sandbox, key, "/api/validate/json", invoice())
    assert response.status_code == 201
    body = response.json()
    # The guide's shape...
    assert body["valid"] is True
    assert body["message"] == "Invoice JSON is valid and can be converted to UBL BIS Billing 3.0"
    # ...and the spec's (the one the SDK parses).
    assert body["is_valid"] is True
    assert body["issues"] == []
    assert {"id", "file_name", "ubl_document"} <= body.keys()
    assert "<cbc:ID>INV-2024-001</cbc:ID>" in body["ubl_document"]


def test_it_reports_validation_errors_per_field(sandbox, vendor):
    _, key = vendor
    bad = invoice(vendor_tax_id="BE123")
    bad["items"][0]["tax_rate"] = "21%"
    with sandbox.tenant_client(key) as client:
        body = client.post("/api/validate/json", json=bad).json()
    assert body["valid"] is False
    assert body["is_valid"] is False
    fields = {e["field"] for e in body["errors"]}
    assert {"vendor_tax_id", "items[0].tax_rate"} <= fields
    for issue in body["issues"]:
        assert ISSUE_KEYS <= issue.keys()
        assert issue["type"] in ("error", "warning")


def test_it_creates_the_guides_invoice_as_a_draft_with_computed_totals(sandbox, vendor):
    _, key = vendor
    response = curl_post(sandbox, key, "/api/documents/", invoice())
    assert response.status_code == 201
    doc = response.json()
    assert doc["id"].startswith("doc_")
    assert doc["document_type"] == "INVOICE"
    assert doc["state"] == "DRAFT"
    assert doc["invoice_id"] == "INV-2024-001"
    assert doc["invoice_date"] == "2024-10-24"
    assert doc["invoice_total"] == "1210.00"
    assert doc["total_tax"] == "210.00"
    assert doc["subtotal"] == "1000.00"
    assert doc["created_at"] and doc["updated_at"]
    assert doc["items"][0]["tax_rate"] == "21.00"
    assert doc["tax_details"][0]["amount"] == "210.00"


def test_it_computes_missing_line_amounts_and_totals(sandbox, vendor):
    _, key = vendor
    payload = invoice()
    del payload["items"][0]["amount"]
    payload["items"].append(
        {"description": "Books", "quantity": 2, "unit_price": "25", "tax_rate": "6.00"}
    )
    with sandbox.tenant_client(key) as client:
        response = client.post("/api/documents/", json=payload)
    assert response.status_code == 201, response.text
    doc = response.json()
    assert [i["amount"] for i in doc["items"]] == ["1000.00", "50.00"]
    assert doc["subtotal"] == "1050.00"
    assert doc["total_tax"] == "213.00"
    assert doc["invoice_total"] == "1263.00"


def test_it_refuses_to_create_an_invalid_invoice_with_406_and_the_issues(sandbox, vendor):
    _, key = vendor
    with sandbox.tenant_client(key) as client:
        response = client.post("/api/documents/", json=invoice(vendor_tax_id="BE123"))
        assert response.status_code == 406
        body = response.json()
        assert isinstance(body["detail"], str)
        assert "not valid according to Peppol BIS Billing 3.0" in body["detail"]
        # ErrorResponse: the issues are named in the text only (validate/json lists them).
        assert set(body) == {"detail"} and "vendor_tax_id: " in body["detail"]
        assert client.get("/api/drafts/").json()["total"] == 0


def test_it_refuses_wrong_types_with_a_422_naming_each_field(sandbox, vendor):
    _, key = vendor
    payload = invoice(invoice_date="24/10/2024", currency="EURO")
    payload["items"][0]["quantity"] = [10]  # a list is no number
    with sandbox.tenant_client(key) as client:
        response = client.post("/api/documents/", json=payload)
    assert response.status_code == 422
    # The file documents ErrorResponse for this 422: FastAPI's errors as one line of text.
    detail = response.json()["detail"]
    assert detail.startswith("Validation error: ")
    assert "body.invoice_date: invalid date format" in detail
    assert "body.currency: value is not a valid enumeration member" in detail
    assert "body.items.0.quantity: value is not a valid decimal" in detail


def test_it_answers_fastapis_list_for_the_same_422_under_the_old_guess(sandbox, vendor):
    sandbox.configure(validation_lists=True)
    _, key = vendor
    payload = invoice(invoice_date="24/10/2024", currency="EURO")
    payload["items"][0]["quantity"] = [10]
    with sandbox.tenant_client(key) as client:
        response = client.post("/api/documents/", json=payload)
    assert response.status_code == 422
    errors = {tuple(e["loc"]): e for e in response.json()["detail"]}
    assert errors[("body", "invoice_date")]["type"] == "value_error.date"
    assert errors[("body", "currency")]["type"] == "type_error.enum"
    assert errors[("body", "items", 0, "quantity")]["msg"] == "value is not a valid decimal"
    assert all(set(e) == {"loc", "msg", "type"} for e in response.json()["detail"])


def test_it_refuses_an_empty_item_list_with_422(sandbox, vendor):
    _, key = vendor
    with sandbox.tenant_client(key) as client:
        response = client.post("/api/documents/", json=invoice(items=[]))
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "Validation error: body.items: ensure this value has at least 1 items"
    )


def test_it_sends_the_guides_invoice(sandbox, vendor):
    _, key = vendor
    with sandbox.tenant_client(key) as client:
        doc = client.post("/api/documents/", json=invoice()).json()
        response = client.post(f"/api/documents/{doc['id']}/send")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == doc["id"]
    assert body["state"] == "TRANSIT"
    assert body["message"] == "Document queued for transmission"
    # OpenPeppol VZW is a (seeded) participant outside the sandbox: delivery succeeds.
    assert sandbox.wait_for_state(key, doc["id"], {"SENT", "FAILED"})["state"] == "SENT"


def test_it_creates_a_credit_note(sandbox, vendor):
    _, key = vendor
    with sandbox.tenant_client(key) as client:
        response = client.post(
            "/api/documents/",
            json=invoice(
                document_type="CREDIT_NOTE",
                invoice_id="CN-2024-001",
                billing_reference="INV-2024-001",
            ),
        )
        assert response.status_code == 201, response.text
        doc = response.json()
        assert doc["document_type"] == "CREDIT_NOTE"
        ubl = client.get(f"/api/documents/{doc['id']}/ubl").json()
        xml = httpx.get(ubl["signed_url"]).text
    assert "<CreditNote" in xml


def test_it_walks_the_guides_complete_example(sandbox, vendor):
    """validate -> create -> send, checking `valid`, `id` and `state` as the Node example does."""
    _, key = vendor
    with sandbox.tenant_client(key) as client:
        validation = client.post("/api/validate/json", json=invoice(payment_term="Net 30 days"))
        assert validation.json()["valid"] is True
        created = client.post("/api/documents/", json=invoice(payment_term="Net 30 days")).json()
        sent = client.post(f"/api/documents/{created['id']}/send").json()
    assert sent["state"] == "TRANSIT"
