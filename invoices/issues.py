"""Place the API's validation issues next to the inputs they concern, in plain words.

An issue from POST /api/validate/json carries a `location` — a JSON path into the payload
(`items[2].tax_rate`) or a UBL XPath (`/Invoice/cac:InvoiceLine[3]/cac:Price/cbc:PriceAmount`,
also the schematron form `/*:Invoice[namespace-uri()='…'][1]/*:InvoiceLine[…][3]`) — and/or a
`rule_id` (`BR-CO-10`). We map either to a header field, a line (and its field), an allowance
or charge row, or the totals box; whatever cannot be placed is shown at the top of the form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from invoices.models import PARTY_FIELDS

LINE = "row"  # key of a line's (or adjustment's) own messages, not tied to one input

# --- JSON paths --------------------------------------------------------------------------
HEADER_FIELDS = {
    "invoice_id",
    "invoice_date",
    "due_date",
    "currency",
    "purchase_order",
    "note",
    "payment_term",
    "customer_company_id",
    *PARTY_FIELDS,
}
HEADER_ALIASES = {
    "billing_reference": "corrects",
    "vendor_address_recipient": "vendor_address",
    "customer_address_recipient": "customer_address",
    "billing_address": "customer_address",
    "customer_company_id": "customer_tax_id",
    "iban": "iban",
    "swift": "bic",
    "bic": "bic",
    "payment_reference": "payment_reference",
    "bank_account_number": "iban",
}
TOTAL_KEYS = {
    "subtotal",
    "total_tax",
    "invoice_total",
    "amount_due",
    "tax_details",
    "total_discount",
    "tax_code",
    "vatex",
    "previous_unpaid_balance",
}
LINE_FIELDS = {"description", "quantity", "unit", "unit_price", "tax_rate"}
LINE_ALIASES = {"amount": LINE, "tax": "tax_rate", "product_code": "description"}
ADJUSTMENT_FIELDS = {"reason": "reason", "reason_code": "reason", "amount": "amount"}
ADJUSTMENT_FIELDS |= {"tax_rate": "tax_rate", "tax_code": "tax_rate", "base_amount": "amount"}
ADJUSTMENT_FIELDS |= {"multiplier_factor": "amount"}

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")

# --- UBL XPaths ---------------------------------------------------------------------------
_NS_PREDICATE = re.compile(r"\[namespace-uri\(\)\s*=\s*'[^']*'\]")
_XPATH_STEP = re.compile(r"^(?:[A-Za-z*]+:)?([A-Za-z@][A-Za-z0-9_\-]*)(?:\[(\d+)\])?$")

PARTY_ELEMENTS = {
    # element inside a party → suffix of our field (vendor_/customer_)
    "EndpointID": "peppol_id",
    "CompanyID": "tax_id",
    "RegistrationName": "name",
    "PartyName": "name",
    "Name": "name",
    "PostalAddress": "address",
    "StreetName": "address",
    "CityName": "address",
    "PostalZone": "address",
    "Country": "address",
    "IdentificationCode": "address",
    "ElectronicMail": "email",
    "Contact": "email",
}
LINE_ELEMENTS = {
    "InvoicedQuantity": "quantity",
    "CreditedQuantity": "quantity",
    "@unitCode": "unit",
    "PriceAmount": "unit_price",
    "Price": "unit_price",
    "BaseQuantity": "unit_price",
    "Percent": "tax_rate",
    "ClassifiedTaxCategory": "tax_rate",
    "Name": "description",
    "Description": "description",
    "Item": "description",
    "LineExtensionAmount": LINE,
}
HEADER_ELEMENTS = {
    "ID": "invoice_id",
    "IssueDate": "invoice_date",
    "DueDate": "due_date",
    "PaymentDueDate": "due_date",
    "DocumentCurrencyCode": "currency",
    "TaxCurrencyCode": "currency",
    "OrderReference": "purchase_order",
    "Note": "note",
    "PaymentTerms": "payment_term",
    "BillingReference": "corrects",
    "InvoiceDocumentReference": "corrects",
    "PaymentID": "payment_reference",
    "PayeeFinancialAccount": "iban",
    "FinancialInstitutionBranch": "bic",
    "PaymentMeans": "iban",
}
TOTAL_ELEMENTS = {"LegalMonetaryTotal", "TaxTotal", "TaxSubtotal", "TaxExclusiveAmount"}

# --- rule ids ---------------------------------------------------------------------------------
# Where a rule's issue belongs when its location says nothing better.
RULE_FIELDS = {
    "BR-02": "invoice_id",
    "BR-03": "invoice_date",
    "BR-05": "currency",
    "BR-06": "vendor_name",
    "BR-07": "customer_name",
    "BR-08": "vendor_address",
    "BR-09": "vendor_address",
    "BR-10": "customer_address",
    "BR-11": "customer_address",
    "BR-16": "lines",
    "BR-55": "corrects",
    "BR-50": "iban",
    "BR-61": "iban",
    "BR-CO-09": "vendor_tax_id",
    "BR-CO-25": "due_date",
    "BR-CO-26": "vendor_tax_id",
    "PEPPOL-EN16931-R001": "note",
    "PEPPOL-EN16931-R010": "customer_peppol_id",
    "PEPPOL-EN16931-R020": "vendor_tax_id",
    "PEPPOL-EN16931-R080": "corrects",
}
RULE_LINE_FIELDS = {
    "BR-21": LINE,
    "BR-22": "quantity",
    "BR-23": "unit",
    "BR-24": LINE,
    "BR-25": "description",
    "BR-26": "unit_price",
    "BR-27": "unit_price",
    "BR-28": "unit_price",
    "BR-CO-04": "tax_rate",
    "BR-S-05": "tax_rate",
    "BR-Z-05": "tax_rate",
    "PEPPOL-EN16931-R120": LINE,
    "PEPPOL-EN16931-R121": "unit_price",
}
RULE_ADJUSTMENT_FIELDS = {
    "BR-31": "amount",
    "BR-32": "tax_rate",
    "BR-33": "reason",
    "BR-36": "amount",
    "BR-37": "tax_rate",
    "BR-38": "reason",
    "BR-CO-05": "reason",
    "BR-CO-21": "reason",
}
TOTAL_RULE_PREFIXES = ("BR-CO-1", "BR-S-", "BR-Z-", "BR-E-", "BR-AE-", "BR-O-", "BR-K-", "BR-G-")
TOTAL_RULE_PREFIXES += ("BR-12", "BR-13", "BR-14", "BR-15", "BR-45", "BR-46", "BR-47", "BR-48")
TOTAL_RULE_PREFIXES += ("PEPPOL-EN16931-R05",)


def plain_text(rule_id: str | None, *, credit_note: bool = False) -> str | None:
    """What a rule means, in a bookkeeper's words (None: use the API's own message); for a
    credit note in a credit note's words."""
    if credit_note:
        own = {
            "BR-02": _("Every credit note needs a number."),
            "BR-03": _("Every credit note needs a date."),
            "BR-05": _("Choose the currency of the credit note."),
            "BR-CO-25": _(
                "When an amount is to be paid back, give a due date or payment terms (those "
                "of the corrected invoice, for example)."
            ),
        }.get((rule_id or "").upper())
        if own:
            return own
    texts = {
        "BR-02": _("Every invoice needs a number."),
        "BR-03": _("Every invoice needs a date."),
        "BR-05": _("Choose the currency of the invoice."),
        "BR-06": _("Give your company's name."),
        "BR-07": _("Give the buyer's name."),
        "BR-08": _("Give your company's address."),
        "BR-09": _("Your address must include the country."),
        "BR-10": _("Give the buyer's address."),
        "BR-11": _("The buyer's address must include the country."),
        "BR-16": _("Add at least one line."),
        "BR-21": _("Each line needs a line number."),
        "BR-22": _("Each line needs a quantity."),
        "BR-23": _("Each line needs a unit."),
        "BR-24": _("Each line needs an amount (quantity × price)."),
        "BR-25": _("Each line needs a description."),
        "BR-26": _("Each line needs a unit price."),
        "BR-27": _("A unit price cannot be negative."),
        "BR-55": _("A credit note must name the invoice it corrects."),
        "BR-CO-09": _("A VAT number must start with its country code, e.g. BE."),
        "BR-CO-10": _("The sum of the line amounts does not match the lines."),
        "BR-CO-11": _("The total of the discounts does not match the discount lines."),
        "BR-CO-12": _("The total of the surcharges does not match the surcharge lines."),
        "BR-CO-13": _("The total without VAT does not equal lines − discounts + surcharges."),
        "BR-CO-14": _("The VAT total does not equal the sum of the VAT per rate."),
        "BR-CO-15": _("The total with VAT does not equal the total without VAT plus VAT."),
        "BR-CO-16": _("The amount due does not match the total with VAT."),
        "BR-CO-17": _("The VAT for a rate must be the taxable amount × the rate, rounded."),
        "BR-CO-18": _("The VAT summary needs at least one VAT rate."),
        "BR-CO-25": _("When an amount is due, give a due date or payment terms."),
        "BR-S-08": _("The taxable amount for this VAT rate does not match its lines."),
        "BR-S-09": _("The VAT for this rate must be the taxable amount × the rate."),
        "PEPPOL-EN16931-R010": _("The buyer needs an electronic (Peppol) address."),
        "PEPPOL-EN16931-R020": _("Your company needs an electronic (Peppol) address."),
    }
    return texts.get((rule_id or "").upper())


