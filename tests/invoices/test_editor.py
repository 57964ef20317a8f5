"""The document editor: prefilled seller, formset rows with htmx, live totals, validation
issues placed next to their inputs, duplicate numbers refused before any call."""

import re
import threading
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from einvoice.tenant import ValidationResult
from invoices import views
from invoices.mailbox import setup_due
from invoices.models import Document
from tenants.models import ApiKey
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
    setup_due()  # the poll read the tenant's profile once the portal held its key
    page = carol_client.get(NEW).content.decode()
    assert 'value="Bakkerij Van Damme BV"' in page
    assert 'value="BE0706165839"' in page
    assert "Kerkstraat 12" in page  # the company address the API holds for the tenant


def test_it_renders_the_editors_inputs_and_rows_from_templates(carol_client, acme):
    # Markup lives in templates/invoices/ (widgets, fields, row cells), not in Python strings.
    body = editor_post([line("Bread")], action="add_line")
    response = carol_client.post(NEW, body, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="editor-rows")
    used = {t.name for t in response.templates}
    for name in ("input", "select", "attrs"):
        assert f"invoices/widgets/{name}.html" in used
    assert "invoices/_row_cells.html" in used and "invoices/_errors.html" in used
    page = carol_client.get(NEW)
    assert {"invoices/_field.html", "invoices/widgets/textarea.html"} <= {
        t.name for t in page.templates
    }


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
    # The half-typed line is not counted, and the totals say so instead of leaving it out quietly.
    assert "Incomplete: line 3 is not counted yet" in text
    assert "Total so far 71.90 EUR" in text


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
    assert "Write a number, e.g. 1250,50." in shown["line-0"]
    assert "Say what this line is for." in shown["line-1"]
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
        "einvoice.tenant.TenantApi.validate_json",
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
    monkeypatch.setattr("einvoice.tenant.TenantApi.call", lambda self, op: calls.append(op))
    for action in ("validate", "save", "send"):
        response = carol_client.post(NEW, editor_post([line()], action=action, invoice_id="INV-1"))
        assert "already have a document with number INV-1" in blocks(response)["field-invoice_id"]
    assert calls == []
    assert Document.objects.filter(tenant=acme, invoice_id="INV-1").count() == 1


