"""The document editor: prefilled seller, formset rows with htmx, live totals, validation
issues placed next to their inputs, duplicate numbers refused before any call."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from invoices.models import Document
from invoices.tenant_api import ValidationResult
from tests.invoices.conftest import editor_post, line

NEW = reverse("invoices:new_invoice")


class Blocks(HTMLParser):
    """Collects the text inside each element with an id (for "what is shown next to X")."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.text: dict[str, str] = {}

    SKIP = ("input", "br", "meta", "link", "option")

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            return
        self.stack.append((tag, dict(attrs).get("id")))

    def handle_endtag(self, tag):
        if tag in self.SKIP or tag not in [t for t, _ in self.stack]:
            return
        while self.stack:
            t, _id = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _tag, ident in self.stack:
            if ident:
                self.text[ident] = self.text.get(ident, "") + data


def blocks(response) -> dict[str, str]:
    parser = Blocks()
    parser.feed(response.content.decode())
    return {k: re.sub(r"\s+", " ", v) for k, v in parser.text.items()}


@pytest.fixture
def carol_client(client, carol):
    client.force_login(carol)
    return client


def test_it_prefills_the_seller_from_the_tenant(carol_client, seller):
    page = carol_client.get(NEW).content.decode()
    assert 'value="Bakkerij Van Damme BV"' in page
    assert 'value="BE0706165839"' in page
    assert "Kerkstraat 12" in page  # the company address the API holds for the tenant


@pytest.mark.parametrize("htmx", [True, False])
def test_it_adds_and_removes_lines_keeping_what_was_typed(carol_client, acme, htmx):
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "editor-rows"} if htmx else {}
    body = editor_post([line("Bread"), line("Cake", "2", "15")], action="add_line")
    response = carol_client.post(NEW, body, **headers)
    page = response.content.decode()
    assert page.count('name="lines-') >= 3 * 5
    assert 'name="lines-TOTAL_FORMS" value="3"' in page
    assert 'value="Bread"' in page and 'value="Cake"' in page
    assert ("<html" in page) is (not htmx)  # htmx gets the rows partial, no-JS the page
    assert 'class="error"' not in page  # a new empty line is not an error yet

    body = editor_post(
        [line("Bread"), line("Cake", "2", "15"), line("Pie")], action="remove_line-1"
    )
    page = carol_client.post(NEW, body, **headers).content.decode()
    assert 'name="lines-TOTAL_FORMS" value="2"' in page
    assert 'value="Cake"' not in page and 'value="Pie"' in page


def test_it_recomputes_the_totals_per_vat_rate_on_the_server(carol_client, acme):
    body = editor_post(
        [
            line("Bread", "10", "4.50", "6"),
            line("Cake", "1", "20", "21"),
            line("Half typed", "x", "", "21"),
        ]
    )
    response = carol_client.post(reverse("invoices:totals"), body, HTTP_HX_REQUEST="true")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))
    assert "VAT 21% on 20.00 4.20" in text
    assert "VAT 6% on 45.00 2.70" in text
    assert "Total 71.90 EUR" in text


def test_it_shows_local_field_errors_and_keeps_everything_typed(carol_client, acme):
    body = editor_post(
        [line("Bread", "ten", "4.50"), line("", "1", "3")],
        customer_tax_id="BE0123",
        iban="BE00 1234",
        invoice_id="INV-7",
    )
    response = carol_client.post(NEW, body)
    shown = blocks(response)
    assert "Not a valid VAT number" in shown["field-customer_tax_id"]
    assert "IBAN is not valid" in shown["field-iban"]
    assert "Enter a number" in shown["line-0"]
    assert "required" in shown["line-1"]
    page = response.content.decode()
    assert 'value="INV-7"' in page and 'value="ten"' in page and 'value="BE0123"' in page


def test_it_places_api_issues_by_json_path_xpath_and_rule(carol_client, acme, monkeypatch):
    issues = [
        {
            "message": "The VAT rate must be a percentage.",
            "location": "items[2].tax_rate",
            "type": "error",
        },
        {
            "message": "[BR-26]-Price missing",
            "location": "/Invoice/cac:InvoiceLine[2]/cac:Price/cbc:PriceAmount",
            "rule_id": "BR-26",
            "type": "error",
        },
        {
            "message": "[BR-CO-10]-Sum of Invoice line net amount (BT-106) = Σ (BT-131).",
            "location": None,
            "rule_id": "BR-CO-10",
            "type": "error",
        },
        {
            "message": "The buyer VAT number (customer_tax_id) is wrong.",
            "location": "customer_tax_id",
            "rule_id": "BR-CO-09",
            "type": "error",
        },
        {
            "message": "Delivery date looks odd.",
            "location": "/Invoice/cac:Delivery/cbc:ActualDeliveryDate",
            "type": "warning",
        },
    ]
    monkeypatch.setattr(
        "invoices.tenant_api.TenantApi.validate_json",
        lambda self, payload: ValidationResult(is_valid=False, issues=issues),
    )
    response = carol_client.post(
        NEW, editor_post([line("A"), line("B"), line("C")], invoice_id="INV-X")
    )
    shown = blocks(response)
    assert "The VAT rate must be a percentage." in shown["line-2"]
    assert "Price missing" in shown["line-1"]
    assert "The sum of the line amounts does not match the lines." in shown["totals-section"]
    assert "The buyer VAT number (“Buyer VAT number”) is wrong." in shown["field-customer_tax_id"]
    assert "Delivery date looks odd." in shown["general-issues"]
    assert "5 problems" in shown["issue-count"]
    assert 'value="INV-X"' in response.content.decode()


def test_it_refuses_a_duplicate_number_before_any_call(carol_client, acme, monkeypatch):
    Document.objects.create(tenant=acme, invoice_id="INV-1", remote_id="doc_old")
    calls = []
    monkeypatch.setattr("invoices.tenant_api.TenantApi.call", lambda self, op: calls.append(op))
    for action in ("validate", "save", "send"):
        response = carol_client.post(NEW, editor_post([line()], action=action, invoice_id="INV-1"))
        assert "already have a document with number INV-1" in blocks(response)["field-invoice_id"]
    assert calls == []
    assert Document.objects.filter(tenant=acme, invoice_id="INV-1").count() == 1


def test_it_lets_another_tenant_use_the_same_number(client, bob, globex, acme, monkeypatch):
    Document.objects.create(tenant=acme, invoice_id="INV-1", remote_id="doc_old")
    monkeypatch.setattr(
        "invoices.tenant_api.TenantApi.validate_json",
        lambda self, payload: ValidationResult(is_valid=True, issues=[]),
    )
    client.force_login(bob)
    response = client.post(
        NEW,
        editor_post(
            [line()],
            invoice_id="INV-1",
            vendor_tax_id="BE1998121608",
            customer_tax_id="BE0706165839",
        ),
    )
    assert 'id="validated"' in response.content.decode()


def test_it_says_what_to_do_when_the_key_was_revoked(carol_client, acme):
    # No current key at all: the reseller revoked it.
    response = carol_client.post(NEW, editor_post([line()], action="send"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ask your reseller to issue a new key" in page
    assert 'value="Sourdough bread"' in page
    assert not Document.objects.filter(tenant=acme).exists()