# Schematron wording (XPath, business-term codes) is for developers, not bookkeepers.
_TECHNICAL = re.compile(r"(cac:|cbc:|/\*:|namespace-uri|xs:|normalize-space|\bB[TG]-\d+)")


def _clean_message(message: str, labels: dict[str, str]) -> str:
    """The API's message without rule codes, with its JSON keys named as the form names them."""
    text = re.sub(r"^\s*\[[A-Z0-9\-]+\]\s*-?\s*", "", message or "").strip()
    text = re.sub(r"\s+", " ", text)
    for key, label in sorted(labels.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"(?<![\w.“]){re.escape(key)}(?![\w\[”])", f"“{label}”", text)
    return text


@dataclass
class Message:
    text: str  # what the bookkeeper reads
    detail: str = ""  # the API's own words and rule id, shown small
    severity: str = "error"

    def __str__(self) -> str:
        return self.text


@dataclass
class Placement:
    fields: dict[str, list[Message]] = field(default_factory=dict)
    lines: dict[int, dict[str, list[Message]]] = field(default_factory=dict)
    adjustments: dict[int, dict[str, list[Message]]] = field(default_factory=dict)
    totals: list[Message] = field(default_factory=list)
    general: list[Message] = field(default_factory=list)

    @property
    def count(self) -> int:
        return (
            sum(len(v) for v in self.fields.values())
            + sum(len(m) for row in self.lines.values() for m in row.values())
            + sum(len(m) for row in self.adjustments.values() for m in row.values())
            + len(self.totals)
            + len(self.general)
        )

    @property
    def has_errors(self) -> bool:
        return any(
            m.severity == "error"
            for m in (
                [m for v in self.fields.values() for m in v]
                + [m for r in self.lines.values() for v in r.values() for m in v]
                + [m for r in self.adjustments.values() for v in r.values() for m in v]
                + self.totals
                + self.general
            )
        )


