"""Amounts, prices and IBANs on the invoice pages, as a Belgian bookkeeper reads them."""

from decimal import Decimal as D

import pytest
from django.utils import translation

from invoices.templatetags.invoice_tags import (
    amount,
    iban,
    price,
    quantity,
    rate,
    sentence,
    unit_name,
)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ("1,234,567.50", "1,250.50", "0.3333", "1.5", "5.5")),
        ("nl", ("1.234.567,50", "1.250,50", "0,3333", "1,5", "5,5")),
        ("fr", ("1\u00a0234\u00a0567,50", "1\u00a0250,50", "0,3333", "1,5", "5,5")),
    ],
)
def test_it_writes_numbers_in_the_readers_language(language, expected):
    with translation.override(language):
        shown = (
            amount(D("1234567.5")),
            price(D("1250.5000")),
            price(D("0.3333")),
            quantity(D("1.5000")),
            rate(D("5.50")),
        )
    assert shown == expected


def test_it_shows_unit_prices_with_cents_and_units_and_ibans_in_words():
    assert price(D("95.0000")) == "95.00"
    assert amount("not a number") == "" and price(None) == ""
    assert unit_name("HUR") == "hour (HUR)" and unit_name("XYZ") == "XYZ"
    assert iban("BE68539007547034") == "BE68 5390 0754 7034"


@pytest.mark.parametrize(
    ("words", "shown"),
    [
        (
            "Receiver 0208:1 is not registered on the Peppol network",
            "Receiver 0208:1 is not registered on the Peppol network.",
        ),
        ("Delivery refused.", "Delivery refused."),
        ("Is the receiver's SMP up? ", "Is the receiver's SMP up?"),
        ("", ""),
        (None, ""),
    ],
)
def test_it_ends_the_apis_words_with_a_full_stop_before_the_next_sentence(words, shown):
    assert sentence(words) == shown
