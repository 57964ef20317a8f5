"""TEMPORARY stand-in for sandbox/en16931.py (written by someone else); delete once it exists."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from xml.sax.saxutils import escape

CENT = Decimal("0.01")


def _d(value: Any, default: str = "0") -> Decimal:
    return Decimal(str(value if value is not None else default))


def _issue(message: str, location: str, rule_id: str | None) -> dict[str, Any]:
    return {
        "message": message,
        "type": "error",
        "location": location,
        "rule_id": rule_id,
        "flag": "fatal",
        "test": None,
        "schematron": "EN16931",
    }


def validate_document(payload: dict[str, Any]) -> list[dict[str, Any]]:
    issues = []
    if not payload.get("items"):
        issues.append(_issue("An Invoice shall have at least one Invoice line", "items", "BR-16"))
    for field in ("vendor_tax_id", "customer_tax_id"):
        value = payload.get(field)
        if value and not re.fullmatch(r"[A-Z]{2}[0-9A-Z]{2,13}", value):
            issues.append(
                _issue(
                    "Invalid tax ID format. Expected format: country code + number "
                    "(e.g., BE1018265814 for Belgium)",
                    field,
                    None,
                )
            )
    for index, item in enumerate(payload.get("items", [])):
        rate = item.get("tax_rate")
        if isinstance(rate, str) and not re.fullmatch(r"\d{1,3}(\.\d{1,2})?", rate):
            issues.append(
                _issue(
                    "Invalid tax rate format. Must be a percentage string (e.g., '21.00')",
                    f"items[{index}].tax_rate",
                    None,
                )
            )
    return issues


def _line(item: dict[str, Any]) -> Decimal:
    if item.get("amount") is not None:
        return _d(item["amount"])
    return (_d(item.get("quantity"), "1") * _d(item.get("unit_price"))).quantize(
        CENT, ROUND_HALF_UP
    )


def compute_totals(payload: dict[str, Any]) -> dict[str, Any]:
    by_rate: dict[Decimal, Decimal] = {}
    for item in payload.get("items", []):
        rate = _d(item.get("tax_rate"))
        by_rate[rate] = by_rate.get(rate, Decimal(0)) + _line(item)
    subtotal = sum(by_rate.values(), Decimal(0))
    details = []
    total_tax = Decimal(0)
    for rate, base in by_rate.items():
        tax = (base * rate / 100).quantize(CENT, ROUND_HALF_UP)
        total_tax += tax
        details.append({"rate": f"{rate:.2f}", "amount": f"{tax:.2f}"})
    total = subtotal + total_tax
    return {
        "subtotal": f"{subtotal:.2f}",
        "total_tax": f"{total_tax:.2f}",
        "invoice_total": f"{total:.2f}",
        "amount_due": f"{total:.2f}",
        "tax_details": details,
    }


def to_ubl(payload: dict[str, Any], document_id: str) -> str:
    root = "CreditNote" if payload.get("document_type") == "CREDIT_NOTE" else "Invoice"
    ident = escape(str(payload.get("invoice_id") or document_id))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2" '
        'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
        f"<cbc:ID>{ident}</cbc:ID></{root}>\n"
    )
