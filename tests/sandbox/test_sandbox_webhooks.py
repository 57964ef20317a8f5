"""Webhooks: CRUD, signed deliveries for the document events, retries, no redirects."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from .conftest import CUSTOMER_PEPPOL_ID, invoice


def subscribe(sandbox: Any, key: str, url: str, events: list[str]) -> dict[str, Any]:
    with sandbox.tenant_client(key) as client:
        response = client.post("/api/webhooks/", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    return response.json()


def send(sandbox: Any, key: str, **changes: Any) -> str:
    with sandbox.tenant_client(key) as client:
        doc = client.post("/api/documents/", json=invoice(**changes)).json()
        client.post(f"/api/documents/{doc['id']}/send")
    return doc["id"]


def verify(delivery: dict[str, Any], secret: str) -> dict[str, Any]:
    """What the portal does: check X-Signature over the raw body, then parse."""
    expected = "sha256=" + hmac.new(secret.encode(), delivery["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(delivery["headers"]["X-Signature"], expected)
    event = json.loads(delivery["body"])
    # The body is exactly the documented serialization of the event (default separators).
    assert delivery["body"] == json.dumps(event, sort_keys=True).encode()
    assert set(event) == {"id", "timestamp", "type", "data"}
    return event


def test_it_manages_webhooks(sandbox, vendor):
    _, key = vendor
    hook = subscribe(sandbox, key, "https://portal.example/hooks", ["document.sent"])
    assert hook["secret"]
    assert hook["enabled"] is True
    with sandbox.tenant_client(key) as client:
        assert [h["id"] for h in client.get("/api/webhooks/").json()] == [hook["id"]]
        assert (
            client.get(f"/api/webhooks/{hook['id']}").json()["url"]
            == "https://portal.example/hooks"
        )
        updated = client.put(
            f"/api/webhooks/{hook['id']}",
            json={"events": ["document.sent", "document.received"], "enabled": False},
        ).json()
        assert updated["events"] == ["document.sent", "document.received"]
        assert updated["enabled"] is False
        assert client.delete(f"/api/webhooks/{hook['id']}").json() == {"is_deleted": True}
        missing = client.get(f"/api/webhooks/{hook['id']}")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Webhook not found"}


def test_it_refuses_unknown_events_and_bad_urls(sandbox, vendor):
    _, key = vendor
    with sandbox.tenant_client(key) as client:
        unknown = client.post(
            "/api/webhooks/", json={"url": "https://x.example", "events": ["x.y"]}
        )
        bad_url = client.post("/api/webhooks/", json={"url": "not a url", "events": []})
    assert unknown.status_code == 422
    assert bad_url.status_code == 422
    # The file documents ErrorResponse for this 422: one line of text naming the field.
    assert bad_url.json()["detail"].startswith("Validation error: body.url: ")


def test_it_signs_sent_and_received_events(sandbox, vendor, webhook_receiver):
    _, vendor_key = vendor
    customer, customer_key = sandbox.create_tenant_with_key(
        "bakkerij", peppol_ids=[CUSTOMER_PEPPOL_ID], company_number="0706165839"
    )
    sandbox.register(customer["id"], CUSTOMER_PEPPOL_ID)
    vendor_hook = subscribe(
        sandbox, vendor_key, webhook_receiver.url + "/vendor", ["document.sent"]
    )
    customer_hook = subscribe(
        sandbox, customer_key, webhook_receiver.url + "/customer", ["document.received"]
    )
    doc_id = send(sandbox, vendor_key, customer_tax_id="BE0706165839")

    deliveries = {d["path"]: d for d in webhook_receiver.wait_for(2)}
    sent = verify(deliveries["/hooks/vendor"], vendor_hook["secret"])
    received = verify(deliveries["/hooks/customer"], customer_hook["secret"])
    assert sent["type"] == "document.sent"
    assert sent["data"]["document_id"] == doc_id
    assert sent["data"]["state"] == "SENT"
    assert received["type"] == "document.received"
    assert received["data"]["state"] == "RECEIVED"
    assert received["data"]["document_id"] != doc_id
    assert sent["id"] != received["id"]
    assert sent["timestamp"].endswith("Z")


def test_it_reports_failed_sends(sandbox, vendor, webhook_receiver):
    _, key = vendor
    hook = subscribe(sandbox, key, webhook_receiver.url, ["document.sent", "document.sent.failed"])
    doc_id = send(sandbox, key, customer_tax_id="BE1286602456")  # not on Peppol
    [delivery] = webhook_receiver.wait_for(1)
    event = verify(delivery, hook["secret"])
    assert event["type"] == "document.sent.failed"
    assert event["data"]["document_id"] == doc_id
    assert event["data"]["state"] == "FAILED"


def test_it_retries_a_failed_delivery(sandbox, vendor, webhook_receiver):
    _, key = vendor
    webhook_receiver.statuses = [500, 503]
    hook = subscribe(sandbox, key, webhook_receiver.url, ["document.sent"])
    send(sandbox, key)
    attempts = webhook_receiver.wait_for(3)
    assert len(attempts) == 3
    assert len({a["body"] for a in attempts}) == 1  # the same event each time
    with sandbox.tenant_client(key) as client:
        [record] = client.get(f"/api/webhooks/{hook['id']}/history").json()["history"]
    assert record["status"] == "delivered"
    assert record["attempts"] == 3
    assert [a["status_code"] for a in record["attempt_log"]] == [500, 503, 200]


def test_it_does_not_follow_redirects(sandbox, vendor, webhook_receiver):
    _, key = vendor
    webhook_receiver.statuses = [302, 302, 302]
    hook = subscribe(sandbox, key, webhook_receiver.url, ["document.sent"])
    send(sandbox, key)
    attempts = webhook_receiver.wait_for(3)
    assert [a["path"] for a in attempts] == ["/hooks"] * 3  # never /hooks/elsewhere
    with sandbox.tenant_client(key) as client:
        for _ in range(100):  # the last attempt is recorded just after it was answered
            [record] = client.get(f"/api/webhooks/{hook['id']}/history").json()["history"]
            if record["status"] == "failed":
                break
            time.sleep(0.02)
    assert record["status"] == "failed"
    assert "redirects are not followed" in record["last_error"]


def test_it_sends_a_test_event(sandbox, vendor, webhook_receiver):
    _, key = vendor
    hook = subscribe(sandbox, key, webhook_receiver.url, ["document.received"])
    with sandbox.tenant_client(key) as client:
        response = client.post(
            f"/api/webhooks/{hook['id']}/test",
            json={"event_type": "document.received", "data": {"document_id": "doc_test"}},
        )
        assert response.status_code == 200
        assert response.json()["success"] is True
        assert response.json()["webhook_delivery_result"]["status_code"] == 200
        not_subscribed = client.post(
            f"/api/webhooks/{hook['id']}/test", json={"event_type": "document.sent", "data": {}}
        )
        assert not_subscribed.status_code == 422
    event = verify(webhook_receiver.wait_for(1)[0], hook["secret"])
    assert event["data"] == {"document_id": "doc_test"}


def test_it_skips_disabled_webhooks(sandbox, vendor, webhook_receiver):
    _, key = vendor
    with sandbox.tenant_client(key) as client:
        client.post(
            "/api/webhooks/",
            json={"url": webhook_receiver.url, "events": ["document.sent"], "enabled": False},
        )
    doc_id = send(sandbox, key)
    sandbox.wait_for_state(key, doc_id, "SENT")
    assert webhook_receiver.wait_for(1, timeout=0.5) == []
