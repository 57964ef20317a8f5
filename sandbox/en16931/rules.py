"""The cross-field business rules (BR-*, BR-CO-*, the per-category BR-S/Z/E/AE/IC/G/O families
and Peppol R010/R020) checked once the document is read, and the stated totals against EN 16931's.
"""

from __future__ import annotations

from decimal import Decimal

from .codelists import CATEGORY_NAMES, CATEGORY_RULES, EXEMPT_CATEGORIES
from .fields import Reader
from .model import Document, Totals
from .totals import compute
from .values import ZERO, blank, fmt, rate_str


def check_document(reader: Reader, doc: Document) -> None:
    """The rules that span fields, on a document ``reader`` has read (its issues go there)."""
    p = reader.payload
    if not doc.invoice_id:
        reader.error(
            "The invoice number is missing.",
            "invoice_number" if "invoice_number" in p else "invoice_id",
            "BR-02",
            "normalize-space(cbc:ID) != ''",
        )
    if doc.invoice_date is None and blank(p.get("invoice_date")):
        reader.error(
            "The invoice date is missing.",
            "invoice_date",
            "BR-03",
            "normalize-space(cbc:IssueDate) != ''",
        )
    if doc.invoice_date and doc.due_date and doc.due_date < doc.invoice_date:
        reader.warning(
            f"The due date {doc.due_date.isoformat()} is before the invoice date "
            f"{doc.invoice_date.isoformat()}.",
            "due_date",
            "JSON-DUE-DATE",
            "due_date >= invoice_date",
        )
    if doc.service_start and doc.service_end and doc.service_end < doc.service_start:
        reader.error(
            "The service period ends before it starts.",
            "service_end_date",
            "BR-29",
            "xs:date(cbc:EndDate) >= xs:date(cbc:StartDate)",
        )
    if doc.billing_reference and doc.invoice_id and doc.billing_reference == doc.invoice_id:
        reader.warning(
            "The billing reference is this document's own number; it should be the number "
            "of the invoice being corrected.",
            "billing_reference",
            "JSON-BILLING-REFERENCE",
            "billing_reference != invoice_id",
        )
    _check_parties(reader, doc)
    _check_categories(reader, doc)
    if doc.lines:
        _check_totals(reader, doc, compute(doc))


def _check_parties(reader: Reader, doc: Document) -> None:
    vendor, customer = doc.vendor, doc.customer
    # A VAT number that was given but unreadable has its own error; no second one for its country.
    for role, party, who, rule in (
        ("vendor", vendor, "seller", "BR-09"),
        ("customer", customer, "buyer", "BR-11"),
    ):
        if party.country is None and blank(reader.payload.get(f"{role}_tax_id")):
            reader.error(
                f"We cannot tell the {who}'s country: give the VAT number with its country "
                'prefix or end the address with the country (for example "…, Belgium").',
                f"{role}_address",
                rule,
                "normalize-space(cac:Country/cbc:IdentificationCode) != ''",
            )
    tax_id_given = not blank(reader.payload.get("vendor_tax_id"))
    if not tax_id_given and not vendor.company_id:
        reader.error(
            "The seller needs a VAT number (vendor_tax_id) or a company number "
            "(vendor_company_id).",
            "vendor_tax_id",
            "BR-CO-26",
            "exists(cac:PartyTaxScheme/cbc:CompanyID) or exists(cac:PartyLegalEntity/cbc:CompanyID)",
        )
    elif vendor.endpoint is None and not tax_id_given:
        reader.error(
            "The seller's Peppol address cannot be derived: give the VAT number "
            "(vendor_tax_id) with its country prefix.",
            "vendor_tax_id",
            "PEPPOL-EN16931-R020",
            "cbc:EndpointID",
        )
    customer_id_given = not all(
        blank(reader.payload.get(k)) for k in ("customer_tax_id", "customer_peppol_id")
    )
    if customer.endpoint is None and not customer_id_given:
        reader.error(
            "The buyer's Peppol address cannot be derived: give the customer's VAT number "
            "(customer_tax_id) or Peppol ID (customer_peppol_id).",
            "customer_tax_id",
            "PEPPOL-EN16931-R010",
            "cbc:EndpointID",
        )


