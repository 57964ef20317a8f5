"""Documents: creation, the response shape (the SDK's DocumentResponse), and documents arriving
from outside the sandbox. Delivery of sent documents lives in sandbox/delivery.py."""

from __future__ import annotations

import base64
import binascii
import hashlib
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from xml.sax.saxutils import escape

from sandbox import engine, pdf_render, webhooks
from sandbox.core import Sandbox
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


def line_view(item: dict[str, Any]) -> dict[str, Any]:
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
    out["items"] = [line_view(item) for item in payload.get("items", [])]
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
    """An attachment of a created document; its bytes are kept (base64) for the download."""
    raw = b""
    if data.get("file_data"):
        try:
            raw = base64.b64decode(data["file_data"], validate=True)
        except (binascii.Error, ValueError):
            raw = b""
    return new_attachment(
        data["file_name"], data.get("file_type") or "application/pdf", raw, data.get("file_size")
    )


def new_attachment(
    name: str, mime: str, raw: bytes, declared_size: int | None = None
) -> dict[str, Any]:
    return {
        "id": new_id("att"),
        "file_name": name,
        "file_type": mime,
        "file_size": len(raw) or int(declared_size or 0),
        "file_url": None,
        "sha256": hashlib.sha256(raw).hexdigest() if raw else None,
        "data": base64.b64encode(raw).decode() if raw else None,
    }


def attachment_bytes(attachment: dict[str, Any]) -> bytes | None:
    data = attachment.get("data")
    return base64.b64decode(data) if data else None


def _embed(doc: Document, attachment: dict[str, Any], reference_id: str) -> None:
    """The attachment in the UBL, as BIS 3.0 carries one (BG-24, an embedded binary object)."""
    data = attachment.get("data")
    if not data or not doc.ubl:
        return
    name = escape(attachment["file_name"], {'"': "&quot;"})
    reference = (
        f"<cac:AdditionalDocumentReference><cbc:ID>{escape(reference_id)}</cbc:ID>"
        "<cac:Attachment><cbc:EmbeddedDocumentBinaryObject "
        f'mimeCode="{escape(attachment["file_type"])}" filename="{name}">{data}'
        "</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>"
    )
    # BIS 3.0 puts document references right before the seller (UBL element order).
    doc.ubl = doc.ubl.replace(
        "<cac:AccountingSupplierParty>", reference + "<cac:AccountingSupplierParty>", 1
    )


def attach_constructed_pdf(doc: Document) -> None:
    """construct_pdf=true: a PDF of the document, as an attachment and embedded in the UBL."""
    data = pdf_render.render(doc.payload, doc.totals)
    name = f"{doc.payload.get('invoice_id') or doc.id}.pdf"
    attachment = new_attachment(name, "application/pdf", data)
    doc.attachments.append(attachment)
    _embed(doc, attachment, f"{doc.id}-pdf")


def new_document(
    sandbox: Sandbox,
    tenant: Tenant,
    payload: dict[str, Any],
    totals: dict[str, Any],
    *,
    source: str = "json",
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
    for number, attachment in enumerate(doc.attachments, start=1):
        _embed(doc, attachment, f"{doc.id}-att-{number}")
    doc.validated_at = moment  # only documents that passed the checks are created
    doc.add_event("document_created", {"source": source})
    return doc


def event_data(doc: Document) -> dict[str, Any]:
    """The ``data`` of a webhook event about ``doc``."""
    return {
        "document_id": doc.id,
        "document_type": doc.payload.get("document_type", "INVOICE"),
        "invoice_id": doc.payload.get("invoice_id"),
        "state": doc.state,
        "direction": doc.direction,
        "sender_peppol_id": doc.sender_peppol_id,
        "receiver_peppol_id": doc.receiver_peppol_id,
    }


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
        store.record_action(recipient.id, "DOCUMENT_RECEIVED", moment)
        data = event_data(doc)
    webhooks.emit(sandbox, recipient.id, "document.received", data)
    return doc