def test_it_lets_another_tenant_use_the_same_number(client, bob, globex, acme, monkeypatch):
    Document.objects.create(tenant=acme, invoice_id="INV-1", remote_id="doc_old")
    monkeypatch.setattr(
        "einvoice.tenant.TenantApi.validate_json",
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


def test_the_check_draws_its_page_while_e_invoice_be_validates(carol_client, acme, monkeypatch):
    held_key(acme)
    drawn = threading.Event()
    draw = views.render

    def render_then_note(*args, **kwargs):
        response = draw(*args, **kwargs)
        drawn.set()
        return response

    def validate_after_the_page_is_drawn(self, payload):
        # The answer comes only once the page is there: a Check that waited for it first
        # would never draw one.
        assert drawn.wait(10), "the page was not drawn while the answer was on its way"
        return ValidationResult(is_valid=True, issues=[])

    monkeypatch.setattr(views, "render", render_then_note)
    monkeypatch.setattr("einvoice.tenant.TenantApi.validate_json", validate_after_the_page_is_drawn)
    page = carol_client.post(NEW, editor_post([line()])).content.decode()
    assert 'id="validated"' in page and 'value="Sourdough bread"' in page


def test_the_check_draws_the_page_again_when_the_answer_has_warnings(
    carol_client, acme, monkeypatch
):
    held_key(acme)
    warning = {"message": "Delivery date looks odd.", "location": None, "type": "warning"}
    monkeypatch.setattr(
        "einvoice.tenant.TenantApi.validate_json",
        lambda self, payload: ValidationResult(is_valid=True, issues=[warning]),
    )
    shown = blocks(carol_client.post(NEW, editor_post([line()])))
    assert "Delivery date looks odd." in shown["general-issues"]
    assert "validated" in shown


def test_it_says_what_to_do_when_the_key_was_revoked(carol_client, acme):
    # No current key at all: the reseller revoked it.
    response = carol_client.post(NEW, editor_post([line()], action="send"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ask your reseller to issue a new key" in page
    assert 'value="Sourdough bread"' in page
    assert not Document.objects.filter(tenant=acme).exists()


def held_key(tenant) -> ApiKey:
    key = ApiKey(tenant=tenant, remote_id=f"key-{tenant.name}", name="k", is_current=True)
    key.set_value("einv_tenant_editor_test_key_0001")
    key.save()
    return key


def test_it_takes_numbers_the_way_a_bookkeeper_types_them(carol_client, acme, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "einvoice.tenant.TenantApi.validate_json",
        lambda self, payload: sent.append(payload) or ValidationResult(is_valid=True, issues=[]),
    )
    lines = [line("Licence", "1", "1.250,50", "21%"), line("Support", "2", "1,000.25", "6 %")]
    page = carol_client.post(NEW, editor_post(lines)).content.decode()
    assert 'id="validated"' in page
    items = sent[0]["items"]
    assert [(i["unit_price"], i["tax_rate"]) for i in items] == [
        ("1250.5", "21.00"),
        ("1000.25", "6.00"),
    ]
    # The live totals read them the same way (a "21%" line is not left out).
    totals = carol_client.post(reverse("invoices:totals"), editor_post(lines))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", totals.content.decode()))
    assert "VAT 21% on 1,250.50 262.61" in text and "Total 3,633.64 EUR" in text


def test_it_refuses_a_percentage_as_an_amount(carol_client, acme):
    adjustments = [{"kind": "allowance", "reason": "Promo", "amount": "10%", "tax_rate": "21"}]
    shown = blocks(carol_client.post(NEW, editor_post([line()], adjustments)))
    assert "Write a number" in shown["adjustment-0"]


def test_it_lists_every_local_error_at_the_top_with_a_link_to_its_input(carol_client, acme):
    body = editor_post(
        [line("Bread", "1", "3", "21"), line("", "1", "3", "twenty")],
        customer_name="",
        iban="BE68 5390 0754 7035",
        due_date="2000-01-01",
    )
    response = carol_client.post(NEW, body)
    summary = blocks(response)["form-errors"]
    assert "correct these 5 things first" in summary
    assert "Buyer name: Give the buyer's name." in summary
    assert "Due date: The due date cannot be before the document date." in summary
    assert "IBAN: This IBAN is not valid" in summary
    assert "Line 2 · Description: Say what this line is for." in summary
    assert "Line 2 · VAT %: Write the VAT rate as a number" in summary
    page = response.content.decode()
    for anchor in ("#field-customer_name", "#field-iban", "#field-due_date", "#line-1"):
        assert f'href="{anchor}"' in page
    # Adding a line is not a mistake: no summary then.
    added = carol_client.post(NEW, {**body, "action": "add_line"}).content.decode()
    assert 'id="form-errors"' not in added


def test_it_works_without_javascript_enter_checks_and_row_buttons_come_back_to_the_rows(
    carol_client, acme
):
    held_key(acme)
    page = carol_client.get(NEW).content.decode()
    form = page[page.index('id="document-form"') :]
    # The form's first submit button is its default (what Enter presses): "Check".
    first = re.search(r"<button[^>]*>", form).group(0)
    assert 'value="validate"' in first and "disabled" not in first
    assert re.search(
        r'value="add_line"[^>]*formaction="/invoices/new/invoice/#lines-section"', page
    )
    assert re.search(
        r'value="add_adjustment"[^>]*formaction="/invoices/new/invoice/#adjustments-section"', page
    )


def test_it_disables_what_needs_the_key_and_says_so_once(carol_client, acme):
    page = carol_client.get(NEW).content.decode()
    assert page.count("Ask your reseller to issue a new key") == 1
    for button in ("validate", "send", "peppol-check-button"):
        assert re.search(rf'<button[^>]*id="{button}"[^>]*disabled', page), button
    # A draft is kept here: saving it needs no key.
    assert not re.search(r'<button[^>]*id="save"[^>]*disabled', page)
    # A post from a page opened before the key was revoked: the banner, not twice the message.
    page = carol_client.post(NEW, editor_post([line()], action="send")).content.decode()
    assert page.count("Ask your reseller to issue a new key") == 1
    assert 'value="Sourdough bread"' in page
    assert not Document.objects.filter(tenant=acme).exists()


def test_it_reads_the_key_once_per_click(carol_client, acme, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    held_key(acme)
    monkeypatch.setattr(
        "einvoice.tenant.TenantApi.validate_json",
        lambda self, payload: self._current_key() and ValidationResult(is_valid=True, issues=[]),
    )
    with CaptureQueriesContext(connection) as queries:
        page = carol_client.post(NEW, editor_post([line()])).content.decode()
    assert 'id="validated"' in page and "Ask your reseller" not in page
    key_reads = [q for q in queries.captured_queries if '"tenants_apikey"' in q["sql"]]
    assert len(key_reads) == 1  # the banner check and the call share one read


def sent_invoice(tenant, number: str = "INV-9", state: str = "SENT") -> Document:
    from decimal import Decimal as D

    from invoices.models import AllowanceCharge, DocumentLine

    document = Document.objects.create(
        tenant=tenant,
        invoice_id=number,
        remote_id=f"doc-{number}",
        state=state,
        currency="EUR",
        customer_name="Kust Logistiek NV",
        customer_tax_id="BE0515848077",
        customer_address="Zeedijk 10, 8400 Oostende",
        payment_term="30 days",
        iban="BE68539007547034",
        payment_reference="+++090/9337/55493+++",
        total=D("1234.50"),
    )
    DocumentLine.objects.create(
        document=document,
        position=1,
        description="Consultancy",
        quantity=D("8"),
        unit="HUR",
        unit_price=D("95.5"),
        tax_rate=D("21"),
        amount=D("764.00"),
    )
    AllowanceCharge.objects.create(
        document=document, position=1, kind="allowance", reason="Loyalty", amount=D("50"),
        tax_rate=D("21"),
    )  # fmt: skip
    return document


def test_it_starts_a_credit_note_from_the_invoice_it_corrects(carol_client, acme):
    invoice = sent_invoice(acme)
    url = reverse("invoices:new_credit_note")
    page = carol_client.get(url, {"corrects": invoice.pk}).content.decode()
    assert f'<option value="{invoice.pk}" selected>INV-9 · Kust Logistiek NV · 1,234.50 EUR' in page
    for value in ("Kust Logistiek NV", "BE0515848077", "30 days", "Consultancy", "95.5", "8"):
        assert f'value="{value}"' in page, value
    assert 'name="lines-0-unit"' in page and '<option value="HUR" selected>' in page
    assert 'value="Loyalty"' in page and 'name="adjustments-TOTAL_FORMS" value="1"' in page
    assert 'name="invoice_id"' in page and 'name="invoice_id" value=' not in page  # new number
    assert "55493" not in page  # the invoice's own payment reference is not reused
    assert 'class="error"' not in page  # nothing typed yet is a mistake
    # The invoice's page links there, and lists its credit notes.
    credit = Document.objects.create(
        tenant=acme, invoice_id="CN-1", document_type="CREDIT_NOTE", corrects=invoice
    )
    detail = carol_client.get(reverse("invoices:detail", args=[invoice.pk])).content.decode()
    assert f'href="{url}?corrects={invoice.pk}"' in detail
    assert "CN-1" in blocks_of(detail)["credit-notes"] and credit.pk


def test_it_copies_a_failed_invoice_into_a_new_one(carol_client, acme):
    failed = sent_invoice(acme, "INV-F", state="FAILED")
    detail = carol_client.get(reverse("invoices:detail", args=[failed.pk])).content.decode()
    assert f'href="{NEW}?copy={failed.pk}"' in detail
    page = carol_client.get(NEW, {"copy": failed.pk}).content.decode()
    assert 'value="Kust Logistiek NV"' in page and 'value="Consultancy"' in page
    assert 'name="corrects"' not in page


def blocks_of(html: str) -> dict[str, str]:
    parser = Blocks()
    parser.feed(html)
    return {k: re.sub(r"\s+", " ", v) for k, v in parser.text.items()}
