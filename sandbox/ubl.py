"""Render a read ``en16931.Document`` as Peppol BIS Billing 3.0 UBL 2.1.

Element order follows the UBL 2.1 schemas (Invoice-2 and CreditNote-2 differ: a credit note
has no cbc:DueDate, so its due date goes to cac:PaymentMeans/cbc:PaymentDueDate).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from . import en16931

if TYPE_CHECKING:
    from .en16931 import AllowanceCharge, Document, Line, Party, Totals

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

# cac/cbc are the prefixes every UBL reader expects; registering them is idempotent.
ET.register_namespace("cac", CAC)
ET.register_namespace("cbc", CBC)

TYPE_CODES = {
    "INVOICE": "380",
    "DEBIT_NOTE": "383",
    "SELFBILLING_INVOICE": "389",
    "CREDIT_NOTE": "381",
    "SELFBILLING_CREDIT_NOTE": "261",
}
SEPA_COUNTRIES = frozenset(
    "AT BE BG CH CY CZ DE DK EE ES FI FR GB GI GR HR HU IE IS IT LI LT LU LV MC MT NL NO PL PT "
    "RO SE SI SK SM VA AD".split()
)

# XML 1.0 cannot carry control characters or lone surrogates, whatever JSON delivered.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# "1980 Zemst", "1015 CJ Amsterdam", "L-1234 Luxembourg", "114 55 Stockholm".
_POSTAL_CITY = re.compile(
    r"(?:[A-Z]{1,2}-)?([0-9]{4} ?[A-Z]{2}|[0-9]{4,5}|[0-9]{3} [0-9]{2})\s+(.+)"
)


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _sub(
    parent: ET.Element, ns: str, tag: str, text: str | None = None, **attrs: str
) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ns}}}{tag}", {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def _cbc(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    return _sub(parent, CBC, tag, text, **attrs)


def _cac(parent: ET.Element, tag: str) -> ET.Element:
    return _sub(parent, CAC, tag)


def _amount(parent: ET.Element, tag: str, value: Decimal, currency: str) -> None:
    _cbc(parent, tag, format(value, ".2f"), currencyID=currency)


def _number(value: Decimal) -> str:
    """Quantities and prices as plain decimals: no exponent, no needless trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _percent(rate: Decimal) -> str:
    return format(rate.quantize(Decimal("0.01")), "f")


def _address_parts(text: str | None) -> dict[str, str]:
    """Split "Street 1, 1000 City, Country" into UBL address fields, best effort."""
    if not text:
        return {}
    parts = [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]
    if parts and (parts[-1].lower().rstrip(".") in en16931.COUNTRY_NAMES or len(parts[-1]) == 2):
        parts = parts[:-1]
    out: dict[str, str] = {}
    rest = []
    for part in parts:
        match = _POSTAL_CITY.fullmatch(part)
        if match and "PostalZone" not in out:
            out["PostalZone"], out["CityName"] = match.group(1), match.group(2)
        else:
            rest.append(part)
    if rest:
        out["StreetName"] = rest[0]
    if len(rest) > 1:
        out["AdditionalStreetName"] = ", ".join(rest[1:])
    return out


def _postal_address(parent: ET.Element, tag: str, text: str | None, country: str | None) -> None:
    address = _cac(parent, tag)
    parts = _address_parts(text)
    for field in ("StreetName", "AdditionalStreetName", "CityName", "PostalZone"):
        if field in parts:
            _cbc(address, field, parts[field])
    _cbc(_cac(address, "Country"), "IdentificationCode", country or "")


def _tax_category(parent: ET.Element, tag: str, code: str, rate: Decimal) -> None:
    category = _cac(parent, tag)
    _cbc(category, "ID", code)
    if code != "O":  # "not subject to VAT" carries no rate (BR-O-05..07)
        _cbc(category, "Percent", _percent(rate))
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")


def _party(parent: ET.Element, tag: str, party: Party, with_vat: bool) -> None:
    wrapper = _cac(parent, tag)
    node = _cac(wrapper, "Party")
    if party.endpoint:
        _cbc(node, "EndpointID", party.endpoint[1], schemeID=party.endpoint[0])
    if party.name:
        _cbc(_cac(node, "PartyName"), "Name", party.name)
    _postal_address(node, "PostalAddress", party.address, party.country)
    if party.tax_id and with_vat:
        scheme = _cac(node, "PartyTaxScheme")
        _cbc(scheme, "CompanyID", party.tax_id)
        _cbc(_cac(scheme, "TaxScheme"), "ID", "VAT")
    legal = _cac(node, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name or "")
    company_id = party.company_id
    if not company_id and party.endpoint and party.endpoint[0] == "0208":
        company_id = party.endpoint[1]  # the CBE number is the Belgian legal identifier
    if company_id:
        if party.endpoint and party.endpoint[0] == "0208" and company_id.isdigit():
            _cbc(legal, "CompanyID", company_id, schemeID="0208")
        else:
            _cbc(legal, "CompanyID", company_id)
    if party.address_recipient or party.email:
        contact = _cac(node, "Contact")
        if party.address_recipient:
            _cbc(contact, "Name", party.address_recipient)
        if party.email:
            _cbc(contact, "ElectronicMail", party.email)


