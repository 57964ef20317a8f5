"""The document totals as EN 16931 computes them (BT-106 to BT-115), with the VAT breakdown
per category and rate, the tax rounded once per breakdown entry and never per line.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .model import Document, TaxSubtotal, Totals
from .values import ZERO, rate_str, round2


def compute(doc: Document) -> Totals:
    """The totals of a read document."""
    line_total = sum((line.amount for line in doc.lines), ZERO)
    allowance_total = sum((a.amount for a in doc.allowances), ZERO)
    charge_total = sum((c.amount for c in doc.charges), ZERO)
    # VAT breakdown per (category, rate): the tax is rounded once per group, never per line.
    groups: dict[tuple[str, Decimal], Decimal] = {}
    for line in doc.lines:
        key = (line.tax_code, ZERO if line.tax_code == "O" else line.tax_rate)
        groups[key] = groups.get(key, ZERO) + line.amount
    for ac in (*doc.allowances, *doc.charges):
        key = (ac.tax_code, ac.tax_rate)
        sign = 1 if ac.is_charge else -1
        groups[key] = groups.get(key, ZERO) + sign * ac.amount
    subtotals = []
    for (code, rate), taxable in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        tax = ZERO if code == "O" else round2(taxable * rate / 100)
        subtotals.append(TaxSubtotal(code, rate, round2(taxable), tax))
    tax_total = sum((s.tax_amount for s in subtotals), ZERO)
    tax_exclusive = round2(line_total - allowance_total + charge_total)
    tax_inclusive = round2(tax_exclusive + tax_total)
    payable = round2(tax_inclusive + doc.previous_unpaid_balance)
    return Totals(
        line_total=round2(line_total),
        allowance_total=round2(allowance_total),
        charge_total=round2(charge_total),
        tax_exclusive=tax_exclusive,
        tax_total=round2(tax_total),
        tax_inclusive=tax_inclusive,
        prepaid=round2(tax_inclusive - payable),
        payable=payable,
        subtotals=subtotals,
    )


def as_api_totals(totals: Totals) -> dict[str, Any]:
    """The totals under the API's field names (see ``compute_totals``)."""
    return {
        "line_total": totals.line_total,
        "total_allowances": totals.allowance_total,
        "total_charges": totals.charge_total,
        "subtotal": totals.tax_exclusive,
        "total_discount": ZERO,
        "total_tax": totals.tax_total,
        "invoice_total": totals.tax_inclusive,
        "amount_due": totals.payable,
        "tax_details": [
            {
                "tax_code": s.tax_code,
                "rate": rate_str(s.rate),
                "taxable_amount": s.taxable_amount,
                "tax_amount": s.tax_amount,
            }
            for s in totals.subtotals
        ],
    }
