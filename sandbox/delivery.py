"""The sandbox Peppol network: a sent document goes TRANSIT -> SENT/FAILED.

Like the real service, delivery is retried with exponential backoff on a (scaled) 24-hour clock
before the document is FAILED: the first attempt comes ``send_delay`` seconds after the send,
attempt ``n + 1`` ``delivery_backoff * 2 ** (n - 1)`` service seconds after attempt ``n`` (divided
by ``time_scale``), every wait randomised by ``delivery_jitter``. A receiver that registers
while a document is in TRANSIT gets it at the next attempt. A sender that is in test mode or not
registered on Peppol cannot deliver at all (FAILED at the first attempt, unless
``unregistered_can_send``).

Each announced attempt is a ``send_attempted`` timeline event carrying ``attempt``,
``attempts`` and ``next_attempt_at``; the outcome is ``send_success`` or ``send_failed``
(``reason``).
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sandbox import webhooks
from sandbox.core import Sandbox
from sandbox.directory import CREDIT_NOTE_DOCTYPE, INVOICE_DOCTYPE
from sandbox.documents import event_data
from sandbox.state import Document, Tenant, iso, new_id, now_utc

_random = random.SystemRandom()
Outgoing = list[tuple[str, str, dict[str, Any]]]


def _jittered(sandbox: Sandbox, seconds: float) -> float:
    spread = sandbox.config.delivery_jitter
    return max(0.0, seconds * _random.uniform(1 - spread, 1 + spread)) if spread else seconds


def retry_wait(sandbox: Sandbox, attempt: int) -> float:
    """Real seconds between attempt ``attempt`` and the next one (before jitter)."""
    config = sandbox.config
    return config.delivery_backoff * 2 ** (attempt - 1) / config.time_scale


def schedule_delivery(sandbox: Sandbox, doc: Document) -> dict[str, Any]:
    """Queue the first attempt; returns the details of its ``send_attempted`` event."""
    delay = _jittered(sandbox, sandbox.config.send_delay)
    _schedule(sandbox, doc, 1, delay)
    return _announcement(sandbox, 1, delay)


def _announcement(sandbox: Sandbox, attempt: int, delay: float) -> dict[str, Any]:
    return {
        "attempt": attempt,
        "attempts": sandbox.config.delivery_attempts,
        "next_attempt_at": iso(now_utc() + timedelta(seconds=delay)),
    }


def _schedule(sandbox: Sandbox, doc: Document, attempt: int, delay: float) -> None:
    sandbox.network.call_later(
        delay, attempt_delivery, sandbox, sandbox.store.generation, doc.id, attempt
    )


def sender_refusal(sandbox: Sandbox, sender: Tenant | None, doc: Document) -> str | None:
    """Why this sender cannot deliver at all (a final failure), or None."""
    if sandbox.config.unregistered_can_send:
        return None
    sender_id = doc.sender_peppol_id
    if sender is None or sender.test_mode:
        return (
            f"Sender {sender_id} cannot send on Peppol: the tenant is in test mode, so documents "
            "never leave it"
        )
    if not sender.registered or sender.registered_peppol_id != sender_id:
        return (
            f"Sender {sender_id} is not registered on the Peppol network: register the tenant "
            "on Peppol before sending"
        )
    return None


def _doctype(doc: Document) -> str:
    return (
        CREDIT_NOTE_DOCTYPE
        if doc.payload.get("document_type") == "CREDIT_NOTE"
        else (INVOICE_DOCTYPE)
    )


def receiver_problem(sandbox: Sandbox, doc: Document) -> tuple[str, bool] | None:
    """(reason, final) when the receiver cannot take the document now, else None."""
    receiver_id = doc.receiver_peppol_id or ""
    store = sandbox.store
    if store.registered_tenant(receiver_id) is not None:
        return None
    outside = store.participants.get(receiver_id)
    if outside is None:
        return f"Receiver {receiver_id} is not registered on the Peppol network", False
    if _doctype(doc) not in outside.document_types:
        kind = doc.payload.get("document_type", "INVOICE").replace("_", " ").lower()
        return f"Receiver {receiver_id} does not accept {kind}s on Peppol", True
    return None


def attempt_delivery(sandbox: Sandbox, generation: int, doc_id: str, attempt: int) -> None:
    """One delivery attempt; on success a sandbox receiver gets its copy."""
    store = sandbox.store
    outgoing: Outgoing = []
    with store.lock:
        doc = store.documents.get(doc_id)
        if store.generation != generation or doc is None or doc.state != "TRANSIT":
            return
        refusal = sender_refusal(sandbox, store.tenants.get(doc.tenant_id), doc)
        problem = (refusal, True) if refusal else receiver_problem(sandbox, doc)
        if problem is None:
            _succeed(sandbox, doc, attempt, outgoing)
        else:
            reason, final = problem
            if final or attempt >= sandbox.config.delivery_attempts:
                _fail(doc, reason, attempt, outgoing)
            else:
                delay = _jittered(sandbox, retry_wait(sandbox, attempt))
                doc.updated_at = now_utc()
                doc.add_event(
                    "send_attempted",
                    {"error": reason, **_announcement(sandbox, attempt + 1, delay)},
                )
                _schedule(sandbox, doc, attempt + 1, delay)
    for tenant_id, event_type, data in outgoing:
        webhooks.emit(sandbox, tenant_id, event_type, data)


def _fail(doc: Document, reason: str, attempt: int, outgoing: Outgoing) -> None:
    doc.state = "FAILED"
    doc.updated_at = now_utc()
    details = {"reason": reason, "receiver_peppol_id": doc.receiver_peppol_id, "attempts": attempt}
    doc.add_event("send_failed", details)
    outgoing.append((doc.tenant_id, "document.sent.failed", {**event_data(doc), "error": reason}))


def _succeed(sandbox: Sandbox, doc: Document, attempt: int, outgoing: Outgoing) -> None:
    store = sandbox.store
    moment = now_utc()
    doc.state = "SENT"
    doc.sent_at = moment
    doc.updated_at = moment
    doc.add_event(
        "send_success", {"receiver_peppol_id": doc.receiver_peppol_id, "attempts": attempt}
    )
    store.record_action(doc.tenant_id, "DOCUMENT_SENT", moment)
    outgoing.append((doc.tenant_id, "document.sent", event_data(doc)))
    recipient = store.registered_tenant(doc.receiver_peppol_id or "")
    if recipient is not None:
        received = _receive(sandbox, recipient, doc)
        outgoing.append((recipient.id, "document.received", event_data(received)))


def _receive(sandbox: Sandbox, recipient: Tenant, sent: Document) -> Document:
    """The recipient's own copy of a document sent to it through the sandbox network."""
    store = sandbox.store
    moment = now_utc()
    copy = Document(
        id=new_id("doc"),
        tenant_id=recipient.id,
        payload=dict(sent.payload, state="RECEIVED", direction="INBOUND"),
        totals=dict(sent.totals),
        state="RECEIVED",
        direction="INBOUND",
        created_at=moment,
        updated_at=moment,
        seq=store.next_seq(),
        ubl=sent.ubl,
        validated_at=sent.validated_at,
        sender_peppol_id=sent.sender_peppol_id,
        receiver_peppol_id=sent.receiver_peppol_id,
        source_document_id=sent.id,
    )
    copy.attachments = [dict(a, id=new_id("att")) for a in sent.attachments]
    copy.add_event("receive_success", {"sender_peppol_id": sent.sender_peppol_id})
    store.documents[copy.id] = copy
    store.record_action(recipient.id, "DOCUMENT_RECEIVED", moment)
    return copy
