"""Totals as EN 16931 computes them: Decimal, half-up rounding, VAT once per rate."""

from decimal import Decimal as D

import pytest

from invoices.totals import AllowanceChargeInput, LineInput, compute, to_decimal


def lines(*rows: tuple[str, str, str]) -> list[LineInput]:
    return [LineInput(D(q), D(p), D(r)) for q, p, r in rows]


def test_it_rounds_each_line_amount_half_up_to_the_cent():
    totals = compute(lines(("3", "0.335", "21"), ("1", "0.125", "21")))
    assert totals.line_amounts == [D("1.01"), D("0.13")]
    assert totals.line_total == D("1.14")


def test_it_computes_vat_once_per_rate_not_per_line():
    # Three lines of 0.25 at 21%: per line 0.0525 → 0.05 (0.15 in all); on the total 0.1575 → 0.16.
    totals = compute(lines(("1", "0.25", "21"), ("1", "0.25", "21"), ("1", "0.25", "21")))
    assert totals.total_tax == D("0.16")
    assert totals.tax_inclusive == D("0.91")


def test_it_breaks_vat_down_per_rate_highest_first_with_zero_rated_as_z():
    totals = compute(lines(("10", "4.50", "6"), ("1", "20", "21"), ("2", "5", "0")))
    assert totals.breakdown() == [
        {"category": "S", "rate": "21.00", "taxable": "20.00", "tax": "4.20"},
        {"category": "S", "rate": "6.00", "taxable": "45.00", "tax": "2.70"},
        {"category": "Z", "rate": "0.00", "taxable": "10.00", "tax": "0.00"},
    ]
    assert (totals.tax_exclusive, totals.total_tax, totals.tax_inclusive) == (
        D("75.00"),
        D("6.90"),
        D("81.90"),
    )


def test_it_takes_allowances_and_charges_into_the_taxable_amount_of_their_rate():
    totals = compute(
        lines(("1", "100", "21"), ("1", "50", "6")),
        [
            AllowanceChargeInput(is_charge=False, amount=D("10"), tax_rate=D("21")),
            AllowanceChargeInput(is_charge=True, amount=D("5.555"), tax_rate=D("6")),
        ],
    )
    assert totals.allowance_total == D("10.00")
    assert totals.charge_total == D("5.56")
    assert totals.tax_exclusive == D("145.56")  # 150 − 10 + 5.56
    by_rate = {g["rate"]: g for g in totals.breakdown()}
    assert by_rate["21.00"]["taxable"] == "90.00" and by_rate["21.00"]["tax"] == "18.90"
    assert by_rate["6.00"]["taxable"] == "55.56" and by_rate["6.00"]["tax"] == "3.33"
    assert totals.tax_inclusive == D("167.79")


def test_it_keeps_credit_note_amounts_positive():
    totals = compute(lines(("2", "45", "21")))
    assert totals.tax_inclusive == D("108.90") and totals.tax_inclusive > 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,5", D("1.5")),
        (" 1 250.40 ", D("1250.40")),
        ("1.250,50", D("1250.50")),
        ("1,250.50", D("1250.50")),
        ("1.250.000", D("1250000")),
        ("1,250,000", D("1250000")),
        ("21%", None),  # a percentage is not an amount
        ("10", D("10")),
        ("", None),
        ("abc", None),
        ("NaN", None),
        ("Infinity", None),
        (None, None),
    ],
)
def test_it_reads_typed_numbers_leniently_and_refuses_non_numbers(raw, expected):
    assert to_decimal(raw) == expected


def test_it_reads_a_vat_rate_with_its_percent_sign():
    assert to_decimal("21%", percent=True) == D("21")
    assert to_decimal(" 5,5 % ", percent=True) == D("5.5")
