"""A Peppol BIS 3.0 UBL file read back into the tenant API's DocumentCreate JSON.

Used by ``POST /api/documents/ubl`` and ``POST /api/validate/ubl``: the JSON then goes through the
same EN 16931 checks as ``POST /api/documents/``. Only the fields the JSON model carries are read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - parsing our own tenants' uploads, no DTDs
from typing import Any

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
ROOTS = {
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2": ("Invoice", "INVOICE"),
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2": ("CreditNote", "CREDIT_NOTE"),
}


class NotUbl(ValueError):
    """The bytes are XML but not a UBL Invoice or CreditNote."""


class NotXml(ValueError):
    """The bytes are not well-formed XML."""


def _text(node: ET.Element | None, path: str) -> str | None:
    found = node.find(path, NS) if node is not None else None
    text = (found.text or "").strip() if found is not None else ""
    return text or None


def _party(root: ET.Element, role: str) -> dict[str, Any]:
    party = root.find(f"cac:{role}/cac:Party", NS)
    if party is None:
        return {}
    street = _text(party, "cac:PostalAddress/cbc:StreetName")
    city = _text(party, "cac:PostalAddress/cbc:CityName")
    zone = _text(party, "cac:PostalAddress/cbc:PostalZone")
    country = _text(party, "cac:PostalAddress/cac:Country/cbc:IdentificationCode")
    address = ", ".join(p for p in (street, " ".join(p for p in (zone, city) if p), country) if p)
    return {
        "name": _text(party, "cac:PartyLegalEntity/cbc:RegistrationName")
        or _text(party, "cac:PartyName/cbc:Name"),
        "tax_id": _text(party, "cac:PartyTaxScheme/cbc:CompanyID"),
        "company_id": _text(party, "cac:PartyLegalEntity/cbc:CompanyID"),
        "email": _text(party, "cac:Contact/cbc:ElectronicMail"),
        "address": address or None,
    }


def _line(node: ET.Element, quantity_tag: str) -> dict[str, Any]:
    quantity = node.find(f"cbc:{quantity_tag}", NS)
    return {
        "description": _text(node, "cac:Item/cbc:Name") or _text(node, "cac:Item/cbc:Description"),
        "quantity": _text(node, f"cbc:{quantity_tag}"),
        "unit": quantity.get("unitCode") if quantity is not None else None,
        "unit_price": _text(node, "cac:Price/cbc:PriceAmount"),
        "amount": _text(node, "cbc:LineExtensionAmount"),
        "tax_rate": _text(node, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent") or "0",
    }


def _attachments(root: ET.Element) -> list[dict[str, Any]]:
    """Files embedded in the UBL (BG-24), as DocumentCreate's attachments (base64 kept)."""
    found = []
    for reference in root.findall("cac:AdditionalDocumentReference", NS):
        blob = reference.find("cac:Attachment/cbc:EmbeddedDocumentBinaryObject", NS)
        if blob is None or not (blob.text or "").strip():
            continue
        found.append(
            {
                "file_name": blob.get("filename") or _text(reference, "cbc:ID") or "attachment",
                "file_type": blob.get("mimeCode") or "application/octet-stream",
                "file_data": "".join((blob.text or "").split()),
            }
        )
    return found


def parse(data: bytes) -> ET.Element:
    if b"<!DOCTYPE" in data[:2048] or b"<!ENTITY" in data:
        raise NotXml("DTDs and entities are not accepted")
    try:
        root = ET.fromstring(data)  # noqa: S314 - DTDs refused above
    except ET.ParseError as exc:
        raise NotXml(f"not well-formed XML: {exc}") from None
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if namespace not in ROOTS or root.tag.rsplit("}", 1)[-1] != ROOTS[namespace][0]:
        raise NotUbl(f"root element {root.tag!r} is not a UBL Invoice or CreditNote")
    return root


def to_payload(root: ET.Element) -> dict[str, Any]:
    """The DocumentCreate JSON of a parsed UBL document (None values left out)."""
    name, document_type = ROOTS[root.tag[1:].split("}", 1)[0]]
    credit = name == "CreditNote"
    vendor = _party(root, "AccountingSupplierParty")
    customer = _party(root, "AccountingCustomerParty")
    line_tag, quantity_tag = (
        ("CreditNoteLine", "CreditedQuantity") if credit else ("InvoiceLine", "InvoicedQuantity")
    )
    payload: dict[str, Any] = {
        "document_type": document_type,
        "invoice_id": _text(root, "cbc:ID"),
        "invoice_date": _text(root, "cbc:IssueDate"),
        "due_date": _text(root, "cbc:DueDate")
        or _text(root, "cac:PaymentMeans/cbc:PaymentDueDate"),
        "currency": _text(root, "cbc:DocumentCurrencyCode") or "EUR",
        "note": _text(root, "cbc:Note"),
        "purchase_order": _text(root, "cac:OrderReference/cbc:ID"),
        "billing_reference": _text(
            root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"
        ),
        "payment_term": _text(root, "cac:PaymentTerms/cbc:Note"),
        "items": [_line(n, quantity_tag) for n in root.findall(f"cac:{line_tag}", NS)],
        "attachments": _attachments(root) or None,
    }
    for prefix, party in (("vendor", vendor), ("customer", customer)):
        for key, value in party.items():
            payload[f"{prefix}_{key}"] = value
    iban = _text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID")
    if iban:
        payload["payment_details"] = [{"iban": iban}]
    return _without_nones(payload)


def _without_nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nones(v) for v in value]
    return value
