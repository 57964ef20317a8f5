"""The UBL the sandbox renders (sandbox/ubl.py via en16931.to_ubl): Peppol BIS Billing 3.0."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

from sandbox.en16931 import compute_totals, to_ubl

from .conftest import credit_note, invoice, line, two_rate_invoice

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

# The order of the top-level elements in the UBL 2.1 Invoice schema (the ones we may emit).
INVOICE_SEQUENCE = [
    "CustomizationID", "ProfileID", "ID", "IssueDate", "DueDate", "InvoiceTypeCode", "Note",
    "DocumentCurrencyCode", "BuyerReference", "InvoicePeriod", "OrderReference",
    "BillingReference", "AccountingSupplierParty", "AccountingCustomerParty", "Delivery",
    "PaymentMeans", "PaymentTerms", "AllowanceCharge", "TaxTotal", "LegalMonetaryTotal",
    "InvoiceLine",
]  # fmt: skip
CREDIT_NOTE_SEQUENCE = [
    "CustomizationID", "ProfileID", "ID", "IssueDate", "CreditNoteTypeCode", "Note",
    "DocumentCurrencyCode", "BuyerReference", "InvoicePeriod", "OrderReference",
    "BillingReference", "AccountingSupplierParty", "AccountingCustomerParty", "Delivery",
    "PaymentMeans", "PaymentTerms", "AllowanceCharge", "TaxTotal", "LegalMonetaryTotal",
    "CreditNoteLine",
]  # fmt: skip


def render(payload: dict[str, Any]) -> ET.Element:
    return ET.fromstring(to_ubl(payload, "doc_abc123").encode())


def text(node: ET.Element, path: str) -> str | None:
    found = node.find(path, NS)
    return None if found is None else found.text


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def test_it_renders_the_guide_invoice_as_peppol_bis_billing_3():
    xml = to_ubl(invoice(), "doc_abc123")
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert f'<Invoice xmlns:cac="{NS["cac"]}" xmlns:cbc="{NS["cbc"]}" xmlns="{INVOICE_NS}">' in xml
    root = ET.fromstring(xml.encode())
    assert root.tag == f"{{{INVOICE_NS}}}Invoice"
    assert text(root, "cbc:CustomizationID") == CUSTOMIZATION
    assert text(root, "cbc:ProfileID") == PROFILE
    assert text(root, "cbc:ID") == "INV-2024-001"
    assert text(root, "cbc:IssueDate") == "2024-10-24"
    assert text(root, "cbc:DueDate") == "2024-11-24"
    assert text(root, "cbc:InvoiceTypeCode") == "380"
    assert text(root, "cbc:DocumentCurrencyCode") == "EUR"
    assert text(root, "cac:OrderReference/cbc:ID") == "PO-12345"
    assert text(root, "cac:PaymentTerms/cbc:Note") == "Payment due within 30 days"


def test_it_keeps_the_ubl_element_order():
    for payload, sequence in ((invoice(), INVOICE_SEQUENCE), (credit_note(), CREDIT_NOTE_SEQUENCE)):
        payload.update(
            note="Thanks",
            service_start_date="2024-10-01",
            service_end_date="2024-10-31",
            shipping_address="Delivery Street 2, 2000 Antwerpen, Belgium",
            allowances=[{"amount": 10, "reason": "Discount", "tax_rate": "21.00"}],
            customer_id="CUST-7",  # the buyer reference
            billing_reference="INV-2024-000",  # a corrective invoice may name its predecessor
        )
        names = [local(child.tag) for child in render(payload)]
        assert names == sorted(names, key=sequence.index)
        assert set(names) == set(sequence)


def test_it_derives_the_belgian_endpoint_ids_from_the_vat_numbers():
    root = render(invoice())
    supplier = root.find("cac:AccountingSupplierParty/cac:Party", NS)
    endpoint = supplier.find("cbc:EndpointID", NS)
    assert (endpoint.get("schemeID"), endpoint.text) == ("0208", "1018265814")
    assert text(supplier, "cac:PartyTaxScheme/cbc:CompanyID") == "BE1018265814"
    assert text(supplier, "cac:PartyTaxScheme/cac:TaxScheme/cbc:ID") == "VAT"
    assert text(supplier, "cac:PartyLegalEntity/cbc:RegistrationName") == "E-INVOICE BV"
    assert text(supplier, "cac:PartyLegalEntity/cbc:CompanyID") == "1018265814"
    address = supplier.find("cac:PostalAddress", NS)
    assert text(address, "cbc:StreetName") == "Brusselsesteenweg 119/A"
    assert text(address, "cbc:PostalZone") == "1980"
    assert text(address, "cbc:CityName") == "Zemst"
    assert text(address, "cac:Country/cbc:IdentificationCode") == "BE"
    customer = root.find("cac:AccountingCustomerParty/cac:Party", NS)
    endpoint = customer.find("cbc:EndpointID", NS)
    assert (endpoint.get("schemeID"), endpoint.text) == ("0208", "0848934496")


def test_it_uses_the_vat_scheme_for_other_countries_and_an_explicit_peppol_id_first():
    root = render(
        invoice(customer_tax_id="NL004495445B01", customer_address="Utrecht, Netherlands")
    )
    endpoint = root.find("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", NS)
    assert (endpoint.get("schemeID"), endpoint.text) == ("9944", "NL004495445B01")
    assert text(root, ".//cac:AccountingCustomerParty//cbc:IdentificationCode") == "NL"
    root = render(invoice(customer_peppol_id="0088:5412345000013"))
    endpoint = root.find("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", NS)
    assert (endpoint.get("schemeID"), endpoint.text) == ("0088", "5412345000013")


def test_it_writes_the_totals_compute_totals_computes():
    payload = two_rate_invoice()
    totals = compute_totals(payload)
    root = render(payload)
    monetary = root.find("cac:LegalMonetaryTotal", NS)
    assert Decimal(text(monetary, "cbc:LineExtensionAmount")) == totals["line_total"]
    assert Decimal(text(monetary, "cbc:TaxExclusiveAmount")) == totals["subtotal"]
    assert Decimal(text(monetary, "cbc:TaxInclusiveAmount")) == totals["invoice_total"]
    assert Decimal(text(monetary, "cbc:AllowanceTotalAmount")) == Decimal("50.00")
    assert Decimal(text(monetary, "cbc:ChargeTotalAmount")) == Decimal("25.00")
    assert Decimal(text(monetary, "cbc:PayableAmount")) == totals["amount_due"]
    assert Decimal(text(root, "cac:TaxTotal/cbc:TaxAmount")) == totals["total_tax"]
    subtotals = {
        text(s, "cac:TaxCategory/cbc:Percent"): (
            text(s, "cbc:TaxableAmount"), text(s, "cbc:TaxAmount"), text(s, "cac:TaxCategory/cbc:ID")
        )
        for s in root.findall("cac:TaxTotal/cac:TaxSubtotal", NS)
    }  # fmt: skip
    assert subtotals == {"21.00": ("975.00", "204.75", "S"), "6.00": ("200.00", "12.00", "S")}
    charges = [
        (
            text(ac, "cbc:ChargeIndicator"),
            text(ac, "cbc:Amount"),
            text(ac, "cac:TaxCategory/cbc:ID"),
        )
        for ac in root.findall("cac:AllowanceCharge", NS)
    ]
    assert charges == [("false", "50.00", "S"), ("true", "25.00", "S")]
    for amount in root.iter():
        if "currencyID" in amount.attrib:
            assert amount.get("currencyID") == "EUR"


def test_it_renders_the_lines():
    payload = invoice(
        items=[
            line(),
            line(description="Consulting", quantity="1.5", unit="HUR", unit_price="80",
                 amount="110.00", product_code="CONS", allowances=[{"amount": 10, "reason": "Loyal"}]),
        ]
    )  # fmt: skip
    lines = render(payload).findall("cac:InvoiceLine", NS)
    assert [text(node, "cbc:ID") for node in lines] == ["1", "2"]
    second = lines[1]
    quantity = second.find("cbc:InvoicedQuantity", NS)
    assert (quantity.get("unitCode"), quantity.text) == ("HUR", "1.5")
    assert text(second, "cbc:LineExtensionAmount") == "110.00"
    assert text(second, "cac:AllowanceCharge/cbc:ChargeIndicator") == "false"
    assert text(second, "cac:AllowanceCharge/cbc:Amount") == "10.00"
    assert text(second, "cac:Item/cbc:Name") == "Consulting"
    assert text(second, "cac:Item/cac:SellersItemIdentification/cbc:ID") == "CONS"
    assert text(second, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID") == "S"
    assert text(second, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent") == "21.00"
    assert text(second, "cac:Price/cbc:PriceAmount") == "80"


def test_it_renders_a_credit_note_with_its_billing_reference():
    xml = to_ubl(credit_note(), "doc_cn")
    root = ET.fromstring(xml.encode())
    assert root.tag == f"{{{CREDIT_NOTE_NS}}}CreditNote"
    assert text(root, "cbc:CustomizationID") == CUSTOMIZATION
    assert text(root, "cbc:CreditNoteTypeCode") == "381"
    assert text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID") == "INV-2024-001"
    assert root.find("cbc:DueDate", NS) is None  # not in the UBL 2.1 CreditNote schema
    assert text(root, "cac:PaymentMeans/cbc:PaymentDueDate") == "2024-11-24"
    assert root.find("cac:InvoiceLine", NS) is None
    credited = root.find("cac:CreditNoteLine/cbc:CreditedQuantity", NS)
    assert (credited.get("unitCode"), credited.text) == ("C62", "10")


def test_it_uses_the_type_codes_and_profiles_of_each_document_type():
    assert text(render(invoice(document_type="DEBIT_NOTE")), "cbc:InvoiceTypeCode") == "383"
    root = render(invoice(document_type="SELFBILLING_INVOICE"))
    assert text(root, "cbc:InvoiceTypeCode") == "389"
    assert text(root, "cbc:CustomizationID").endswith("poacc:selfbilling:3.0")
    assert text(root, "cbc:ProfileID") == "urn:fdc:peppol.eu:2017:poacc:selfbilling:01:1.0"
    root = render(credit_note(document_type="SELFBILLING_CREDIT_NOTE"))
    assert text(root, "cbc:CreditNoteTypeCode") == "261"


def test_it_writes_the_payment_means():
    root = render(invoice())
    means = root.find("cac:PaymentMeans", NS)
    assert text(means, "cbc:PaymentMeansCode") == "58"  # SEPA credit transfer
    assert text(means, "cbc:PaymentID") == "INV-2024-001"
    assert text(means, "cac:PayeeFinancialAccount/cbc:ID") == "BE68539007547034"
    assert (
        text(means, "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID") == "GEBABEBB"
    )
    usd = render(invoice(currency="USD"))
    assert text(usd, "cac:PaymentMeans/cbc:PaymentMeansCode") == "30"


def test_it_gives_exempt_categories_their_reason_and_no_rate_when_out_of_scope():
    payload = invoice(tax_code="AE", vatex="VATEX-EU-AE", items=[line(tax_rate="0.00")])
    category = render(payload).find("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory", NS)
    assert text(category, "cbc:ID") == "AE"
    assert text(category, "cbc:Percent") == "0.00"
    assert text(category, "cbc:TaxExemptionReasonCode") == "VATEX-EU-AE"
    payload = invoice(tax_code="O", vatex_note="Not subject to VAT", items=[line(tax_rate="0")])
    root = render(payload)
    assert root.find(".//cac:TaxSubtotal/cac:TaxCategory/cbc:Percent", NS) is None
    assert text(root, ".//cac:TaxSubtotal//cbc:TaxExemptionReason") == "Not subject to VAT"
    assert root.find(".//cac:PartyTaxScheme", NS) is None  # BR-O-02: no VAT identifiers


def test_it_gives_a_buyer_reference_when_there_is_no_order_reference():
    # PEPPOL-EN16931-R003: a buyer reference or an order reference is mandatory.
    root = render(invoice(purchase_order=None))
    assert root.find("cac:OrderReference", NS) is None
    assert text(root, "cbc:BuyerReference") == "INV-2024-001"


def test_it_escapes_text_and_drops_characters_xml_cannot_carry():
    root = render(invoice(vendor_name='Smith & Sons <Ltd> "quoted"\x00\x1f\ud800'))
    name = text(root, "cac:AccountingSupplierParty/cac:Party/cac:PartyName/cbc:Name")
    assert name == 'Smith & Sons <Ltd> "quoted"'


def test_it_still_renders_well_formed_xml_for_an_invalid_payload():
    for payload in (None, {}, {"items": [{"unit_price": "x"}]}, credit_note(items=None)):
        ET.fromstring(to_ubl(payload, "doc_bad").encode())


def test_it_splits_free_text_addresses_into_ubl_fields():
    cases = {
        "Brusselsesteenweg 119/A, 1980 Zemst, Belgium": ("Brusselsesteenweg 119/A", "1980", "Zemst"),
        "Keizersgracht 1, 1015 CJ Amsterdam, Netherlands": ("Keizersgracht 1", "1015 CJ", "Amsterdam"),
        "Rue du Fort 5, L-1234 Luxembourg, LU": ("Rue du Fort 5", "1234", "Luxembourg"),
    }  # fmt: skip
    for address, (street, postal, city) in cases.items():
        root = render(invoice(customer_address=address))
        node = root.find("cac:AccountingCustomerParty/cac:Party/cac:PostalAddress", NS)
        assert (text(node, "cbc:StreetName"), text(node, "cbc:PostalZone")) == (street, postal)
        assert text(node, "cbc:CityName") == city
