"""Document totals the way EN 16931 computes them, with Decimal only.

- Line net amount (BT-131) = quantity × unit price, rounded to 2 decimals.
- Document allowances (BT-92) and charges (BT-99) are amounts with their own VAT rate.
- Per VAT category and rate (BG-23): taxable amount (BT-116) = lines − allowances + charges
  of that rate; VAT (BT-117) = taxable × rate / 100, rounded once per group (BR-CO-17), not per
  line, so the API's BR-CO checks agree with what the customer saw.
- Tax exclusive total (BT-109) = Σ lines − Σ allowances + Σ charges; VAT total (BT-110) =
  Σ BT-117; tax inclusive total (BT-112) = BT-109 + BT-110.

Rounding is half up ("commercial"), as the Peppol validators expect.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def number_text(value: str, *, percent: bool = False) -> str:
    """What a bookkeeper types, as Decimal syntax: "1 250,50", "1.250,50" and "1,250.50" are
    all 1250.50; "12,5" is 12.5; with `percent`, "21%" is 21 (a VAT rate, never an amount)."""
    text = value.strip()
    for space in (" ", "\u00a0", "\u202f", "'"):
        text = text.replace(space, "")
    if percent:
        text = text.removesuffix("%")
    commas, dots = text.count(","), text.count(".")
    if commas and dots:
        # Whichever comes last separates the decimals; the other groups thousands.
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif commas > 1:
        text = text.replace(",", "")  # 1,250,000
    elif commas:
        text = text.replace(",", ".")  # 12,5
    elif dots > 1:
        text = text.replace(".", "")  # 1.250.000
    return text


def to_decimal(value: object, *, percent: bool = False) -> Decimal | None:
    """Parse user input leniently (see `number_text`); None when it is not a finite number."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    text = number_text(str(value), percent=percent)
    if not text:
        return None
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def tax_category(rate: Decimal) -> str:
    """UNCL5305 category: S (standard/reduced rates) or Z (zero rated)."""
    return "S" if rate > 0 else "Z"


def rate_text(rate: Decimal) -> str:
    """The API's percentage string: "21.00"."""
    return str(money(rate))


@dataclass(frozen=True)
class LineInput:
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal


@dataclass(frozen=True)
class AllowanceChargeInput:
    is_charge: bool
    amount: Decimal
    tax_rate: Decimal


@dataclass
class VatGroup:
    category: str
    rate: Decimal
    lines: Decimal = ZERO
    allowances: Decimal = ZERO
    charges: Decimal = ZERO

    @property
    def taxable(self) -> Decimal:
        return money(self.lines - self.allowances + self.charges)

    @property
    def tax(self) -> Decimal:
        return money(self.taxable * self.rate / Decimal(100))

    def as_dict(self) -> dict[str, str]:
        return {
            "category": self.category,
            "rate": rate_text(self.rate),
            "taxable": str(self.taxable),
            "tax": str(self.tax),
        }


@dataclass
class Totals:
    line_amounts: list[Decimal] = field(default_factory=list)
    groups: list[VatGroup] = field(default_factory=list)
    line_total: Decimal = ZERO
    allowance_total: Decimal = ZERO
    charge_total: Decimal = ZERO

    @property
    def tax_exclusive(self) -> Decimal:
        return money(self.line_total - self.allowance_total + self.charge_total)

    @property
    def total_tax(self) -> Decimal:
        return money(sum((g.tax for g in self.groups), ZERO))

    @property
    def tax_inclusive(self) -> Decimal:
        return money(self.tax_exclusive + self.total_tax)

    @property
    def is_empty(self) -> bool:
        return not self.line_amounts

    def breakdown(self) -> list[dict[str, str]]:
        return [g.as_dict() for g in self.groups]


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return money(quantity * unit_price)


def compute(
    lines: Iterable[LineInput], allowances_charges: Iterable[AllowanceChargeInput] = ()
) -> Totals:
    totals = Totals()
    groups: dict[tuple[str, Decimal], VatGroup] = {}

    def group(rate: Decimal) -> VatGroup:
        rate = money(rate)
        key = (tax_category(rate), rate)
        if key not in groups:
            groups[key] = VatGroup(category=key[0], rate=rate)
        return groups[key]

    for line in lines:
        amount = line_amount(line.quantity, line.unit_price)
        totals.line_amounts.append(amount)
        totals.line_total += amount
        group(line.tax_rate).lines += amount
    for item in allowances_charges:
        amount = money(item.amount)
        if item.is_charge:
            totals.charge_total += amount
            group(item.tax_rate).charges += amount
        else:
            totals.allowance_total += amount
            group(item.tax_rate).allowances += amount
    # Highest rate first: the order bookkeepers read a VAT summary in.
    totals.groups = sorted(groups.values(), key=lambda g: (-g.rate, g.category))
    totals.line_total = money(totals.line_total)
    totals.allowance_total = money(totals.allowance_total)
    totals.charge_total = money(totals.charge_total)
    return totals
