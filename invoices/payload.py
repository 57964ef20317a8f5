"""The editor's cleaned input, its totals, and the API's JSON built from them.

Pure conversions (no remote call, no write): editor rows ↔ stored document ↔ API payload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from invoices import attachments
from invoices.models import PARTY_FIELDS, AllowanceCharge, Document
from invoices.totals import (
    AllowanceChargeInput,
    LineInput,
    Totals,
    compute,
    money,
    rate_text,
    tax_category,
    to_decimal,
)
from tenants.identifiers import peppol_id_from_tax_id

# The editor's row fields, which are also the stored rows' model fields.
LINE_KEYS = ("description", "quantity", "unit", "unit_price", "tax_rate")
ADJUSTMENT_KEYS = ("kind", "reason", "amount", "tax_rate")
LIMIT = Decimal("1e9")  # beyond this a half-typed number is not shown as read


@dataclass
class EditorInput:
    """The editor's cleaned data: header fields, lines and allowances/charges, in form order."""

    document_type: str
    header: dict[str, Any]
    lines: list[dict[str, Any]]
    adjustments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def corrects(self) -> Document | None:
        return self.header.get("corrects")


def totals_for(data: EditorInput) -> Totals:
    return compute(
        [LineInput(ln["quantity"], ln["unit_price"], ln["tax_rate"]) for ln in data.lines],
        [
            AllowanceChargeInput(
                a["kind"] == AllowanceCharge.Kind.CHARGE, a["amount"], a["tax_rate"]
            )
            for a in data.adjustments
        ],
    )


def _rate(row: dict[str, Any]) -> Decimal | None:
    rate = to_decimal(row.get("tax_rate"), percent=True)
    return rate if rate is not None and 0 <= rate <= 100 else None


def _bounded(row: dict[str, Any], key: str) -> Decimal | None:
    number = to_decimal(row.get(key))
    return number if number is not None and abs(number) <= LIMIT else None