def _allowance_charge(
    parent: ET.Element, ac: AllowanceCharge, currency: str, with_tax: bool
) -> None:
    node = _cac(parent, "AllowanceCharge")
    _cbc(node, "ChargeIndicator", "true" if ac.is_charge else "false")
    if ac.reason_code:
        _cbc(node, "AllowanceChargeReasonCode", ac.reason_code)
    if ac.reason:
        _cbc(node, "AllowanceChargeReason", ac.reason)
    if ac.multiplier is not None:
        _cbc(node, "MultiplierFactorNumeric", _number(ac.multiplier))
    _amount(node, "Amount", ac.amount, currency)
    if ac.base_amount is not None:
        _amount(node, "BaseAmount", ac.base_amount, currency)
    if with_tax:
        _tax_category(node, "TaxCategory", ac.tax_code, ac.tax_rate)


def _line(root: ET.Element, doc: Document, line: Line, credit: bool) -> None:
    node = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
    _cbc(node, "ID", str(line.number))
    _cbc(
        node,
        "CreditedQuantity" if credit else "InvoicedQuantity",
        _number(line.quantity),
        unitCode=line.unit,
    )
    _amount(node, "LineExtensionAmount", line.amount, doc.currency)
    for ac in (*line.allowances, *line.charges):
        _allowance_charge(node, ac, doc.currency, with_tax=False)
    item = _cac(node, "Item")
    if line.description and line.description != line.name[:500]:
        _cbc(item, "Description", line.description)
    _cbc(item, "Name", line.name)
    if line.product_code:
        _cbc(_cac(item, "SellersItemIdentification"), "ID", line.product_code)
    _tax_category(item, "ClassifiedTaxCategory", line.tax_code, line.tax_rate)
    price = _cac(node, "Price")
    _cbc(price, "PriceAmount", _number(line.price), currencyID=doc.currency)


def _date(value: date | None) -> str:
    return (value or date.today()).isoformat()


