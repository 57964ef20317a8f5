"""Editor correctness: a line that cannot be computed says so at its place and the totals say
they are incomplete; negative quantities where EN 16931 allows them, with a warning; VAT rates
held against the seller's country; every message in our words; credit notes copied from an
invoice keep its payment terms and name it."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django import forms
from django.core import validators
from django.forms.formsets import BaseFormSet
from django.urls import reverse
from django.utils import translation

from einvoice.tenant import ValidationResult
from invoices import checks, editor
from invoices.models import DocumentType
from tests.invoices.conftest import editor_post, line
from tests.invoices.test_editor import blocks, sent_invoice

NEW = reverse("invoices:new_invoice")
NEW_CREDIT_NOTE = reverse("invoices:new_credit_note")
TOTALS = reverse("invoices:totals")


@pytest.fixture
def carol_client(client, carol):
    client.force_login(carol)
    return client


@pytest.fixture
def api_says_valid(monkeypatch):
    sent = []
    monkeypatch.setattr(
        "einvoice.tenant.TenantApi.validate_json",
        lambda self, payload: sent.append(payload) or ValidationResult(is_valid=True, issues=[]),
    )
    return sent


def words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def live(client, lines, adjustments=None, **changes) -> str:
    body = editor_post(lines, adjustments, **changes)
    return client.post(TOTALS, body, HTTP_HX_REQUEST="true").content.decode()


def note_of(html: str, i: int) -> str:
    match = re.search(rf'<span data-line-note="{i}">(.*?)</span>(?=<span data-|</div>)', html, re.S)
    return words(match.group(1)) if match else ""


# --- Lines that cannot be computed ----------------------------------------------------------------
def test_a_line_that_cannot_be_computed_says_why_and_the_totals_say_they_are_incomplete(
    carol_client, acme
):
    html = live(
        carol_client,
        [
            line("Bread", "10", "4.50", "6"),
            line("Typo in the rate", "1", "20", "150"),
            line("Typo in the quantity", "99999999", "99999999", "21"),
        ],
    )
    assert "A VAT rate is between 0 and 100 %." in note_of(html, 1)
    assert "This line comes to more than 999,999,999,999.99" in note_of(html, 2)
    text = words(html)
    assert "Incomplete: lines 2, 3 are not counted yet" in text
    assert "Total so far 47.70 EUR" in text  # line 1 alone, and it says so
    # The left-out lines show no amount of their own.
    assert re.search(r'data-line-amount="1">\s*</span>', html)
    assert re.search(r'data-line-amount="2">\s*</span>', html)


def test_a_complete_set_of_lines_gives_plain_totals(carol_client, acme):
    text = words(live(carol_client, [line("Bread", "10", "4.50", "6")]))
    assert "Incomplete" not in text and "Total 47.70 EUR" in text


def test_check_shows_the_lines_error_at_the_line_and_in_the_summary(carol_client, acme):
    body = editor_post(
        [line("Bread"), line("Huge", "99999999", "99999999", "21"), line("Rate", "1", "2", "150")]
    )
    response = carol_client.post(NEW, body)
    shown = blocks(response)
    assert "This line comes to more than" in shown["line-1"]
    assert "A VAT rate is between 0 and 100 %." in shown["line-2"]
    summary = shown["form-errors"]
    assert "Line 2: This line comes to more than" in summary
    assert "Line 3 · VAT %: A VAT rate is between 0 and 100 %." in summary
    assert "Incomplete: lines 2, 3 are not counted yet" in shown["totals"]


# --- Our words, never Django's -------------------------------------------------------------------
def djangos_messages() -> list[str]:
    """The start (up to its first placeholder) of every message Django's fields, validators and
    formsets say by themselves, in English."""
    found = []
    sources = [
        forms.Field,
        forms.CharField,
        forms.DecimalField,
        forms.DateField,
        forms.EmailField,
        forms.ChoiceField,
        forms.ModelChoiceField,
        BaseFormSet,
    ]
    with translation.override("en"):
        for cls in sources:
            for cls_ in cls.__mro__:
                found += [str(m) for m in getattr(cls_, "default_error_messages", {}).values()]
        for validator in (
            validators.MaxValueValidator(1),
            validators.MinValueValidator(1),
            validators.MaxLengthValidator(1),
            validators.EmailValidator(),
        ):
            found.append(str(validator.message))
        # Plural messages: worded with a number, cut before it.
        for m in validators.DecimalValidator.messages.values():
            found.append(str(m % {"max": 7}).split("7")[0])
    starts = {re.split(r"%\(|\{|%s|%d", m)[0].strip() for m in found}
    return sorted(s for s in starts if len(s) > 8)


def test_it_says_everything_in_its_own_words(carol_client, acme):
    messages = djangos_messages()
    assert "Ensure that there are no more than" in messages  # the list is what it should be
    body = editor_post(
        [
            line("x" * 501, "12345678901234567", "1.123456", "21"),
            line("Bread", "1000000000", "-5", "-1"),
            line("Cake", "1", "2", "150", unit="XXX"),
        ],
        [{"kind": "bonus", "reason": "r" * 201, "amount": "-3", "tax_rate": "21"}],
        invoice_id="INV-" + "9" * 70,
        invoice_date="31/02/2026x",
        due_date="tomorrow",
        currency="XYZ",
        vendor_email="not an email",
        customer_email="@",
        customer_name="n" * 201,
        purchase_order="p" * 101,
    )
    page = carol_client.post(NEW, body).content.decode()
    assert 'id="form-errors"' in page
    said = words(page)
    for message in messages:
        assert message not in said, message
    # … and the same page in Dutch has no English message left.
    carol_client.post(reverse("set_language"), {"language": "nl", "next": "/"})
    dutch = words(carol_client.post(NEW, body).content.decode())
    for english in ("Too large", "Too long", "Write a number", "Choose one of", "Write a date"):
        assert english not in dutch, english
    assert "Te groot" in dutch or "te groot" in dutch


def test_a_management_form_that_is_missing_is_said_in_our_words(carol_client, acme):
    body = editor_post([line()])
    del body["lines-TOTAL_FORMS"]
    said = words(carol_client.post(NEW, body).content.decode())
    assert "ManagementForm" not in said


# --- Negative quantities --------------------------------------------------------------------------
def test_a_negative_quantity_on_an_invoice_is_allowed_with_a_warning(
    carol_client, acme, api_says_valid
):
    lines = [line("Bread", "10", "4.50", "6"), line("Returned bread", "-2", "4.50", "6")]
    shown = blocks(carol_client.post(NEW, editor_post(lines)))
    assert "validated" in shown  # nothing refused it
    assert "A negative quantity lowers the invoice" in shown["line-note-1"]
    assert api_says_valid[0]["items"][1]["quantity"] == "-2"
    assert "Total 38.16 EUR" in words(live(carol_client, lines))


def test_an_invoice_below_zero_is_a_warning_and_points_to_a_credit_note(carol_client, acme):
    text = words(live(carol_client, [line("Refund", "-1", "10", "21")]))
    assert "This invoice adds up to less than zero: to give money back, make a credit note" in text


def test_a_negative_unit_price_is_refused_in_our_words(carol_client, acme):
    shown = blocks(carol_client.post(NEW, editor_post([line("Bread", "1", "-4.50", "6")])))
    assert "A unit price cannot be negative" in shown["line-0"]
    html = live(carol_client, [line("Bread", "1", "-4.50", "6")])
    assert "A unit price cannot be negative" in note_of(html, 0)


def test_a_zero_quantity_is_refused_in_our_words(carol_client, acme):
    shown = blocks(carol_client.post(NEW, editor_post([line("Bread", "0", "4.50", "6")])))
    assert "A quantity of 0 adds nothing" in shown["line-0"]


def test_a_credit_note_below_zero_is_refused_and_a_negative_line_is_warned(
    carol_client, acme, api_says_valid
):
    invoice = sent_invoice(acme)
    negative = editor_post(
        [line("Oops", "-3", "10", "21")], invoice_id="CN-NEG", corrects=str(invoice.pk)
    )
    shown = blocks(carol_client.post(NEW_CREDIT_NOTE, negative))
    assert "Totals: This credit note adds up to less than zero" in shown["form-errors"]
    assert api_says_valid == []  # nothing was checked or sent
    mixed = editor_post(
        [line("Cake", "2", "10", "21"), line("Correction", "-1", "10", "21")],
        invoice_id="CN-MIX",
        corrects=str(invoice.pk),
    )
    shown = blocks(carol_client.post(NEW_CREDIT_NOTE, mixed))
    assert "validated" in shown
    assert "charges the buyer again" in shown["line-note-1"]


# --- VAT rates of the seller's country ------------------------------------------------------------
def test_a_vat_rate_belgium_does_not_have_is_a_warning_not_an_error(
    carol_client, acme, api_says_valid
):
    shown = blocks(carol_client.post(NEW, editor_post([line("Bread", "1", "10", "17")])))
    assert "validated" in shown
    assert "17 % is not a VAT rate in Belgium (0, 6, 12, 21 %)" in shown["line-note-0"]
    html = live(carol_client, [line("Bread", "1", "10", "17"), line("Cake", "1", "10", "12")])
    assert "17 % is not a VAT rate in Belgium" in note_of(html, 0)
    assert note_of(html, 1) == ""  # 12 % is a Belgian rate


@pytest.mark.parametrize(
    ("tax_id", "rate", "warned"),
    [("BE0403170701", "21", False), ("BE0403170701", "9", True), ("NL123456789B01", "9", False)],
)
def test_the_rates_follow_the_sellers_country(tax_id, rate, warned):
    country = checks.seller_country(tax_id)
    assert (checks.unusual_rate(Decimal(rate), country) is not None) is warned


# --- Credit notes ---------------------------------------------------------------------------------
def test_a_credit_note_copied_from_an_invoice_keeps_its_payment_terms_and_names_it(
    carol_client, seller
):
    # An invoice with a due date and no payment terms: the credit note's own checks at the
    # API need one of them (BR-CO-25); it used to fail with "Say when the invoice must be paid".
    invoice = sent_invoice(seller.tenant)
    invoice.payment_term = ""
    invoice.due_date = date.today() - timedelta(days=3)
    invoice.save()
    page = carol_client.get(NEW_CREDIT_NOTE, {"corrects": invoice.pk}).content.decode()
    assert f'name="due_date" value="{invoice.due_date.isoformat()}"' in page
    assert "e.g. CN-2025-001" in page
    data = editor.prefill(seller.tenant, invoice, DocumentType.CREDIT_NOTE)
    data["invoice_id"] = "CN-KEEP-1"
    data["action"] = "validate"
    shown = blocks(carol_client.post(NEW_CREDIT_NOTE, data))
    assert "validated" in shown, shown.get("form-errors") or shown.get("issue-count")
    # The payment terms are copied too.
    invoice.payment_term = "Refund within 14 days"
    invoice.save()
    page = carol_client.get(NEW_CREDIT_NOTE, {"corrects": invoice.pk}).content.decode()
    assert 'value="Refund within 14 days"' in page


def test_a_credit_note_names_the_invoice_it_corrects(carol_client, acme, api_says_valid):
    invoice = sent_invoice(acme, "INV-77")
    body = editor_post([line()], invoice_id="CN-77", corrects=str(invoice.pk))
    assert "validated" in blocks(carol_client.post(NEW_CREDIT_NOTE, body))
    assert api_says_valid[0]["billing_reference"] == "INV-77"  # BT-25
    assert api_says_valid[0]["document_type"] == "CREDIT_NOTE"


def test_the_apis_invoice_wording_becomes_credit_note_wording(carol_client, acme, monkeypatch):
    issues = [
        {
            "message": "Say when the invoice must be paid: give a due date (due_date) or "
            "payment terms (payment_term).",
            "location": "due_date",
            "rule_id": "BR-CO-25",
            "type": "error",
        }
    ]
    monkeypatch.setattr(
        "einvoice.tenant.TenantApi.validate_json",
        lambda self, payload: ValidationResult(is_valid=False, issues=issues),
    )
    invoice = sent_invoice(acme)
    body = editor_post([line()], invoice_id="CN-W", corrects=str(invoice.pk), payment_term="")
    shown = blocks(carol_client.post(NEW_CREDIT_NOTE, body))
    assert (
        "When an amount is to be paid back, give a due date or payment terms"
        in (shown["field-due_date"])
    )
    assert "Credit note" in shown["doc-title"]
