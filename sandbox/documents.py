"""Documents: creation, the response shape (the SDK's DocumentResponse), and the little Peppol
network that moves a sent document TRANSIT -> SENT/FAILED and delivers it to sandbox tenants."""

from __future__ import annotations

import base64
import binascii
import hashlib
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox import engine, webhooks
from sandbox.core import Sandbox
from sandbox.directory import OUTSIDE_PARTICIPANTS
from sandbox.state import Document, Tenant, iso, new_id, now_utc

TOTAL_FIELDS = ("subtotal", "total_discount", "total_tax", "invoice_total", "amount_due")
TEXT_FIELDS = (
    "document_type",
    "currency",
    "tax_code",
    "vatex",
    "vatex_note",
    "customer_name",
    "customer_id",
    "customer_email",
    "purchase_order",
    "invoice_id",
    "invoice_date",
    "due_date",
    "note",
    "vendor_name",
    "vendor_email",
    "vendor_address",
    "vendor_address_recipient",
    "customer_address",
    "customer_address_recipient",
    "billing_address",
    "billing_address_recipient",
    "shipping_address",
    "shipping_address_recipient",
    "remittance_address",
    "remittance_address_recipient",
    "service_address",
    "service_address_recipient",
    "service_start_date",
    "service_end_date",
    "vendor_tax_id",
    "vendor_company_id",
    "customer_tax_id",
    "customer_company_id",
    "customer_peppol_id",
    "payment_term",
)


def decimal_text(value: Any, places: int | None = None) -> str | None:
    """A number as the API's decimal string; at least ``places`` decimals, never fewer digits."""
    number = engine.as_decimal(value)
    if number is None:
        return None if value is None else str(value)
    if places is not None and -number.as_tuple().exponent < places:  # type: ignore[operator]
        number = number.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return format(number, "f")


def _money(value: Any) -> str | None:
    return decimal_text(value, 2)


def _allowance(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "reason": entry.get("reason"),
        "reason_code": entry.get("reason_code"),
        "multiplier_factor": decimal_text(entry.get("multiplier_factor")),
        "amount": _money(entry.get("amount")),
        "base_amount": _money(entry.get("base_amount")),
        "tax_rate": decimal_text(entry.get("tax_rate"), 2),
        "tax_code": entry.get("tax_code"),
    }


def _item(item: dict[str, Any]) -> dict[str, Any]:
    amount = item.get("amount")
    if amount is None and item.get("unit_price") is not None:
        quantity = engine.as_decimal(item.get("quantity", 1)) or Decimal(1)
        price = engine.as_decimal(item["unit_price"]) or Decimal(0)
        amount = (quantity * price).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return {
        "amount": _money(amount),
        "date": None,
        "description": item.get("description"),
        "quantity": decimal_text(item.get("quantity")),
        "product_code": item.get("product_code"),
        "tax": _money(item.get("tax")),
        "tax_rate": decimal_text(item.get("tax_rate"), 2),
        "unit": item.get("unit"),
        "unit_price": decimal_text(item.get("unit_price"), 2),
        "allowances": [_allowance(a) for a in item.get("allowances", [])] or None,
        "charges": [_allowance(c) for c in item.get("charges", [])] or None,
        "item_attributes": item.get("item_attributes"),
    }


def _tax_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """TaxDetail {amount, rate}; the EN 16931 module's extra keys ride along as text."""
    shown = {k: (decimal_text(v, 2) if isinstance(v, Decimal) else v) for k, v in detail.items()}
    shown["amount"] = _money(detail.get("amount", detail.get("tax_amount")))
    shown["rate"] = decimal_text(detail.get("rate"), 2)
    return shown


def attachment_view(attachment: dict[str, Any]) -> dict[str, Any]:
    return {k: attachment[k] for k in ("id", "file_name", "file_type", "file_size", "file_url")}


def response(doc: Document) -> dict[str, Any]:
    """The document as the SDK's DocumentResponse (amounts as decimal strings)."""
    payload = doc.payload
    out: dict[str, Any] = {name: payload.get(name) for name in TEXT_FIELDS}
    out.update(
        id=doc.id,
        created_at=iso(doc.created_at),
        updated_at=iso(doc.updated_at),
        state=doc.state,
        direction=doc.direction,
    )
    for name in TOTAL_FIELDS:
        out[name] = _money(doc.totals.get(name))
    out["tax_details"] = [_tax_detail(detail) for detail in doc.totals.get("tax_details") or []]
    out["items"] = [_item(item) for item in payload.get("items", [])]
    out["payment_details"] = payload.get("payment_details")
    out["allowances"] = [_allowance(a) for a in payload.get("allowances", [])] or None
    out["charges"] = [_allowance(c) for c in payload.get("charges", [])] or None
    out["attachments"] = [attachment_view(a) for a in doc.attachments]
    return out


def merged_totals(payload: dict[str, Any]) -> dict[str, Any]:
    """Totals the client gave win; the rest are computed (the checks flag any mismatch)."""
    computed = engine.compute_totals(payload)
    totals = {name: payload.get(name, computed.get(name)) for name in TOTAL_FIELDS}
    totals["tax_details"] = payload.get("tax_details") or computed.get("tax_details") or []
    return totals