# A target: ("field", name) | ("line", index, field) | ("adjustment", index, field)
#           | ("totals",) | None
Target = tuple[Any, ...] | None


def _json_target(location: str, adjustment_index: dict[tuple[str, int], int]) -> Target:
    parts: list[tuple[str, list[int]]] = []
    for raw in location.strip().lstrip("$").lstrip(".").split("."):
        match = _SEGMENT.fullmatch(raw.strip())
        if not match:
            return None
        indexes = [int(i) for i in re.findall(r"\[(\d+)\]", match.group(2))]
        parts.append((match.group(1), indexes))
    if not parts:
        return None
    head, indexes = parts[0]
    name = parts[1][0] if len(parts) > 1 else None
    if head in ("items", "allowances", "charges"):
        return _json_row_target(head, indexes, name, adjustment_index)
    if head == "payment_details":
        return ("field", HEADER_ALIASES.get(name or "iban", "iban"))
    if head in TOTAL_KEYS:
        return ("totals",)
    if head in HEADER_FIELDS:
        return ("field", head)
    if head in HEADER_ALIASES:
        return ("field", HEADER_ALIASES[head])
    return None


def _json_row_target(
    head: str, indexes: list[int], name: str | None, adjustment_index: dict[tuple[str, int], int]
) -> Target:
    """items[i].name, allowances[j].name, charges[k].name: the input of that row."""
    if head == "items":
        if not indexes:
            return ("field", "lines")
        name = name or LINE
        return ("line", indexes[0], name if name in LINE_FIELDS else LINE_ALIASES.get(name, LINE))
    if not indexes:
        return ("field", "adjustments")
    row = adjustment_index.get((head, indexes[0]))
    if row is None:
        return None
    return ("adjustment", row, ADJUSTMENT_FIELDS.get(name or "", LINE))