def _check_categories(reader: Reader, doc: Document) -> None:
    used = {line.tax_code for line in doc.lines}
    used |= {ac.tax_code for ac in (*doc.allowances, *doc.charges)}
    vendor_vat = not blank(reader.payload.get("vendor_tax_id"))
    customer_vat = not blank(reader.payload.get("customer_tax_id"))
    for code in sorted(used):
        family = CATEGORY_RULES[code]
        name = CATEGORY_NAMES[code]
        if code in ("S", "Z", "E", "AE", "K", "G", "L", "M") and not vendor_vat:
            if blank(reader.payload.get("vendor_company_id")):
                continue  # BR-CO-26 already asks for an identifier
            reader.error(
                f"An invoice with {name} lines must carry the seller's VAT number (vendor_tax_id).",
                "vendor_tax_id",
                f"{family}-02",
                "exists(cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID)",
            )
        if code in ("AE", "K") and not customer_vat:
            reader.error(
                f"An invoice with {name} lines must carry the buyer's VAT number "
                "(customer_tax_id).",
                "customer_tax_id",
                f"{family}-02",
                "exists(cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID)",
            )
        if code in EXEMPT_CATEGORIES and not (doc.vatex or doc.vatex_note):
            example = {"AE": "VATEX-EU-AE", "K": "VATEX-EU-IC", "G": "VATEX-EU-G",
                       "O": "VATEX-EU-O"}.get(code, "VATEX-EU-132")  # fmt: skip
            reader.error(
                f"Lines that are {name} need the legal reason for not charging VAT: set vatex "
                f"(for example {example}) or vatex_note.",
                "vatex",
                f"{family}-10",
                "exists(cbc:TaxExemptionReason) or exists(cbc:TaxExemptionReasonCode)",
            )
    line_rates = {line.tax_rate for line in doc.lines}
    for ac in (*doc.allowances, *doc.charges):
        if ac.rate_defaulted and doc.lines and ac.tax_rate not in line_rates:
            kind = "charge" if ac.is_charge else "allowance"
            reader.warning(
                f"This {kind} has no VAT rate, so {rate_str(ac.tax_rate)}% applies, but no "
                f"line uses that rate. Give the {kind} the VAT rate of the lines it relates to.",
                ac.location + ".tax_rate",
                "JSON-DEFAULT-RATE",
                "allowance/charge tax_rate is one of the line rates",
            )
    if "O" in used and len(used) > 1:
        reader.error(
            "An invoice with lines not subject to VAT (O) cannot also contain other VAT "
            "categories; split it into two invoices.",
            "tax_code",
            "BR-O-11",
            "count(cac:TaxTotal/cac:TaxSubtotal) = 1",
        )


def _check_totals(reader: Reader, doc: Document, totals: Totals) -> None:
    """The totals the payload states (all optional) against the computed ones, in the order
    the API reports them; then payment terms and the sign of the total."""
    _check_subtotal(reader, doc, totals)
    _check_total_tax(reader, totals)
    _check_tax_details(reader, totals)
    _check_invoice_total(reader, totals)
    _check_amount_due(reader, doc, totals)
    _check_total_discount(reader)
    _check_due_date(reader, doc, totals)
    _check_sign(reader, doc, totals)


def _stated_if_wrong(
    reader: Reader, key: str, label: str, dec_rule: str, computed: Decimal
) -> Decimal | None:
    """The total the payload states under ``key`` when it is not the ``computed`` one (None
    when it is, or is absent or unreadable: the reader reported that)."""
    stated = reader.amount(reader.payload.get(key), key, label, dec_rule)
    return stated if stated is not None and stated != computed else None


def _check_subtotal(reader: Reader, doc: Document, totals: Totals) -> None:
    subtotal = _stated_if_wrong(reader, "subtotal", "subtotal", "BR-DEC-12", totals.tax_exclusive)
    if subtotal is None:
        return
    if not (doc.allowances or doc.charges):
        reader.error(
            f"The subtotal {fmt(subtotal)} is not the sum of the line amounts "
            f"({fmt(totals.line_total)}).",
            "subtotal",
            "BR-CO-10",
            "LineExtensionAmount = sum(InvoiceLine/LineExtensionAmount)",
        )
        return
    if subtotal == totals.line_total:
        message = (
            f"The subtotal {fmt(subtotal)} leaves out the invoice-level allowances and "
            f"charges: it should be {fmt(totals.tax_exclusive)} (lines "
            f"{fmt(totals.line_total)} − allowances {fmt(totals.allowance_total)} + "
            f"charges {fmt(totals.charge_total)})."
        )
    else:
        message = (
            f"The subtotal {fmt(subtotal)} should be {fmt(totals.tax_exclusive)}: the "
            "sum of the lines, minus allowances, plus charges."
        )
    reader.error(
        message,
        "subtotal",
        "BR-CO-13",
        "TaxExclusiveAmount = LineExtensionAmount - AllowanceTotalAmount + ChargeTotalAmount",
    )


def _check_total_tax(reader: Reader, totals: Totals) -> None:
    total_tax = _stated_if_wrong(reader, "total_tax", "total VAT", "BR-DEC-13", totals.tax_total)
    if total_tax is None:
        return
    per_rate = ", ".join(
        f"{rate_str(s.rate)}% of {fmt(s.taxable_amount)} = {fmt(s.tax_amount)}"
        for s in totals.subtotals
        if s.tax_code != "O"
    )
    reader.error(
        f"The total VAT {fmt(total_tax)} should be {fmt(totals.tax_total)}. VAT is "
        f"computed once per rate on the total, not per line ({per_rate}).",
        "total_tax",
        "BR-CO-14",
        "TaxTotal/TaxAmount = sum(TaxSubtotal/TaxAmount)",
    )