def number(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros: 10, 2.5, 0.1234."""
    text = format(value.normalize(), "f")
    return text if text not in ("-0",) else "0"


def peppol_id_for(tax_id: str, given: str = "") -> str:
    """The buyer's Peppol ID: the one given, else derived from the VAT number as the API does."""
    if given:
        return given.strip()
    return peppol_id_from_tax_id(tax_id)


def _header(data: EditorInput) -> dict[str, Any]:
    h = data.header
    payload: dict[str, Any] = {"document_type": data.document_type}
    for key in ("invoice_id", "currency", "purchase_order", "note", "payment_term", *PARTY_FIELDS):
        value = h.get(key)
        if value not in (None, ""):
            payload[key] = value
    for key in ("invoice_date", "due_date"):
        if isinstance(h.get(key), date):
            payload[key] = h[key].isoformat()
    if data.corrects is not None:
        payload["billing_reference"] = data.corrects.invoice_id
    return payload


def _adjustments(data: EditorInput) -> tuple[dict[str, Any], dict[tuple[str, int], int]]:
    """The `allowances` and `charges` lists, and where each of their rows came from."""
    out: dict[str, Any] = {}
    index: dict[tuple[str, int], int] = {}
    for kind, key in ((AllowanceCharge.Kind.ALLOWANCE, "allowances"), ("charge", "charges")):
        rows = []
        for position, adj in enumerate(data.adjustments):
            if adj["kind"] != kind:
                continue
            index[(key, len(rows))] = position
            rows.append(
                {
                    "amount": str(money(adj["amount"])),
                    "reason": adj["reason"],
                    "tax_code": tax_category(adj["tax_rate"]),
                    "tax_rate": rate_text(adj["tax_rate"]),
                }
            )
        if rows:
            out[key] = rows
    return out, index


def build_payload(
    data: EditorInput, totals: Totals
) -> tuple[dict[str, Any], dict[tuple[str, int], int]]:
    """The API's JSON, and where each allowances[i]/charges[j] came from in the form."""
    h = data.header
    payload = _header(data)
    rates = {ln["tax_rate"] for ln in data.lines} | {a["tax_rate"] for a in data.adjustments}
    payload["tax_code"] = "S" if any(r > 0 for r in rates) else "Z"
    payload["items"] = [
        {
            "description": ln["description"],
            "quantity": number(ln["quantity"]),
            "unit": ln["unit"],
            "unit_price": number(ln["unit_price"]),
            "amount": str(amount),
            "tax_rate": rate_text(ln["tax_rate"]),
        }
        for ln, amount in zip(data.lines, totals.line_amounts, strict=True)
    ]
    adjustments, index = _adjustments(data)
    payload.update(adjustments)
    payload["tax_details"] = [{"rate": g["rate"], "amount": g["tax"]} for g in totals.breakdown()]
    payload["subtotal"] = str(totals.tax_exclusive)
    payload["total_tax"] = str(totals.total_tax)
    payload["invoice_total"] = str(totals.tax_inclusive)
    payload["amount_due"] = str(totals.tax_inclusive)
    if h.get("iban") or h.get("payment_reference"):
        details = {
            "iban": h.get("iban") or None,
            "swift": h.get("bic") or None,
            "payment_reference": h.get("payment_reference") or None,
        }
        payload["payment_details"] = [{k: v for k, v in details.items() if v}]
    return payload, index


# --- A stored document back into editor rows and payload ----------------------------------------
def _stored(document: Document) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A stored document's lines and allowances/charges as the editor's cleaned rows."""
    lines = [{k: getattr(ln, k) for k in LINE_KEYS} for ln in document.lines.all()]
    adjustments = [
        {k: getattr(a, k) for k in ADJUSTMENT_KEYS} for a in document.allowances_charges.all()
    ]
    return lines, adjustments


def _as_typed(row: dict[str, Any]) -> dict[str, str]:
    """A row as a customer types it: amounts with their cents, other numbers without zeros."""
    return {
        k: str(v) if k == "amount" else number(v) if isinstance(v, Decimal) else v
        for k, v in row.items()
    }


def line_rows(document: Document) -> list[dict[str, str]]:
    """A stored document's lines as the editor's rows (plain text, as a customer types them)."""
    return [_as_typed(row) for row in _stored(document)[0]]


def adjustment_rows(document: Document) -> list[dict[str, str]]:
    return [_as_typed(row) for row in _stored(document)[1]]


def input_of(document: Document) -> EditorInput:
    """A stored outbound document as the editor's cleaned input (the same content again)."""
    header = {
        f.name: getattr(document, f.name)
        for f in Document._meta.get_fields()
        if hasattr(f, "attname") and not f.is_relation
    }
    header["corrects"] = document.corrects
    lines, adjustments = _stored(document)
    return EditorInput(document.document_type, header, lines, adjustments)


def payload_of(document: Document) -> dict[str, Any]:
    """Rebuild the API payload of a stored outbound document."""
    data = input_of(document)
    payload, _index = build_payload(data, totals_for(data))
    if files := attachments.payload_entries(document):
        payload["attachments"] = files
    return payload


def typed_lines(document: Document) -> list[SimpleNamespace]:
    """An incomplete draft's lines as typed, read as far as they go (its detail page shows
    them; no line is stored before the draft is complete)."""
    out = []
    for i, row in enumerate((document.draft_input or {}).get("lines") or []):
        quantity, price = _bounded(row, "quantity"), _bounded(row, "unit_price")
        out.append(
            SimpleNamespace(
                position=i + 1,
                description=str(row.get("description", "")),
                quantity=quantity,
                unit=str(row.get("unit", "")),
                unit_price=price,
                tax_rate=_rate(row),
                amount=money(quantity * price)
                if quantity is not None and price is not None
                else None,
            )
        )
    return out