def _xpath_steps(location: str) -> list[tuple[str, int | None]] | None:
    cleaned = _NS_PREDICATE.sub("", location)
    steps: list[tuple[str, int | None]] = []
    for raw in cleaned.strip().strip("/").split("/"):
        if not raw:
            continue
        match = _XPATH_STEP.match(raw.strip())
        if not match:
            return None
        steps.append((match.group(1), int(match.group(2)) if match.group(2) else None))
    return steps


def _last(names: list[str], table: dict[str, str]) -> str | None:
    """The input of the innermost element that `table` knows."""
    return next((table[name] for name in reversed(names) if name in table), None)


def _xpath_line(line: int, names: list[str]) -> Target:
    return ("line", line, _last(names, LINE_ELEMENTS) or LINE)


def _xpath_adjustment(row: int, names: list[str]) -> Target:
    for name in reversed(names):
        if name in ("Amount", "BaseAmount", "MultiplierFactorNumeric"):
            return ("adjustment", row, "amount")
        if name in ("Percent", "TaxCategory"):
            return ("adjustment", row, "tax_rate")
        if name.startswith("AllowanceChargeReason"):
            return ("adjustment", row, "reason")
    return ("adjustment", row, LINE)


def _xpath_party(first: str, names: list[str]) -> Target:
    prefix = "vendor_" if first == "AccountingSupplierParty" else "customer_"
    if "PartyLegalEntity" in names and "CompanyID" in names:
        return ("field", prefix + "company_id" if prefix == "vendor_" else "customer_tax_id")
    suffix = _last(names[1:], PARTY_ELEMENTS)
    if suffix is None:
        return ("field", prefix + "name")
    if suffix == "peppol_id" and prefix == "vendor_":
        suffix = "tax_id"  # the seller's endpoint is derived from its VAT number
    return ("field", prefix + suffix)


def _xpath_payment(names: list[str]) -> Target:
    for element, name in (
        ("FinancialInstitutionBranch", "bic"),
        ("PaymentID", "payment_reference"),
        ("PaymentDueDate", "due_date"),
    ):
        if element in names:
            return ("field", name)
    return ("field", "iban")


def _xpath_target(location: str) -> Target:
    steps = _xpath_steps(location)
    if not steps or steps[0][0] not in ("Invoice", "CreditNote"):
        return None
    steps = steps[1:]
    if not steps:
        return None
    names = [name for name, _index in steps]
    first, index = steps[0]
    if first in ("InvoiceLine", "CreditNoteLine"):
        return _xpath_line((index or 1) - 1, names[1:])
    if first == "AllowanceCharge":
        return _xpath_adjustment((index or 1) - 1, names[1:])
    if first in ("AccountingSupplierParty", "AccountingCustomerParty"):
        return _xpath_party(first, names)
    if first in TOTAL_ELEMENTS:
        return ("totals",)
    if first == "PaymentMeans":
        return _xpath_payment(names)
    if first in HEADER_ELEMENTS:
        return ("field", HEADER_ELEMENTS[first])
    return None


