"""What the editor says about the rows as they are typed, before anything is checked at the API.

`preview()` reads the raw rows: a row that cannot be computed (no price yet, VAT 150 %, an
amount past what a document holds) gets its reason and is left out of the totals, which then
say they are incomplete; nothing drops out silently. Warnings do not stop anything:
- a negative quantity. EN 16931 allows it on a line (a return or a correction, BT-129 may be
  negative; only the price may not, BR-27); on a credit note it charges the buyer again;
- a total below zero: an invoice that should be a credit note (a warning), or a credit note
  that would charge the buyer (refused by e-invoice.be, so an error here too);
- a VAT rate the seller's country does not have (Belgium: 0, 6, 12, 21 %).
The same limits and words serve the forms (`invoices.forms`), so Check and Save agree with
what the live totals showed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from invoices.models import AllowanceCharge, DocumentType
from invoices.totals import AllowanceChargeInput, LineInput, Totals, compute, to_decimal

# A quantity or a price above this is a typing mistake (the form refuses it too).
MAX_NUMBER = Decimal("999999999")
# A line, and the document, must fit the amount columns (16 digits, 2 decimals) and the API.
MAX_AMOUNT = Decimal("999999999999.99")

# The VAT rates (%) of the countries our sellers invoice from.
VAT_RATES = {
    "BE": (Decimal("0"), Decimal("6"), Decimal("12"), Decimal("21")),
    "NL": (Decimal("0"), Decimal("9"), Decimal("21")),
    "LU": (Decimal("0"), Decimal("3"), Decimal("8"), Decimal("14"), Decimal("17")),
    "FR": (Decimal("0"), Decimal("2.1"), Decimal("5.5"), Decimal("10"), Decimal("20")),
    "DE": (Decimal("0"), Decimal("7"), Decimal("19")),
}
COUNTRY_NAMES = {
    "BE": gettext_lazy("Belgium"),
    "NL": gettext_lazy("the Netherlands"),
    "LU": gettext_lazy("Luxembourg"),
    "FR": gettext_lazy("France"),
    "DE": gettext_lazy("Germany"),
}


def amount_text(value: Decimal) -> str:
    from invoices.templatetags.invoice_tags import amount

    return amount(value)


def rate_list(rates: tuple[Decimal, ...]) -> str:
    from invoices.templatetags.invoice_tags import rate

    return ", ".join(rate(r) for r in rates)


# --- The words (shared with the forms) ------------------------------------------------------------
def too_large_line() -> str:
    return _(
        "This line comes to more than %(max)s: check the quantity and the price, or split it."
    ) % {"max": amount_text(MAX_AMOUNT)}


def too_large_number() -> str:
    return _("Too large: at most %(max)s.") % {"max": "999 999 999"}


def negative_price() -> str:
    return _(
        "A unit price cannot be negative: to lower the document use a negative quantity or a "
        "discount, to give money back a credit note."
    )


def rate_out_of_range() -> str:
    return _("A VAT rate is between 0 and 100 %.")


def negative_quantity(document_type: str) -> str:
    if document_type == DocumentType.CREDIT_NOTE:
        return _(
            "A negative quantity on a credit note charges the buyer again instead of crediting "
            "them: a credit note lists what it credits with positive quantities."
        )
    return _(
        "A negative quantity lowers the invoice (a return or a correction). To give money back "
        "for an invoice already sent, make a credit note for it."
    )


def negative_total(document_type: str) -> str:
    if document_type == DocumentType.CREDIT_NOTE:
        return _(
            "This credit note adds up to less than zero: it would charge the buyer. List what "
            "is credited with positive quantities."
        )
    return _(
        "This invoice adds up to less than zero: to give money back, make a credit note instead."
    )


def total_too_large() -> str:
    return _("The document comes to more than %(max)s: split it into several documents.") % {
        "max": amount_text(MAX_AMOUNT)
    }


def unusual_rate(rate: Decimal, country: str) -> str | None:
    """A warning when `rate` is not one of the seller's country's VAT rates."""
    rates = VAT_RATES.get(country)
    if rates is None or any(rate == r for r in rates):
        return None
    from invoices.templatetags.invoice_tags import rate as rate_filter

    return _("%(rate)s %% is not a VAT rate in %(country)s (%(rates)s %%): check the rate.") % {
        "rate": rate_filter(rate),
        "country": COUNTRY_NAMES[country],
        "rates": rate_list(rates),
    }


def seller_country(vendor_tax_id: str, tenant_tax_id: str = "") -> str:
    """The seller's country from its VAT number (BE0403170701 → BE), else the tenant's."""
    for value in (vendor_tax_id, tenant_tax_id):
        prefix = "".join(str(value or "").split())[:2].upper()
        if len(prefix) == 2 and prefix.isalpha():
            return prefix
    return ""


# --- Reading the rows as typed ----------------------------------------------------------------
@dataclass
class RowNote:
    """What the editor says about one row: why it is not counted (`error` when something is
    wrong, `pending` while something is still to be typed), and warnings."""

    error: str = ""
    pending: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def counted(self) -> bool:
        return not (self.error or self.pending)


@dataclass
class Preview:
    totals: Totals
    lines: list[RowNote]
    adjustments: list[RowNote]
    errors: list[str] = field(default_factory=list)  # about the document as a whole
    warnings: list[str] = field(default_factory=list)
    # Each line's amount at its place (None where it is left out).
    amounts: list[Decimal | None] = field(default_factory=list)

    @property
    def left_out(self) -> list[int]:
        """The numbers (1-based) of the lines left out of the totals."""
        return [i + 1 for i, note in enumerate(self.lines) if not note.counted]

    @property
    def adjustments_left_out(self) -> list[int]:
        return [i + 1 for i, note in enumerate(self.adjustments) if not note.counted]

    @property
    def incomplete(self) -> bool:
        return bool(self.left_out or self.adjustments_left_out)


def _number(raw: Any, *, missing: str, invalid: str, note: RowNote, percent: bool = False):
    text = str(raw or "").strip()
    if not text:
        note.pending = note.pending or missing
        return None
    value = to_decimal(text, percent=percent)
    if value is None:
        note.error = note.error or invalid
    return value


def _rate(raw: Any, note: RowNote, country: str) -> Decimal | None:
    rate = _number(
        raw,
        missing=_("Not counted yet: give the VAT rate."),
        invalid=_("Write the VAT rate as a number, e.g. 21 or 6."),
        note=note,
        percent=True,
    )
    if rate is None:
        return None
    if not 0 <= rate <= 100:
        note.error = note.error or rate_out_of_range()
        return None
    if warning := unusual_rate(rate, country):
        note.warnings.append(warning)
    return rate


def line_note(row: dict[str, Any], document_type: str, country: str) -> tuple[RowNote, Any]:
    """One line as typed: what to say about it, and its input to the totals (None: left out)."""
    note = RowNote()
    invalid = _("Write a number, e.g. 1250,50.")
    quantity = _number(
        row.get("quantity"),
        missing=_("Not counted yet: give a quantity."),
        invalid=invalid,
        note=note,
    )
    price = _number(
        row.get("unit_price"),
        missing=_("Not counted yet: give the unit price."),
        invalid=invalid,
        note=note,
    )
    rate = _rate(row.get("tax_rate"), note, country)
    for value in (quantity, price):
        if value is not None and abs(value) > MAX_NUMBER:
            note.error = note.error or too_large_number()
    if price is not None and price < 0:
        note.error = note.error or negative_price()
    if quantity is not None and quantity < 0:
        note.warnings.insert(0, negative_quantity(document_type))
    if quantity is not None and price is not None and abs(quantity * price) > MAX_AMOUNT:
        note.error = note.error or too_large_line()
    if not note.counted or quantity is None or price is None or rate is None:
        return note, None
    return note, LineInput(quantity, price, rate)


def adjustment_note(row: dict[str, Any], country: str) -> tuple[RowNote, Any]:
    note = RowNote()
    amount = _number(
        row.get("amount"),
        missing=_("Not counted yet: give the amount."),
        invalid=_("Write a number, e.g. 1250,50."),
        note=note,
    )
    rate = _rate(row.get("tax_rate"), note, country)
    if amount is not None and not 0 < amount <= MAX_AMOUNT:
        note.error = note.error or adjustment_amount()
    if not note.counted or amount is None or rate is None:
        return note, None
    is_charge = row.get("kind") == AllowanceCharge.Kind.CHARGE
    return note, AllowanceChargeInput(is_charge, amount, rate)


def adjustment_amount() -> str:
    return _(
        "Give an amount above zero: the kind says whether it lowers (discount) or raises "
        "(surcharge) the total."
    )


def document_notes(totals: Totals, document_type: str) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the document's total."""
    errors: list[str] = []
    warnings: list[str] = []
    if abs(totals.tax_inclusive) > MAX_AMOUNT or abs(totals.line_total) > MAX_AMOUNT:
        errors.append(total_too_large())
    elif totals.tax_inclusive < 0:
        if document_type == DocumentType.CREDIT_NOTE:
            errors.append(negative_total(document_type))
        else:
            warnings.append(negative_total(document_type))
    return errors, warnings


def preview(
    lines: list[dict[str, Any]],
    adjustments: list[dict[str, Any]],
    *,
    document_type: str = DocumentType.INVOICE,
    country: str = "",
) -> Preview:
    line_notes, line_inputs = [], []
    for row in lines:
        note, parsed = line_note(row, document_type, country)
        line_notes.append(note)
        if parsed is not None:
            line_inputs.append((len(line_notes) - 1, parsed))
    adjustment_notes, adjustment_inputs = [], []
    for row in adjustments:
        note, parsed = adjustment_note(row, country)
        adjustment_notes.append(note)
        if parsed is not None:
            adjustment_inputs.append(parsed)
    totals = compute([p for _i, p in line_inputs], adjustment_inputs)
    # Each counted line's amount at its own place (None where it is left out).
    amounts: list[Decimal | None] = [None] * len(lines)
    for (i, _p), value in zip(line_inputs, totals.line_amounts, strict=True):
        amounts[i] = value
    errors, warnings = document_notes(totals, document_type)
    return Preview(totals, line_notes, adjustment_notes, errors, warnings, amounts)