def _check_invoice_total(reader: Reader, totals: Totals) -> None:
    invoice_total = _stated_if_wrong(
        reader, "invoice_total", "invoice total", "BR-DEC-14", totals.tax_inclusive
    )
    if invoice_total is not None:
        reader.error(
            f"The invoice total {fmt(invoice_total)} should be {fmt(totals.tax_inclusive)}: "
            f"the subtotal {fmt(totals.tax_exclusive)} plus VAT {fmt(totals.tax_total)}.",
            "invoice_total",
            "BR-CO-15",
            "TaxInclusiveAmount = TaxExclusiveAmount + TaxTotal/TaxAmount",
        )


def _check_amount_due(reader: Reader, doc: Document, totals: Totals) -> None:
    amount_due = _stated_if_wrong(reader, "amount_due", "amount due", "BR-DEC-18", totals.payable)
    if amount_due is None:
        return
    extra = (
        f" plus the previous unpaid balance {fmt(doc.previous_unpaid_balance)}"
        if doc.previous_unpaid_balance
        else ""
    )
    reader.error(
        f"The amount due {fmt(amount_due)} should be {fmt(totals.payable)}: the invoice "
        f"total{extra}.",
        "amount_due",
        "BR-CO-16",
        "PayableAmount = TaxInclusiveAmount - PrepaidAmount + PayableRoundingAmount",
    )


def _check_total_discount(reader: Reader) -> None:
    # Always 0 here: every allowance has a VAT category and is inside the subtotal already.
    discount = _stated_if_wrong(reader, "total_discount", "total discount", "BR-DEC-10", ZERO)
    if discount is not None:
        reader.warning(
            "total_discount is not part of the EN 16931 totals: put discounts in allowances "
            "(with their VAT category) so they reduce the subtotal.",
            "total_discount",
            "JSON-TOTAL-DISCOUNT",
            "total_discount = 0",
        )


def _check_due_date(reader: Reader, doc: Document, totals: Totals) -> None:
    no_due_date = blank(reader.payload.get("due_date"))
    if totals.payable > 0 and no_due_date and not doc.payment_term:
        reader.error(
            "Say when the invoice must be paid: give a due date (due_date) or payment terms "
            "(payment_term).",
            "due_date",
            "BR-CO-25",
            "(PayableAmount > 0 and (exists(cbc:DueDate) or exists(cac:PaymentTerms/cbc:Note)))",
        )


def _check_sign(reader: Reader, doc: Document, totals: Totals) -> None:
    """A negative total: wrong on a credit note, a hint to send one on an invoice."""
    if totals.tax_inclusive >= 0:
        return
    where = "invoice_total" if reader.payload.get("invoice_total") is not None else "items"
    if doc.is_credit_note:
        reader.error(
            f"This credit note adds up to {fmt(totals.tax_inclusive)}. A credit note lists "
            "the amounts credited as positive numbers; a negative credit note would charge the "
            "customer. Use positive quantities, or send an invoice instead.",
            where,
            "JSON-CREDIT-NOTE-TOTAL",
            "credit note total >= 0",
        )
    else:
        reader.warning(
            f"This invoice adds up to {fmt(totals.tax_inclusive)}. To give money back, send a "
            "credit note (document_type CREDIT_NOTE) with positive amounts.",
            where,
            "JSON-NEGATIVE-INVOICE",
            "invoice total >= 0",
        )


def _check_tax_details(reader: Reader, totals: Totals) -> None:
    by_rate: dict[Decimal, Decimal] = {}
    for s in totals.subtotals:
        by_rate[s.rate] = by_rate.get(s.rate, ZERO) + s.tax_amount
    for i, entry in reader.list_of_dicts("tax_details", "tax_details"):
        where = f"tax_details[{i}]"
        rate = reader.rate(entry.get("rate"), where + ".rate")
        amount = reader.amount(entry.get("amount"), where + ".amount", "VAT amount", "BR-DEC-20")
        if rate is None or amount is None:
            continue
        if rate not in by_rate:
            reader.error(
                f"No line, allowance or charge uses the VAT rate {rate_str(rate)}%.",
                where + ".rate",
                "JSON-TAX-DETAIL-RATE",
                "every VAT breakdown has lines of that rate",
            )
        elif amount != by_rate[rate]:
            reader.error(
                f"The VAT at {rate_str(rate)}% should be {fmt(by_rate[rate])}, not "
                f"{fmt(amount)}: the taxable amount at that rate × {rate_str(rate)}%, "
                "rounded to the cent.",
                where + ".amount",
                "BR-CO-17",
                "TaxAmount = round(TaxableAmount * Percent div 100, 2)",
            )
