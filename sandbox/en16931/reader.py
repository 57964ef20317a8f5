"""Reading the payload into a ``Document``: the header fields here, then the parties, lines,
allowances and charges, and payment details from their own modules, in that order.
"""

from __future__ import annotations

from typing import Any

from .charges import read_document_charges
from .codelists import API_CURRENCIES, DOCUMENT_TYPES, ISO_CURRENCIES, VATEX_CODES
from .fields import Reader
from .lines import read_lines
from .model import Document
from .parties import read_parties
from .payments import read_payments
from .values import ZERO, as_text, parse_date, show

# Document attribute -> payload key of the dates read as YYYY-MM-DD (PEPPOL-EN16931-F001).
_DATES = (
    ("invoice_date", "invoice_date"),
    ("due_date", "due_date"),
    ("service_start", "service_start_date"),
    ("service_end", "service_end_date"),
)


def read(payload: Any) -> tuple[Reader, Document]:
    """The payload as a ``Document``, and the reader holding the field-level issues found.

    The order of the steps is the order the issues are reported in.
    """
    reader = Reader(payload)
    doc = Document()
    p = reader.payload
    _read_document_type(reader, doc)
    _, doc.invoice_id = reader.text(p, "", "invoice_id", "invoice_number")
    _read_dates(reader, doc)
    _read_currency(reader, doc)
    _, doc.note = reader.text(p, "", "note")
    _, doc.purchase_order = reader.text(p, "", "purchase_order")
    _, doc.buyer_reference = reader.text(p, "", "buyer_reference", "customer_id")
    _, doc.payment_term = reader.text(p, "", "payment_term")
    _, doc.shipping_address = reader.text(p, "", "shipping_address", "service_address")
    _, doc.shipping_recipient = reader.text(
        p, "", "shipping_address_recipient", "service_address_recipient"
    )
    _read_billing_reference(reader, doc)
    read_parties(reader, doc)
    _read_vatex(reader, doc)
    balance = reader.amount(
        p.get("previous_unpaid_balance"), "previous_unpaid_balance", "previous unpaid balance",
        "BR-DEC-16",
    )  # fmt: skip
    doc.previous_unpaid_balance = balance or ZERO
    doc_code = reader.tax_code(p.get("tax_code"), "tax_code")
    read_lines(reader, doc, doc_code)
    doc.allowances = read_document_charges(reader, "allowances", is_charge=False)
    doc.charges = read_document_charges(reader, "charges", is_charge=True)
    read_payments(reader, doc)
    return reader, doc


def _read_document_type(reader: Reader, doc: Document) -> None:
    key, raw_type = reader.pick(reader.payload, "document_type", "type")
    if raw_type is None:
        return
    kind = raw_type.strip().upper() if isinstance(raw_type, str) else None
    if kind in DOCUMENT_TYPES:
        doc.document_type = kind
    else:
        reader.error(
            "The document type must be INVOICE, CREDIT_NOTE, DEBIT_NOTE, "
            "SELFBILLING_INVOICE or SELFBILLING_CREDIT_NOTE.",
            key,
            "JSON-DOCUMENT-TYPE",
            "document_type in DocumentType",
        )


def _read_dates(reader: Reader, doc: Document) -> None:
    for attr, name in _DATES:
        value, problem = parse_date(reader.payload.get(name))
        if problem:
            reader.error(
                f"The {name.replace('_', ' ')} {problem}.", name, "PEPPOL-EN16931-F001",
                "string-length(text()) = 10 and (string(.) castable as xs:date)",
            )  # fmt: skip
        setattr(doc, attr, value)


def _read_vatex(reader: Reader, doc: Document) -> None:
    vatex = as_text(reader.payload.get("vatex"))
    if vatex is not None and vatex.upper() not in VATEX_CODES:
        reader.error(
            f"The VAT exemption code {show(vatex)} is unknown: use a VATEX code such as "
            "VATEX-EU-AE (reverse charge) or VATEX-EU-IC (intra-community supply).",
            "vatex",
            "BR-CL-22",
            "cbc:TaxExemptionReasonCode is in the VATEX code list",
        )
    else:
        doc.vatex = vatex.upper() if vatex else None
    _, doc.vatex_note = reader.text(reader.payload, "", "vatex_note")


def _read_currency(reader: Reader, doc: Document) -> None:
    raw = reader.payload.get("currency")
    if raw is None:
        return
    code = raw.strip() if isinstance(raw, str) else None
    if code not in ISO_CURRENCIES:
        reader.error(
            f"The currency {show(raw)} is not an ISO 4217 code: use three capital letters "
            'such as "EUR".',
            "currency",
            "BR-CL-04",
            "cbc:DocumentCurrencyCode is in ISO 4217",
        )
        return
    doc.currency = code
    if code not in API_CURRENCIES:
        reader.warning(
            f"{code} is a valid currency for Peppol, but e-invoice.be's API only lists "
            + ", ".join(sorted(API_CURRENCIES))
            + "; the live service may refuse it.",
            "currency",
            "JSON-CURRENCY",
            "currency in CurrencyCode",
        )


def _read_billing_reference(reader: Reader, doc: Document) -> None:
    key, raw = reader.pick(
        reader.payload,
        "billing_reference",
        "invoice_reference",
        "preceding_invoice_id",
        "preceding_invoice_reference",
    )
    if isinstance(raw, dict):  # {"invoice_id": ...} / {"id": ...}
        raw = raw.get("invoice_id", raw.get("id"))
    elif isinstance(raw, list) and raw:
        raw = raw[0]
    doc.billing_reference = as_text(raw)
    if doc.is_credit_note and not doc.billing_reference:
        reader.error(
            "A credit note must say which invoice it corrects: add the number of that "
            "invoice as billing_reference.",
            key,
            "BR-55",
            "exists(cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID)",
        )
