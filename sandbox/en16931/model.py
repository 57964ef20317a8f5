"""The document model the checks, the totals and the UBL share: what the reader makes of the
payload, with amounts as Decimal and codes already checked against their lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .codelists import CREDIT_NOTE_TYPES
from .values import ZERO


@dataclass
class AllowanceCharge:
    is_charge: bool
    amount: Decimal
    base_amount: Decimal | None = None
    multiplier: Decimal | None = None
    reason: str | None = None
    reason_code: str | None = None
    tax_code: str = "S"
    tax_rate: Decimal = ZERO
    rate_defaulted: bool = False  # no tax_rate sent: the API's 21.00 applies
    location: str = ""  # where in the payload, for messages


@dataclass
class Line:
    number: int
    name: str
    description: str | None
    quantity: Decimal
    unit: str
    price: Decimal
    amount: Decimal
    tax_code: str
    tax_rate: Decimal
    product_code: str | None = None
    allowances: list[AllowanceCharge] = field(default_factory=list)
    charges: list[AllowanceCharge] = field(default_factory=list)


@dataclass
class Party:
    name: str | None = None
    tax_id: str | None = None  # compact, e.g. BE1018265814
    company_id: str | None = None
    email: str | None = None
    address: str | None = None
    address_recipient: str | None = None
    country: str | None = None
    endpoint: tuple[str, str] | None = None  # (EAS scheme, identifier)


@dataclass
class Payment:
    iban: str | None = None
    bic: str | None = None
    account_number: str | None = None
    reference: str | None = None


@dataclass
class Document:
    document_type: str = "INVOICE"
    invoice_id: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    currency: str = "EUR"
    note: str | None = None
    purchase_order: str | None = None
    buyer_reference: str | None = None
    billing_reference: str | None = None
    service_start: date | None = None
    service_end: date | None = None
    vendor: Party = field(default_factory=Party)
    customer: Party = field(default_factory=Party)
    shipping_address: str | None = None
    shipping_recipient: str | None = None
    lines: list[Line] = field(default_factory=list)
    allowances: list[AllowanceCharge] = field(default_factory=list)
    charges: list[AllowanceCharge] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    payment_term: str | None = None
    vatex: str | None = None
    vatex_note: str | None = None
    previous_unpaid_balance: Decimal = ZERO

    @property
    def is_credit_note(self) -> bool:
        return self.document_type in CREDIT_NOTE_TYPES


@dataclass
class TaxSubtotal:
    tax_code: str
    rate: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal


@dataclass
class Totals:
    line_total: Decimal  # BT-106
    allowance_total: Decimal  # BT-107
    charge_total: Decimal  # BT-108
    tax_exclusive: Decimal  # BT-109
    tax_total: Decimal  # BT-110
    tax_inclusive: Decimal  # BT-112
    prepaid: Decimal  # BT-113 (minus the previous unpaid balance, which the payer also owes)
    payable: Decimal  # BT-115
    subtotals: list[TaxSubtotal]