def _header(root: ET.Element, doc: Document, document_id: str, credit: bool) -> None:
    selfbilling = doc.document_type.startswith("SELFBILLING")
    _cbc(
        root,
        "CustomizationID",
        en16931.SELFBILLING_CUSTOMIZATION_ID if selfbilling else en16931.CUSTOMIZATION_ID,
    )
    _cbc(root, "ProfileID", en16931.SELFBILLING_PROFILE_ID if selfbilling else en16931.PROFILE_ID)
    _cbc(root, "ID", doc.invoice_id or str(document_id))
    _cbc(root, "IssueDate", _date(doc.invoice_date))
    if doc.due_date and not credit:
        _cbc(root, "DueDate", doc.due_date.isoformat())
    _cbc(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", TYPE_CODES[doc.document_type])
    if doc.note:
        _cbc(root, "Note", doc.note)
    _cbc(root, "DocumentCurrencyCode", doc.currency)
    # PEPPOL-EN16931-R003 wants a buyer reference or an order reference.
    buyer_reference = doc.buyer_reference or (None if doc.purchase_order else doc.invoice_id)
    if buyer_reference:
        _cbc(root, "BuyerReference", buyer_reference)
    if doc.service_start or doc.service_end:
        period = _cac(root, "InvoicePeriod")
        if doc.service_start:
            _cbc(period, "StartDate", doc.service_start.isoformat())
        if doc.service_end:
            _cbc(period, "EndDate", doc.service_end.isoformat())
    if doc.purchase_order:
        _cbc(_cac(root, "OrderReference"), "ID", doc.purchase_order)
    if doc.billing_reference:
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", doc.billing_reference)


def _delivery(root: ET.Element, doc: Document) -> None:
    if not doc.shipping_address:
        return
    delivery = _cac(root, "Delivery")
    country = en16931._country_from_address(doc.shipping_address) or doc.customer.country
    _postal_address(_cac(delivery, "DeliveryLocation"), "Address", doc.shipping_address, country)
    if doc.shipping_recipient:
        _cbc(_cac(_cac(delivery, "DeliveryParty"), "PartyName"), "Name", doc.shipping_recipient)


def _payment_means_code(doc: Document, payment) -> str:
    if payment.iban:
        sepa = doc.currency == "EUR" and payment.iban[:2] in SEPA_COUNTRIES
        return "58" if sepa else "30"  # SEPA credit transfer / credit transfer
    return "30" if payment.account_number else "1"  # "1": instrument not defined


def _payments(root: ET.Element, doc: Document, credit: bool) -> None:
    for payment in doc.payments:
        means = _cac(root, "PaymentMeans")
        _cbc(means, "PaymentMeansCode", _payment_means_code(doc, payment))
        if credit and doc.due_date:
            _cbc(means, "PaymentDueDate", doc.due_date.isoformat())
        if payment.reference:
            _cbc(means, "PaymentID", payment.reference)
        account_id = payment.iban or payment.account_number
        if account_id:
            account = _cac(means, "PayeeFinancialAccount")
            _cbc(account, "ID", account_id)
            if payment.bic:
                _cbc(_cac(account, "FinancialInstitutionBranch"), "ID", payment.bic)
    if credit and doc.due_date and not doc.payments:
        means = _cac(root, "PaymentMeans")
        _cbc(means, "PaymentMeansCode", "1")
        _cbc(means, "PaymentDueDate", doc.due_date.isoformat())
    if doc.payment_term:
        _cbc(_cac(root, "PaymentTerms"), "Note", doc.payment_term)


def _tax_total(root: ET.Element, doc: Document, totals: Totals) -> None:
    tax_total = _cac(root, "TaxTotal")
    _amount(tax_total, "TaxAmount", totals.tax_total, doc.currency)
    for subtotal in totals.subtotals:
        node = _cac(tax_total, "TaxSubtotal")
        _amount(node, "TaxableAmount", subtotal.taxable_amount, doc.currency)
        _amount(node, "TaxAmount", subtotal.tax_amount, doc.currency)
        category = _cac(node, "TaxCategory")
        _cbc(category, "ID", subtotal.tax_code)
        if subtotal.tax_code != "O":
            _cbc(category, "Percent", _percent(subtotal.rate))
        if subtotal.tax_code in en16931.EXEMPT_CATEGORIES:
            if doc.vatex:
                _cbc(category, "TaxExemptionReasonCode", doc.vatex)
            if doc.vatex_note:
                _cbc(category, "TaxExemptionReason", doc.vatex_note)
        _cbc(_cac(category, "TaxScheme"), "ID", "VAT")


def _monetary_total(root: ET.Element, doc: Document, totals: Totals) -> None:
    monetary = _cac(root, "LegalMonetaryTotal")
    _amount(monetary, "LineExtensionAmount", totals.line_total, doc.currency)
    _amount(monetary, "TaxExclusiveAmount", totals.tax_exclusive, doc.currency)
    _amount(monetary, "TaxInclusiveAmount", totals.tax_inclusive, doc.currency)
    if doc.allowances:
        _amount(monetary, "AllowanceTotalAmount", totals.allowance_total, doc.currency)
    if doc.charges:
        _amount(monetary, "ChargeTotalAmount", totals.charge_total, doc.currency)
    if totals.prepaid:
        _amount(monetary, "PrepaidAmount", totals.prepaid, doc.currency)
    _amount(monetary, "PayableAmount", totals.payable, doc.currency)


def render(doc: Document, totals: Totals, document_id: str) -> str:
    """The UBL document as XML text (UTF-8 declaration included), in the element order the
    UBL schema fixes: header, parties, delivery, payment, charges, taxes, totals, lines."""
    credit = doc.is_credit_note
    root_ns = CREDIT_NOTE_NS if credit else INVOICE_NS
    # The root's namespace is declared by hand as the default one, as Peppol documents do;
    # ElementTree's default_namespace option refuses unqualified attributes like currencyID.
    root = ET.Element("CreditNote" if credit else "Invoice", {"xmlns": root_ns})
    _header(root, doc, document_id, credit)
    # A supply not subject to VAT (O) must not show VAT identifiers (BR-O-02..04).
    with_vat = not any(line.tax_code == "O" for line in doc.lines)
    _party(root, "AccountingSupplierParty", doc.vendor, with_vat)
    _party(root, "AccountingCustomerParty", doc.customer, with_vat)
    _delivery(root, doc)
    _payments(root, doc, credit)
    for ac in (*doc.allowances, *doc.charges):
        _allowance_charge(root, ac, doc.currency, with_tax=True)
    _tax_total(root, doc, totals)
    _monetary_total(root, doc, totals)
    for line in doc.lines:
        _line(root, doc, line, credit)

    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
