"""What e-invoice.be's OpenAPI file and webhook documentation fix, with the compatibility
settings off (the suite's sandbox starts with them on for the portal; see sandbox/README.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from sandbox import pdf_render

from .conftest import invoice

DOCUMENTED = {"resend_failed": False, "error_extras": False, "validation_lists": False,
              "webhook_compact_json": False}  # fmt: skip
ALREADY_SENT = {"customer_name": "Unknown BV", "customer_tax_id": "BE1286602456"}


@pytest.fixture
def documented(sandbox: Any, vendor: tuple[dict[str, Any], str]) -> Any:
    sandbox.configure(**DOCUMENTED)
    _, key = vendor
    with sandbox.tenant_client(key) as client:
        yield client


def test_it_answers_error_response_422s_where_the_file_documents_them(documented):
    created = documented.post("/api/documents/", json=invoice(items=[]))
    lookup = documented.get("/api/lookup")
    timeline = documented.get("/api/documents/doc_x/timeline", params={"x": 1})
    assert created.status_code == lookup.status_code == 422
    assert isinstance(created.json()["detail"], str) and "items" in created.json()["detail"]
    assert isinstance(lookup.json()["detail"], str)
    assert timeline.status_code == 404  # no 422 to give; HTTPValidationError routes keep lists
    listing = documented.get("/api/inbox/", params={"page": 0})
    assert listing.status_code == 422 and listing.json()["detail"][0]["loc"] == ["query", "page"]


def test_it_refuses_with_only_a_detail_where_the_file_promises_nothing_else(documented):
    refused = documented.post("/api/documents/", json=invoice(vendor_tax_id="BE123"))
    assert refused.status_code == 406
    assert set(refused.json()) == {"detail"}


def test_it_never_sends_a_failed_document_again(sandbox, documented):
    doc = documented.post("/api/documents/", json=invoice(**ALREADY_SENT)).json()
    assert documented.post(f"/api/documents/{doc['id']}/send").status_code == 200
    key = documented.headers["Authorization"].removeprefix("Bearer ")
    assert sandbox.wait_for_state(key, doc["id"], {"SENT", "FAILED"})["state"] == "FAILED"
    again = documented.post(f"/api/documents/{doc['id']}/send")
    assert again.status_code == 405 and set(again.json()) == {"detail"}


def test_it_creates_a_document_from_a_ubl_upload_and_validates_one(sandbox, documented):
    ubl = documented.post("/api/validate/json", json=invoice()).json()["ubl_document"]
    files = {"file": ("inv.xml", ubl.encode(), "application/xml")}
    check = documented.post("/api/validate/ubl", files=files)
    created = documented.post("/api/documents/ubl", files=files)
    assert check.status_code == 201 and check.json()["is_valid"] is True
    assert created.status_code == 201, created.text
    doc = created.json()
    assert (doc["invoice_id"], doc["state"], doc["invoice_total"]) == (
        "INV-2024-001",
        "DRAFT",
        "1210.00",
    )
    assert documented.get(f"/api/documents/{doc['id']}/timeline").json()["events"][0][
        "details"
    ] == {"source": "ubl"}
    not_xml = documented.post(
        "/api/documents/ubl", files={"file": ("x.xml", b"%PDF-1.4", "application/pdf")}
    )
    assert not_xml.status_code == 415
    assert documented.post("/api/validate/ubl", files={"file": ("x", b"nope")}).status_code == 422


def test_it_reads_what_it_can_from_a_pdf(documented):
    pdf = pdf_render.render(invoice(), {"invoice_total": "1210.00"})
    answer = documented.post("/api/documents/pdf", files={"file": ("inv.pdf", pdf)}).json()
    assert answer["invoice_id"] == "INV-2024-001"
    assert (answer["vendor_tax_id"], answer["customer_tax_id"]) == ("BE1018265814", "BE0848934496")
    assert answer["items"][0]["amount"] == "1000.00"
    assert (
        documented.post("/api/documents/pdf", files={"file": ("a.pdf", b"GIF89a")}).status_code
        == 415
    )


def test_it_converts_a_pdf_asynchronously(sandbox, documented):
    sandbox.configure(conversion_delay=0.1)
    pdf = pdf_render.render(invoice(), {"invoice_total": "1210.00"})
    task = documented.post("/api/conversion/pdf", files={"file": ("inv.pdf", pdf)}).json()
    assert task["status"] == "pending"
    early = documented.get(f"/api/conversion/pdf/{task['task_id']}/result")
    assert early.status_code == 404
    import time

    deadline = time.monotonic() + 5
    while documented.get(f"/api/conversion/pdf/{task['task_id']}").json()["status"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    result = documented.get(f"/api/conversion/pdf/{task['task_id']}/result").json()
    assert result["invoice_id"] == "INV-2024-001"


def test_it_adds_attachments_within_size_and_type_limits(sandbox, documented):
    sandbox.configure(attachment_max_bytes=1000)
    doc = documented.post("/api/documents/", json=invoice()).json()
    url = f"/api/documents/{doc['id']}/attachments"
    added = documented.post(url, files={"file": ("terms.pdf", b"%PDF-1.4 tiny", "application/pdf")})
    assert added.status_code == 201
    assert added.json()["file_type"] == "application/pdf" and added.json()["file_size"] == 13
    too_big = documented.post(url, files={"file": ("big.pdf", b"%PDF-" + b"x" * 1000)})
    exe = documented.post(url, files={"file": ("run.exe", b"MZ\x90\x00")})
    assert too_big.status_code == exe.status_code == 422
    assert [a["id"] for a in documented.get(url).json()] == [added.json()["id"]]
    attachment_id = added.json()["id"]
    assert documented.get(f"{url}/{attachment_id}").json()["file_name"] == "terms.pdf"
    assert documented.delete(f"{url}/{attachment_id}").json() == {"is_deleted": True}


def test_it_constructs_a_pdf_when_asked(documented):
    doc = documented.post(
        "/api/documents/", params={"construct_pdf": "true"}, json=invoice()
    ).json()
    [pdf] = doc["attachments"]
    assert pdf["file_type"] == "application/pdf" and pdf["file_name"] == "INV-2024-001.pdf"
    ubl = documented.get(f"/api/documents/{doc['id']}/ubl").json()
    xml = documented.get(ubl["signed_url"]).text
    embedded = xml.split('filename="INV-2024-001.pdf">', 1)[1].split("<", 1)[0]
    assert base64.b64decode(embedded).startswith(b"%PDF-")


def test_it_answers_an_empty_history_for_an_unknown_webhook(documented):
    answer = documented.get("/api/webhooks/wh_unknown/history")
    assert answer.status_code == 200 and answer.json() == {"history": []}


def test_it_signs_webhooks_exactly_as_the_documentation_shows(documented, webhook_receiver):
    hook = documented.post(
        "/api/webhooks/", json={"url": webhook_receiver.url, "events": ["document.sent"]}
    ).json()
    test = {"event_type": "document.sent", "data": {"vendor_name": "Café Zoë", "n": [1, 2]}}
    assert documented.post(f"/api/webhooks/{hook['id']}/test", json=test).json()["success"]
    [delivery] = webhook_receiver.wait_for(1)
    event = json.loads(delivery["body"])
    canonical = json.dumps(event, sort_keys=True)  # default separators, ensure_ascii
    assert delivery["body"] == canonical.encode("utf-8")
    assert '"n": [1, 2]' in canonical and "Caf\\u00e9 Zo\\u00eb" in canonical
    expected = hmac.new(hook["secret"].encode(), canonical.encode("utf-8"), hashlib.sha256)
    assert delivery["headers"]["X-Signature"] == "sha256=" + expected.hexdigest()
