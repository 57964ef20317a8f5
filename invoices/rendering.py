"""A document as a reader sees it: what the HTML view and the PDF both print.

Built from the stored document (sent ones from what the customer wrote, received ones from
what `invoices.inbound` mirrored of the sender's data), in the active language: amounts and
dates are formatted when the view or the PDF asks, never stored formatted.

- The VAT breakdown is the document's own (BG-23); where a received document gives only the
  VAT per rate, the taxable amount is derived from its lines and allowances/charges.
- The payment reference is recognised as a Belgian structured communication (OGM/VCS,
  +++123/4567/89012+++, 10 digits and their mod-97 check) or an ISO 11649 creditor reference
  (RF18 5390 0754 7034), in whatever notation it was typed, and printed in its standard form.
  An OGM written in the note or the payment terms of a document without a reference is found
  there too; a number that fails its check is printed as it was given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils import formats
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from invoices.models import AllowanceCharge, Direction, Document, DocumentLine, State
from invoices.templatetags.invoice_tags import amount as amount_text
from invoices.templatetags.invoice_tags import iban as iban_text
from invoices.totals import ZERO, money, tax_category, to_decimal

OGM_IN_TEXT = re.compile(
    r"(?:\+{3}|\*{3})\s*(\d{3})\s*/?\s*(\d{4})\s*/?\s*(\d{5})\s*(?:\+{3}|\*{3})"
)
RF = re.compile(r"RF\d{2}[A-Z0-9]{1,21}")


@dataclass(frozen=True)
class PaymentReference:
    kind: str  # "ogm" (Belgian structured communication), "rf" (ISO 11649) or "free"
    text: str  # as printed

    @property
    def is_structured(self) -> bool:
        return self.kind != "free"

    @property
    def label(self) -> str:
        if self.kind == "ogm":
            return _("Structured communication")
        if self.kind == "rf":
            return _("Creditor reference")
        return _("Payment reference")


def ogm(raw: str) -> str:
    """+++123/4567/89012+++ when `raw` holds a valid Belgian structured communication (in any
    of its notations: +++…+++, ***…***, bare digits, with or without slashes), else ""."""
    text = raw.strip().strip("+*").strip()
    digits = re.sub(r"[\s/.\-]", "", text)
    if len(digits) != 12 or not digits.isascii() or not digits.isdigit():
        return ""
    check = int(digits[:10]) % 97 or 97
    if check != int(digits[10:]):
        return ""
    return f"+++{digits[:3]}/{digits[3:7]}/{digits[7:]}+++"


def creditor_reference(raw: str) -> str:
    """RF18 5390 0754 7034 when `raw` is a valid ISO 11649 reference, else ""."""
    compact = re.sub(r"\s", "", raw).upper()
    if not RF.fullmatch(compact):
        return ""
    moved = compact[4:] + compact[:4]
    if int("".join(str(int(ch, 36)) for ch in moved)) % 97 != 1:
        return ""
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def payment_reference(document: Document) -> PaymentReference | None:
    given = document.payment_reference.strip()
    if given:
        if structured := ogm(given):
            return PaymentReference("ogm", structured)
        if structured := creditor_reference(given):
            return PaymentReference("rf", structured)
        return PaymentReference("free", given)
    for text in (document.note, document.payment_term):
        for match in OGM_IN_TEXT.finditer(text or ""):
            if structured := ogm("".join(match.groups())):
                return PaymentReference("ogm", structured)
    return None


@dataclass(frozen=True)
class VatRow:
    category: str
    rate: Decimal
    taxable: Decimal | None
    tax: Decimal


def _derived_groups(
    lines: list[DocumentLine], adjustments: list[AllowanceCharge]
) -> dict[Decimal, tuple[str, Decimal, Decimal]]:
    """Per rate: (category, taxable, VAT) from the stored rows' own amounts (a received line
    carries the sender's rounded amount: that, not quantity × price, is what was invoiced)."""
    taxable: dict[Decimal, Decimal] = {}
    rows = [(ln.tax_rate, ln.amount) for ln in lines] + [
        (a.tax_rate, a.amount if a.kind == AllowanceCharge.Kind.CHARGE else -a.amount)
        for a in adjustments
    ]
    for rate, value in rows:
        taxable[money(rate)] = taxable.get(money(rate), ZERO) + value
    return {
        rate: (tax_category(rate), money(base), money(base * rate / Decimal(100)))
        for rate, base in taxable.items()
    }


def vat_rows(
    document: Document, lines: list[DocumentLine], adjustments: list[AllowanceCharge]
) -> list[VatRow]:
    """The VAT breakdown, highest rate first: the document's own, with the taxable amount
    derived from its rows where the sender gave only the VAT."""
    derived = _derived_groups(lines, adjustments)
    rows = []
    for group in document.tax_breakdown or []:
        rate = to_decimal(group.get("rate"))
        tax = to_decimal(group.get("tax"))
        if rate is None or tax is None:
            continue
        rate = money(rate)
        _category, derived_taxable, _tax = derived.get(rate, ("", None, None))
        taxable = to_decimal(group.get("taxable"))
        rows.append(
            VatRow(
                category=group.get("category") or tax_category(rate),
                rate=rate,
                taxable=money(taxable) if taxable is not None else derived_taxable,
                tax=money(tax),
            )
        )
    if not rows:  # a document without a breakdown (a draft being written): its rows'
        rows = [VatRow(c, r, taxable, tax) for r, (c, taxable, tax) in derived.items()]
    return sorted(rows, key=lambda r: (-r.rate, r.category))


