"""What the readable document prints: the structured payment reference recognised in any
notation, the VAT breakdown completed from the lines, amounts in the reader's language."""

from decimal import Decimal

import pytest
from django.utils import translation

from invoices.rendering import creditor_reference, money_text, ogm, payment_reference, readable
from tests.invoices.documents_fixtures import received_invoice, sent_credit_note, stored


@pytest.mark.parametrize(
    "typed",
    [
        "010806817183",
        "+++010/8068/17183+++",
        "***010/8068/17183***",
        "010/8068/17183",
        " 010 8068 17183 ",
    ],
)
def test_it_recognises_a_belgian_structured_communication_in_any_notation(typed):
    assert ogm(typed) == "+++010/8068/17183+++"


@pytest.mark.parametrize(
    "typed", ["010806817184", "01080681718", "+++010/8068/1718a+++", "", "٠١٠٨٠٦٨١٧١٨٣"]
)
def test_it_refuses_a_structured_communication_whose_check_fails(typed):
    assert ogm(typed) == ""


def test_a_remainder_of_zero_is_written_97():
    # 97 × 1 = 97: ten digits whose remainder is 0 carry 97 as their check.
    assert ogm("000000009797") == "+++000/0000/09797+++"


def test_it_recognises_an_iso_11649_creditor_reference(acme):
    assert creditor_reference("rf18539007547034") == "RF18 5390 0754 7034"
    assert creditor_reference("RF18 5390 0754 7035") == ""
    doc = stored(acme, lines=[], payment_reference="RF18 5390 0754 7034")
    with translation.override("nl"):
        assert payment_reference(doc).label == "Creditorreferentie"


def test_it_finds_an_ogm_in_the_note_when_no_reference_is_given(acme):
    doc = stored(acme, lines=[], note="Gelieve te betalen met +++123/4567/89002+++ aub.")
    assert payment_reference(doc).text == "+++123/4567/89002+++"


def test_a_free_reference_stays_as_it_was_given(acme):
    doc = stored(acme, lines=[], payment_reference="Factuur 2026/17")
    ref = payment_reference(doc)
    assert (ref.kind, ref.text, ref.is_structured) == ("free", "Factuur 2026/17", False)


def test_it_derives_the_taxable_amounts_a_received_document_leaves_out(acme):
    view = readable(received_invoice(acme))
    assert [(g.rate, g.taxable, g.tax) for g in view.vat] == [
        (Decimal("21.00"), Decimal("1000.00"), Decimal("210.00")),  # 1050 − 50 discount
        (Decimal("6.00"), Decimal("200.00"), Decimal("24.00")),
    ]
    assert view.reference.text == "+++010/8068/17183+++"


def test_it_keeps_the_breakdown_a_document_gives(acme):
    with translation.override("en"):
        view = readable(sent_credit_note(acme))
        assert view.title == "Credit note"
        assert view.totals()[-1][0] == "Total to refund"
    assert [(g.category, g.taxable, g.tax) for g in view.vat] == [
        ("S", Decimal("35.00"), Decimal("7.35"))
    ]


@pytest.mark.parametrize(
    ("language", "shown"),
    [("nl", "€\u00a01.234,50"), ("fr", "1\u202f234,50\u00a0€"), ("en", "€1,234.50")],
)
def test_amounts_read_the_way_the_readers_language_writes_them(language, shown):
    with translation.override(language):
        text = money_text(Decimal("1234.5"), "EUR")
    # French groups thousands with a (narrow) no-break space, whichever Django's locale uses.
    assert text.replace("\u00a0", " ").replace("\u202f", " ") == shown.replace(
        "\u00a0", " "
    ).replace("\u202f", " ")


def test_other_currencies_keep_their_code():
    with translation.override("nl"):
        assert money_text(Decimal("-12"), "USD") == "-12,00\u00a0USD"