def store_attachment(data: dict[str, Any]) -> dict[str, Any]:
    raw = b""
    if data.get("file_data"):
        try:
            raw = base64.b64decode(data["file_data"], validate=True)
        except (binascii.Error, ValueError):
            raw = b""
    attachment_id = new_id("att")
    return {
        "id": attachment_id,
        "file_name": data["file_name"],
        "file_type": data.get("file_type") or "application/pdf",
        "file_size": len(raw) or int(data.get("file_size") or 0),
        "file_url": None,
        "sha256": hashlib.sha256(raw).hexdigest() if raw else None,
    }


def new_document(
    sandbox: Sandbox, tenant: Tenant, payload: dict[str, Any], totals: dict[str, Any]
) -> Document:
    moment = now_utc()
    doc = Document(
        id=new_id("doc"),
        tenant_id=tenant.id,
        payload=payload,
        totals=totals,
        state="DRAFT",
        direction="OUTBOUND",
        created_at=moment,
        updated_at=moment,
        seq=sandbox.store.next_seq(),
    )
    doc.attachments = [store_attachment(a) for a in payload.get("attachments", [])]
    doc.ubl = engine.to_ubl(payload, doc.id)
    doc.validated_at = moment  # only documents that passed the checks are created
    doc.add_event("document_created", {"source": "json"})
    return doc


# --- The sandbox Peppol network ----------------------------------------------------------------


def _event_data(doc: Document) -> dict[str, Any]:
    return {
        "document_id": doc.id,
        "document_type": doc.payload.get("document_type", "INVOICE"),
        "invoice_id": doc.payload.get("invoice_id"),
        "state": doc.state,
        "direction": doc.direction,
        "sender_peppol_id": doc.sender_peppol_id,
        "receiver_peppol_id": doc.receiver_peppol_id,
    }


def schedule_delivery(sandbox: Sandbox, doc: Document) -> None:
    sandbox.network.call_later(
        sandbox.config.send_delay, complete_send, sandbox, sandbox.store.generation, doc.id
    )


def complete_send(sandbox: Sandbox, generation: int, doc_id: str) -> None:
    """TRANSIT -> SENT (receiver is a participant) or FAILED; a sandbox receiver gets a copy."""
    store = sandbox.store
    outgoing: list[tuple[str, str, dict[str, Any]]] = []
    with store.lock:
        doc = store.documents.get(doc_id)
        if store.generation != generation or doc is None or doc.state != "TRANSIT":
            return
        receiver_id = doc.receiver_peppol_id or ""
        recipient = store.registered_tenant(receiver_id)
        moment = now_utc()
        doc.updated_at = moment
        if recipient is None and receiver_id not in OUTSIDE_PARTICIPANTS:
            doc.state = "FAILED"
            reason = f"Receiver {receiver_id} is not registered on the Peppol network"
            doc.add_event("send_failed", {"reason": reason, "receiver_peppol_id": receiver_id})
            outgoing.append(
                (doc.tenant_id, "document.sent.failed", {**_event_data(doc), "error": reason})
            )
        else:
            doc.state = "SENT"
            doc.sent_at = moment
            doc.add_event("send_success", {"receiver_peppol_id": receiver_id})
            store.actions.append((doc.tenant_id, "DOCUMENT_SENT", moment))
            outgoing.append((doc.tenant_id, "document.sent", _event_data(doc)))
            if recipient is not None:
                received = _receive(sandbox, recipient, doc)
                outgoing.append((recipient.id, "document.received", _event_data(received)))
    for tenant_id, event_type, data in outgoing:
        webhooks.emit(sandbox, tenant_id, event_type, data)


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
    store.actions.append((recipient.id, "DOCUMENT_RECEIVED", moment))
    return copy


def receive_external(
    sandbox: Sandbox, recipient: Tenant, payload: dict[str, Any], sender_peppol_id: str
) -> Document:
    """A document from an outside participant arriving in a tenant's inbox (control endpoint)."""
    store = sandbox.store
    with store.lock:
        moment = now_utc()
        doc = Document(
            id=new_id("doc"),
            tenant_id=recipient.id,
            payload=dict(payload, state="RECEIVED", direction="INBOUND"),
            totals=merged_totals(payload),
            state="RECEIVED",
            direction="INBOUND",
            created_at=moment,
            updated_at=moment,
            seq=store.next_seq(),
            sender_peppol_id=sender_peppol_id,
            receiver_peppol_id=recipient.registered_peppol_id,
        )
        doc.ubl = engine.to_ubl(payload, doc.id)
        doc.validated_at = moment
        doc.add_event("receive_success", {"sender_peppol_id": sender_peppol_id})
        store.documents[doc.id] = doc
        store.actions.append((recipient.id, "DOCUMENT_RECEIVED", moment))
        data = _event_data(doc)
    webhooks.emit(sandbox, recipient.id, "document.received", data)
    return doc
