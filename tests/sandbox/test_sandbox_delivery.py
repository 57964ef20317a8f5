"""Long TRANSIT: delivery retried with backoff on a scaled clock; senders that cannot deliver."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from .conftest import CUSTOMER_PEPPOL_ID, credit_note, invoice

TO_BAKKERIJ = {"customer_name": "Bakkerij Van Damme BV", "customer_tax_id": "BE0706165839"}


def _send(sandbox: Any, key: str, document: dict[str, Any]) -> dict[str, Any]:
    with sandbox.tenant_client(key) as client:
        created = client.post("/api/documents/", json=document)
        assert created.status_code == 201, created.text
        sent = client.post(f"/api/documents/{created.json()['id']}/send")
        assert sent.status_code == 200, sent.text
        return sent.json()


def _timeline(sandbox: Any, key: str, doc_id: str) -> list[dict[str, Any]]:
    with sandbox.tenant_client(key) as client:
        return client.get(f"/api/documents/{doc_id}/timeline").json()["events"]


def test_it_retries_delivery_with_exponential_backoff_before_failing(sandbox, vendor):
    _, key = vendor
    # 4 attempts, 0.1 s then 0.2 s then 0.4 s apart: ~0.7 s of retries after the first attempt.
    sandbox.configure(send_delay=0.05, delivery_attempts=4, delivery_backoff=0.1)
    started = time.monotonic()
    doc = _send(sandbox, key, invoice(customer_tax_id="BE1286602456"))
    assert doc["state"] == "TRANSIT"
    time.sleep(0.4)
    assert sandbox.wait_for_state(key, doc["id"], "FAILED", timeout=0.01)["state"] == "TRANSIT"
    failed = sandbox.wait_for_state(key, doc["id"], "FAILED")
    assert failed["state"] == "FAILED"
    assert time.monotonic() - started >= 0.7

    events = _timeline(sandbox, key, doc["id"])
    kinds = [e["event_type"] for e in events]
    assert kinds == ["document_created"] + ["send_attempted"] * 4 + ["send_failed"]
    attempts = [e["details"] for e in events if e["event_type"] == "send_attempted"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
    assert all(a["attempts"] == 4 for a in attempts)
    assert all("not registered" in a["error"] for a in attempts[1:])
    due = [datetime.fromisoformat(a["next_attempt_at"].replace("Z", "+00:00")) for a in attempts]
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(due, due[1:], strict=False)]
    assert gaps[0] < gaps[1] < gaps[2]  # exponential: each wait doubles
    assert events[-1]["details"]["attempts"] == 4
    assert "not registered on the Peppol network" in events[-1]["details"]["reason"]


def test_it_compresses_the_24_hour_retry_clock_with_the_time_scale(sandbox, vendor):
    _, key = vendor
    # The default policy (8 attempts, 600 s doubling: ~21 h), 100 000x faster: ~0.8 s.
    sandbox.configure(send_delay=0, delivery_attempts=8, delivery_backoff=600, time_scale=100_000)
    doc = _send(sandbox, key, invoice(customer_tax_id="BE1286602456"))
    assert sandbox.wait_for_state(key, doc["id"], "FAILED")["state"] == "FAILED"
    events = _timeline(sandbox, key, doc["id"])
    assert [e["event_type"] for e in events].count("send_attempted") == 8


def test_it_delivers_at_a_retry_once_the_receiver_registers(sandbox, vendor):
    _, key = vendor
    sandbox.configure(send_delay=0.05, delivery_attempts=5, delivery_backoff=0.3)
    doc = _send(sandbox, key, invoice(**TO_BAKKERIJ))
    time.sleep(0.15)  # the first attempt failed: Bakkerij is not on Peppol yet
    tenant, customer_key = sandbox.create_tenant_with_key(
        "bakkerij-van-damme", peppol_ids=[CUSTOMER_PEPPOL_ID]
    )
    sandbox.register(tenant["id"], CUSTOMER_PEPPOL_ID)
    assert sandbox.wait_for_state(key, doc["id"], {"SENT", "FAILED"})["state"] == "SENT"
    kinds = [e["event_type"] for e in _timeline(sandbox, key, doc["id"])]
    assert kinds == ["document_created", "send_attempted", "send_attempted", "send_success"]
    with sandbox.tenant_client(customer_key) as client:
        assert client.get("/api/inbox/").json()["total"] == 1


def test_it_randomises_the_time_in_transit(sandbox, vendor):
    _, key = vendor
    sandbox.configure(send_delay=100, delivery_jitter=0.5)
    due = set()
    for number in range(5):
        doc = _send(sandbox, key, invoice(invoice_id=f"INV-J-{number}"))
        due.add(_timeline(sandbox, key, doc["id"])[-1]["details"]["next_attempt_at"])
    assert len(due) > 1


def test_it_fails_at_once_when_the_sender_is_not_registered(sandbox):
    tenant, key = sandbox.create_tenant_with_key("e-invoice-bv", peppol_ids=["0208:1018265814"])
    sandbox.configure(delivery_attempts=5)
    doc = _send(sandbox, key, invoice())  # to OpenPeppol VZW, an outside participant
    failed = sandbox.wait_for_state(key, doc["id"], {"SENT", "FAILED"})
    assert failed["state"] == "FAILED"
    events = _timeline(sandbox, key, doc["id"])
    assert [e["event_type"] for e in events][-2:] == ["send_attempted", "send_failed"]
    reason = events[-1]["details"]["reason"]
    assert "0208:1018265814 is not registered on the Peppol network" in reason


def test_it_never_lets_a_test_mode_tenant_deliver(sandbox, vendor):
    tenant, key = vendor  # registered, then switched to test mode
    sandbox.admin("PUT", f"/api/admin/tenants/{tenant['id']}", json={"test_mode": True})
    doc = _send(sandbox, key, invoice())
    assert sandbox.wait_for_state(key, doc["id"], {"SENT", "FAILED"})["state"] == "FAILED"
    assert "test mode" in _timeline(sandbox, key, doc["id"])[-1]["details"]["reason"]


def test_it_lets_unregistered_senders_deliver_when_configured(sandbox):
    _, key = sandbox.create_tenant_with_key("e-invoice-bv", peppol_ids=["0208:1018265814"])
    sandbox.configure(unregistered_can_send=True)
    doc = _send(sandbox, key, invoice())
    assert sandbox.wait_for_state(key, doc["id"], {"SENT", "FAILED"})["state"] == "SENT"


def test_it_fails_a_credit_note_to_a_participant_that_only_takes_invoices(sandbox, vendor):
    _, key = vendor
    sandbox.configure(delivery_attempts=5)
    # Brouwerij De Zwarte Kat NV's SMP lists the invoice document type only.
    doc = _send(sandbox, key, credit_note(customer_tax_id="BE0443055814"))
    assert sandbox.wait_for_state(key, doc["id"], {"SENT", "FAILED"})["state"] == "FAILED"
    assert (
        "does not accept credit notes"
        in _timeline(sandbox, key, doc["id"])[-1]["details"]["reason"]
    )