def money_text(value: Decimal | None, currency: str) -> str:
    """An amount with its currency the way the reader's language writes it: € 1.234,50 (nl),
    1 234,50 € (fr), €1,234.50 (en); other currencies by their code after the amount."""
    number = amount_text(value)
    if not number:
        return ""
    if currency != "EUR":
        return f"{number}\u00a0{currency}"
    sign, digits = ("-", number[1:]) if number.startswith("-") else ("", number)
    language = (get_language() or "en")[:2]
    if language == "fr":
        return f"{sign}{digits}\u00a0€"
    if language == "nl":
        return f"{sign}€\u00a0{digits}"
    return f"{sign}€{digits}"


def date_text(value: date | None) -> str:
    """A date as the reader's language writes it in a letter: 2 december 2026, 2 décembre 2026."""
    return formats.date_format(value, "DATE_FORMAT") if value else ""


@dataclass
class Party:
    name: str
    tax_id: str
    company_id: str
    address: str
    email: str
    peppol_id: str = ""


@dataclass
class Readable:
    """What a reader sees of one document, in the order it is printed."""

    document: Document
    title: str
    seller: Party
    buyer: Party
    lines: list[DocumentLine]
    adjustments: list[AllowanceCharge]
    vat: list[VatRow]
    reference: PaymentReference | None
    iban: str
    bic: str
    meta: list[tuple[str, str]] = field(default_factory=list)
    # The PDF that travels with the document when it is sent is rendered while it is still
    # a draft here: it is the sent document, without the draft's note.
    as_sent: bool = False

    @property
    def currency(self) -> str:
        return self.document.currency

    @property
    def parties(self) -> list[tuple[str, Party]]:
        return [(_("Seller"), self.seller), (_("Buyer"), self.buyer)]

    @property
    def due_date(self) -> str:
        return date_text(self.document.due_date)

    @property
    def draft_note(self) -> str:
        """Printed under the title of a draft, so that nobody takes it for the sent document."""
        if self.as_sent or self.document.state != State.DRAFT:
            return ""
        return _("Draft: not sent yet, its content may still change.")

    @property
    def has_payment(self) -> bool:
        return bool(self.iban or self.bic or self.reference)

    def totals(self) -> list[tuple[str, str, bool]]:
        """(label, amount, is the grand total) rows under the lines."""
        d, rows = self.document, []
        if d.allowance_total or d.charge_total:
            rows.append((_("Lines"), money_text(d.line_total, d.currency), False))
        if d.allowance_total:
            rows.append((_("Discounts"), money_text(-d.allowance_total, d.currency), False))
        if d.charge_total:
            rows.append((_("Surcharges"), money_text(d.charge_total, d.currency), False))
        rows.append((_("Total without VAT"), money_text(d.subtotal, d.currency), False))
        rows.append((_("VAT"), money_text(d.total_tax, d.currency), False))
        label = _("Total to refund") if d.is_credit_note else _("Total to pay")
        rows.append((label, money_text(d.total, d.currency), True))
        return rows


def _meta(document: Document) -> list[tuple[str, str]]:
    pairs = [
        (_("Number"), document.invoice_id),
        (_("Date"), date_text(document.invoice_date)),
        (_("Due date"), date_text(document.due_date)),
        (_("Purchase order"), document.purchase_order),
        (_("Corrects invoice"), document.billing_reference),
        (_("Payment terms"), document.payment_term),
    ]
    return [(label, value) for label, value in pairs if value]


def readable(
    document: Document,
    rows: tuple[list[DocumentLine], list[AllowanceCharge]] | None = None,
    *,
    as_sent: bool = False,
) -> Readable:
    """`rows`: the document's lines and allowances/charges when they are not stored (yet)."""
    if rows is None:
        rows = (list(document.lines.all()), list(document.allowances_charges.all()))
    lines, adjustments = rows
    return Readable(
        document=document,
        title=_("Credit note") if document.is_credit_note else _("Invoice"),
        seller=Party(
            document.vendor_name,
            document.vendor_tax_id,
            document.vendor_company_id,
            document.vendor_address,
            document.vendor_email,
        ),
        buyer=Party(
            document.customer_name,
            document.customer_tax_id,
            document.customer_company_id,
            document.customer_address,
            document.customer_email,
            document.customer_peppol_id,
        ),
        lines=lines,
        adjustments=adjustments,
        vat=vat_rows(document, lines, adjustments),
        reference=payment_reference(document),
        iban=iban_text(document.iban),
        bic=document.bic.strip().upper(),
        meta=_meta(document),
        as_sent=as_sent,
    )


def file_stem(document: Document) -> str:
    """A file name for the document's PDF and UBL: invoice-INV-2026-001, creditnote-CN-7."""
    kind = "creditnote" if document.is_credit_note else "invoice"
    number = re.sub(r"[^A-Za-z0-9._-]", "_", document.invoice_id)[:80].strip("._") or str(
        document.pk
    )
    prefix = "received-" if document.direction == Direction.INBOUND else ""
    return f"{prefix}{kind}-{number}"
