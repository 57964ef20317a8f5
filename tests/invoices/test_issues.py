"""Validation issues land next to the input they concern, in a bookkeeper's words."""

import pytest

from invoices.issues import place

ADJ = {("allowances", 0): 1, ("charges", 0): 0}


def one(issue, **kw):
    kw.setdefault("line_count", 3)
    kw.setdefault("adjustment_index", ADJ)
    kw.setdefault("adjustment_count", 2)
    kw.setdefault("labels", {"customer_tax_id": "Buyer VAT number", "tax_code": "VAT category"})
    return place([{"type": "error", **issue}], **kw)


@pytest.mark.parametrize(
    ("issue", "where"),
    [
        ({"location": "items[2].tax_rate"}, ("line", 2, "tax_rate")),
        ({"location": "items[0].unit_price", "rule_id": "BR-26"}, ("line", 0, "unit_price")),
        ({"location": "items[1].amount", "rule_id": "PEPPOL-EN16931-R120"}, ("line", 1, "row")),
        ({"location": "items[1]", "rule_id": "BR-25"}, ("line", 1, "description")),
        (
            {"location": "/Invoice/cac:InvoiceLine[3]/cac:Price/cbc:PriceAmount"},
            ("line", 2, "unit_price"),
        ),
        (
            {"location": "/CreditNote/cac:CreditNoteLine[2]/cbc:CreditedQuantity"},
            ("line", 1, "quantity"),
        ),
        (
            {
                "location": "/*:Invoice[namespace-uri()='urn:x'][1]/*:InvoiceLine[namespace-uri()='urn:y'][3]/*:Item[namespace-uri()='urn:y'][1]/*:ClassifiedTaxCategory[namespace-uri()='urn:y'][1]"
            },
            ("line", 2, "tax_rate"),
        ),
        ({"location": "/Invoice/cac:InvoiceLine[2]", "rule_id": "BR-22"}, ("line", 1, "quantity")),
        ({"location": "customer_tax_id", "rule_id": "BR-CO-09"}, ("field", "customer_tax_id")),
        ({"location": "payment_details[0].iban"}, ("field", "iban")),
        ({"location": "payment_details[0].swift"}, ("field", "bic")),
        ({"location": "billing_reference", "rule_id": "BR-55"}, ("field", "corrects")),
        (
            {"location": "/Invoice/cac:AccountingCustomerParty/cac:Party/cbc:EndpointID"},
            ("field", "customer_peppol_id"),
        ),
        (
            {
                "location": "/Invoice/cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID"
            },
            ("field", "vendor_tax_id"),
        ),
        ({"location": "/Invoice/cbc:IssueDate"}, ("field", "invoice_date")),
        (
            {"location": "/Invoice/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID"},
            ("field", "iban"),
        ),
        ({"location": "charges[0].amount"}, ("adjustment", 0, "amount")),
        (
            {"location": "allowances[0].tax_rate", "rule_id": "BR-S-06"},
            ("adjustment", 1, "tax_rate"),
        ),
        ({"rule_id": "BR-CO-10"}, ("totals",)),
        (
            {
                "location": "/Invoice/cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount",
                "rule_id": "BR-CO-13",
            },
            ("totals",),
        ),
        ({"location": "total_tax", "rule_id": "BR-CO-14"}, ("totals",)),
        ({"location": "tax_details[0].amount"}, ("totals",)),
        ({"rule_id": "BR-02"}, ("field", "invoice_id")),
        ({"location": "items", "rule_id": "BR-16"}, ("field", "lines")),
        ({"location": "items[7].quantity"}, ("general",)),  # no such line: shown at the top
        ({"location": "/Invoice/cac:Delivery/cbc:ActualDeliveryDate"}, ("general",)),
        ({"rule_id": "UBL-SR-42"}, ("general",)),
        ({}, ("general",)),
    ],
)
def test_it_places_each_issue_where_it_belongs(issue, where):
    placed = one({"message": "Something is wrong.", **issue})
    if where[0] == "line":
        assert placed.lines[where[1]][where[2]][0].text
    elif where[0] == "adjustment":
        assert placed.adjustments[where[1]][where[2]][0].text
    elif where[0] == "field":
        assert placed.fields[where[1]][0].text
    elif where[0] == "totals":
        assert placed.totals[0].text
    else:
        assert placed.general[0].text
    assert placed.count == 1


def test_it_names_the_api_keys_in_a_message_as_the_form_labels_them():
    placed = one(
        {
            "message": "The buyer's Peppol address cannot be derived: give the customer's VAT number (customer_tax_id).",
            "location": "customer_tax_id",
            "rule_id": "PEPPOL-EN16931-R010",
        }
    )
    message = placed.fields["customer_tax_id"][0]
    assert "customer_tax_id" not in message.text
    assert message.text.endswith("give the customer's VAT number (“Buyer VAT number”).")
    assert "PEPPOL-EN16931-R010" in message.detail


def test_it_replaces_schematron_jargon_with_plain_words():
    placed = one(
        {
            "message": "[BR-CO-10]-Sum of Invoice line net amount (BT-106) = Σ Invoice line net amount (BT-131).",
            "location": "/Invoice/cac:LegalMonetaryTotal/cbc:LineExtensionAmount",
            "rule_id": "BR-CO-10",
        }
    )
    assert placed.totals[0].text == "The sum of the line amounts does not match the lines."
    assert "BT-106" in placed.totals[0].detail


def test_it_keeps_warnings_apart_from_errors():
    placed = place(
        [{"message": "Check the BIC.", "location": "payment_details[0].swift", "type": "warning"}],
        line_count=1,
    )
    assert placed.fields["bic"][0].severity == "warning"
    assert not placed.has_errors
