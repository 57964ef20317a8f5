"""EN 16931 / Peppol BIS Billing 3.0 checks of the e-invoice.be JSON invoice, for the sandbox:
code lists, the payload reader, business rules, totals, and the document model the UBL renders.
"""

# The real service converts the JSON to UBL and runs the CEN and OpenPeppol schematrons over it.
# The sandbox cannot run those, so this package checks the same business rules directly on the
# JSON (with the real rule ids where one exists), computes the totals the way EN 16931 does and
# renders the UBL (sandbox.ubl). Its interface is pure Python, no I/O, and never raises on any
# JSON-like input: validate_document, compute_totals, to_ubl and peppol_id_from_tax_id.
#
# Where things are: codelists (code lists), values (parsing scalars), model (the Document
# dataclasses), fields (the Reader and its issues), reader with parties, lines, charges and
# payments (field-level rules, checked while reading), rules (cross-field rules), totals.

from __future__ import annotations

from decimal import localcontext
from typing import Any

# The VAT number -> Peppol ID rule is the directory's (sandbox.directory); it stays part of this
# interface.
from sandbox.directory import peppol_id_from_tax_id

from .codelists import (
    COUNTRY_NAMES,
    CUSTOMIZATION_ID,
    EXEMPT_CATEGORIES,
    PROFILE_ID,
    SELFBILLING_CUSTOMIZATION_ID,
    SELFBILLING_PROFILE_ID,
)
from .fields import JSON, Issue, Reader
from .model import AllowanceCharge, Document, Line, Party, Payment, TaxSubtotal, Totals
from .reader import read as _read
from .rules import check_document
from .totals import as_api_totals
from .totals import compute as _totals
from .values import country_from_address as _country_from_address

__all__ = [
    # the interface
    "compute_totals",
    "peppol_id_from_tax_id",
    "to_ubl",
    "validate_document",
    # the model and the code lists sandbox.ubl renders with
    "AllowanceCharge",
    "COUNTRY_NAMES",
    "CUSTOMIZATION_ID",
    "Document",
    "EXEMPT_CATEGORIES",
    "Issue",
    "Line",
    "PROFILE_ID",
    "Party",
    "Payment",
    "SELFBILLING_CUSTOMIZATION_ID",
    "SELFBILLING_PROFILE_ID",
    "TaxSubtotal",
    "Totals",
    # the names sandbox.ubl and the fuzz test reach in for, under their names of old
    "_country_from_address",
    "_read",
    "_totals",
]


def _read_with_totals(payload: Any) -> tuple[Document, Totals]:
    """The document and its totals; an empty document's when the payload cannot be read (the
    totals and the UBL keep validate_document's contract: never raise)."""
    try:
        _, doc = _read(payload)
        return doc, _totals(doc)
    except Exception:
        doc = Document()
        return doc, _totals(doc)


def validate_document(payload: dict) -> list[dict]:
    """EN 16931 / Peppol BIS 3.0 issues for a JSON invoice, in the API's ValidationIssue shape.

    The document is valid when no issue has type "error". Never raises.
    """
    with localcontext(prec=100):  # amounts are bounded, so with this precision Decimal is exact
        try:
            if not isinstance(payload, dict):
                reader = Reader({})
                reader.error("The invoice must be a JSON object.", None, "JSON-OBJECT", "object")
                return reader.issues
            reader, doc = _read(payload)
            check_document(reader, doc)
            return reader.issues
        except Exception as exc:  # a validator must answer, never crash the API
            return [
                {
                    "message": f"The sandbox could not check this document ({type(exc).__name__}).",
                    "type": "error",
                    "location": None,
                    "rule_id": "SANDBOX-INTERNAL",
                    "flag": "fatal",
                    "test": None,
                    "schematron": JSON,
                }
            ]


def compute_totals(payload: dict) -> dict:
    """The document totals as EN 16931 computes them, as ``Decimal`` with 2 decimals.

    Keys: line_total (BT-106), total_allowances (BT-107), total_charges (BT-108),
    subtotal (BT-109, the taxable base), total_discount (always 0.00: every allowance and charge
    here has a VAT category and is already inside subtotal, so the API's identity
    ``invoice_total = subtotal + total_tax + total_discount`` holds), total_tax (BT-110),
    invoice_total (BT-112), amount_due (BT-115, plus any previous_unpaid_balance) and
    tax_details: one entry per VAT category and rate, with the tax rounded once per entry.
    Lines that cannot be read are left out. Never raises.
    """
    with localcontext(prec=100):
        _, totals = _read_with_totals(payload)
        return as_api_totals(totals)


def to_ubl(payload: dict, document_id: str) -> str:
    """The payload as a Peppol BIS Billing 3.0 UBL 2.1 Invoice or CreditNote (XML text).

    Best effort for invalid payloads (validate first); never raises.
    """
    from ..ubl import render  # late import: sandbox.ubl imports this package for its model

    with localcontext(prec=100):
        return render(*_read_with_totals(payload), document_id)