def _rule_target(rule_id: str, current: Target) -> Target:
    rule = rule_id.upper()
    # A rule refines a line or adjustment found by location into the input it concerns.
    if current and current[0] == "line" and current[2] == LINE and rule in RULE_LINE_FIELDS:
        return ("line", current[1], RULE_LINE_FIELDS[rule])
    if current and current[0] == "adjustment" and current[2] == LINE:
        if rule in RULE_ADJUSTMENT_FIELDS:
            return ("adjustment", current[1], RULE_ADJUSTMENT_FIELDS[rule])
    if current:
        return current
    if rule in RULE_FIELDS:
        return ("field", RULE_FIELDS[rule])
    if rule.startswith(TOTAL_RULE_PREFIXES):
        return ("totals",)
    return None


def target_of(issue: dict[str, Any], adjustment_index: dict[tuple[str, int], int]) -> Target:
    location = (issue.get("location") or "").strip()
    target: Target = None
    if location.startswith("/") or location.startswith("*:"):
        target = _xpath_target(location)
    elif location:
        target = _json_target(location, adjustment_index)
    if issue.get("rule_id"):
        target = _rule_target(str(issue["rule_id"]), target)
    return target


def place(
    issues: list[dict[str, Any]],
    *,
    line_count: int,
    adjustment_index: dict[tuple[str, int], int] | None = None,
    adjustment_count: int = 0,
    header_fields: set[str] | None = None,
    labels: dict[str, str] | None = None,
    credit_note: bool = False,
) -> Placement:
    """Sort issues into the places of the editor. Unknown or out-of-range places → general.
    `credit_note`: the API's sentences that speak of an invoice give way to our own words."""
    adjustment_index = adjustment_index or {}
    if header_fields is None:
        header_fields = HEADER_FIELDS | set(HEADER_ALIASES.values())
    placed = Placement()
    for issue in issues:
        raw = str(issue.get("message") or "")
        rule = issue.get("rule_id") or ""
        cleaned = _clean_message(raw, labels or {})
        # The API's own sentence when it reads well; our wording when it is technical.
        technical = not cleaned or bool(_TECHNICAL.search(cleaned))
        if (
            credit_note
            and re.search(r"\binvoice\b", cleaned, re.I)
            and plain_text(rule, credit_note=True)
        ):
            technical = True  # "the invoice" on a credit note: say it in a credit note's words
        text = (
            plain_text(rule, credit_note=credit_note)
            or _("This value was refused by the e-invoicing checks.")
            if technical
            else cleaned
        )
        # The rule id always; the API's own words too when we replaced them.
        detail = " ".join(p for p in (rule, raw if technical else "") if p)
        message = Message(
            text=text,
            detail=detail,
            severity="warning" if issue.get("type") == "warning" else "error",
        )
        target = target_of(issue, adjustment_index)
        if target is None:
            placed.general.append(message)
        elif target[0] == "totals":
            placed.totals.append(message)
        elif target[0] == "line":
            if 0 <= target[1] < line_count:
                placed.lines.setdefault(target[1], {}).setdefault(target[2], []).append(message)
            else:
                placed.general.append(message)
        elif target[0] == "adjustment":
            if 0 <= target[1] < adjustment_count:
                row = placed.adjustments.setdefault(target[1], {})
                row.setdefault(target[2], []).append(message)
            else:
                placed.general.append(message)
        elif target[1] in header_fields or target[1] in ("lines", "adjustments"):
            placed.fields.setdefault(target[1], []).append(message)
        else:
            placed.general.append(message)
    return placed
