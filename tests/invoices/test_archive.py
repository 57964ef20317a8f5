"""The bookkeeper's archive: Carol exports a month as CSV (read back with the csv module, the
VAT per rate in columns) and as a ZIP of UBL + PDF; a bad range is refused field by field;
nothing of Bob's tenant ever enters her archive."""

import csv
import io
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from einvoice.errors import Unavailable
from invoices.models import Attachment, State
from tests.invoices.documents_fixtures import received_invoice, sent_credit_note, stored

NOVEMBER = {"date_from": "2026-11-01", "date_to": "2026-11-30", "direction": "all"}


@pytest.fixture
def month(acme, globex):
    """Carol's November: a received invoice, a sent invoice, a credit note; a draft and a
    failed send (not archived); one invoice in December; Bob's invoice in November."""
    invoice = stored(
        acme,
        lines=[
            ("Zuurdesembrood", "10", "4.50", "6", "45.00"),
            ('=HYPERLINK("x")', "1", "35", "21", "35.00"),
        ],
        remote_id="doc-sent-1",
        subtotal=Decimal("80.00"),
        total_tax=Decimal("10.05"),
        total=Decimal("90.05"),
        tax_breakdown=[
            {"category": "S", "rate": "21.00", "taxable": "35.00", "tax": "7.35"},
            {"category": "S", "rate": "6.00", "taxable": "45.00", "tax": "2.70"},
        ],
        customer_name="=cmd|' /C calc'!A0",
    )
    received = received_invoice(acme)
    # Carol's timesheet, kept here; the sender's file, at e-invoice.be until first read.
    Attachment.objects.create(
        document=invoice, file_name="Timesheet.pdf", file_type="application/pdf", content=b"%PDF-1"
    )
    Attachment.objects.create(
        document=received,
        remote_id="att-1",
        file_name="Bon de livraison.pdf",
        file_type="application/pdf",
    )
    return {
        "received": received,
        "invoice": invoice,
        "credit": sent_credit_note(acme, remote_id="doc-credit-1"),
        "draft": stored(acme, lines=[], invoice_id="DRAFT-1", state=State.DRAFT),
        "failed": stored(acme, lines=[], invoice_id="FAILED-1", state=State.FAILED),
        "december": stored(acme, lines=[], invoice_id="DEC-1", invoice_date=date(2026, 12, 1)),
        "theirs": stored(globex, lines=[], invoice_id="GLOBEX-1", remote_id="doc-globex-1"),
    }


@pytest.fixture
def fake_ubl(monkeypatch):
    """The UBL e-invoice.be holds for each document (the credit note's cannot be read now);
    the calls made, by remote id."""
    asked = []

    def ubl(self, remote_id):
        asked.append((self.tenant.name, remote_id))
        if remote_id == "doc-credit-1":
            raise Unavailable("The UBL file cannot be downloaded right now.")
        return f"{remote_id}.xml", f"<Invoice><ID>{remote_id}</ID></Invoice>".encode()

    def attachment_content(self, remote_id, attachment_id):
        asked.append((self.tenant.name, f"{remote_id}/{attachment_id}"))
        return b"%PDF-delivery-note"

    monkeypatch.setattr("einvoice.tenant.TenantApi.ubl", ubl)
    monkeypatch.setattr("einvoice.tenant.TenantApi.attachment_content", attachment_content)
    return asked


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_csv_has_one_row_per_document_and_the_vat_per_rate(client, carol, month):
    client.force_login(carol)
    response = client.get(reverse("invoices:archive"), {**NOVEMBER, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="documents-all-20261101-20261130.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(body(response).decode("utf-8-sig"))))
    # By date; on one day received before sent.
    assert [r["Number"] for r in rows] == ["AL-2026-0042", "INV-2026-001", "CN-2026-007"]
    received, sent, credit = rows
    assert received["Direction"] == "Received" and received["Seller"] == "Atelier Lumière SRL"
    assert (received["Taxable at 21%"], received["VAT at 21%"]) == ("1000.00", "210.00")
    assert (received["Taxable at 6%"], received["VAT at 6%"]) == ("200.00", "24.00")
    assert received["Total"] == "1434.00" and received["Payment reference"] == "010806817183"
    assert (sent["Taxable at 6%"], sent["VAT at 6%"], sent["Total"]) == ("45.00", "2.70", "90.05")
    assert credit["Type"] == "Credit note" and credit["Corrects invoice"] == "INV-2026-001"
    assert (credit["Taxable at 6%"], credit["VAT at 6%"]) == ("", "")
    # A cell a spreadsheet would run as a formula is written as text.
    assert sent["Buyer"] == "'=cmd|' /C calc'!A0"


def test_the_csv_in_dutch_has_dutch_headers(client, carol, month):
    client.force_login(carol)
    client.cookies["django_language"] = "nl"
    response = client.get(
        reverse("invoices:archive"), {**NOVEMBER, "direction": "received", "format": "csv"}
    )
    rows = list(csv.DictReader(io.StringIO(body(response).decode("utf-8-sig"))))
    assert [(r["Nummer"], r["Maatstaf 21%"], r["Btw 21%"]) for r in rows] == [
        ("AL-2026-0042", "1000.00", "210.00")
    ]


def test_the_zip_holds_each_documents_ubl_and_pdf_and_the_csv(client, carol, month, fake_ubl):
    client.force_login(carol)
    response = client.get(reverse("invoices:archive"), {**NOVEMBER, "format": "zip"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == [
        "documents.csv",
        "missing.txt",
        "received/2026-11-14_received-invoice-AL-2026-0042.pdf",
        "received/2026-11-14_received-invoice-AL-2026-0042.xml",
        "received/2026-11-14_received-invoice-AL-2026-0042_files/Bon de livraison.pdf",
        "sent/2026-11-14_invoice-INV-2026-001.pdf",
        "sent/2026-11-14_invoice-INV-2026-001.xml",
        "sent/2026-11-14_invoice-INV-2026-001_files/Timesheet.pdf",
        "sent/2026-11-20_creditnote-CN-2026-007.pdf",
    ]
    assert archive.read("sent/2026-11-14_invoice-INV-2026-001_files/Timesheet.pdf") == b"%PDF-1"
    delivery_note = "received/2026-11-14_received-invoice-AL-2026-0042_files/Bon de livraison.pdf"
    assert archive.read(delivery_note) == b"%PDF-delivery-note"
    ubl = archive.read("sent/2026-11-14_invoice-INV-2026-001.xml")
    assert ubl == b"<Invoice><ID>doc-sent-1</ID></Invoice>"
    pdf = PdfReader(
        io.BytesIO(archive.read("received/2026-11-14_received-invoice-AL-2026-0042.pdf"))
    )
    assert "AL-2026-0042" in pdf.pages[0].extract_text()
    assert "CN-2026-007: no UBL" in archive.read("missing.txt").decode()
    csv_rows = list(csv.DictReader(io.StringIO(archive.read("documents.csv").decode("utf-8-sig"))))
    assert len(csv_rows) == 3
    # Only Carol's tenant's documents were asked for, with her tenant's key.
    assert {tenant for tenant, _id in fake_ubl} == {"acme"}
    assert "doc-globex-1" not in {remote for _t, remote in fake_ubl}


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"date_from": "2026-11-30", "date_to": "2026-11-01"}, "date_to", "before its start"),
        ({"date_from": "2025-01-01", "date_to": "2026-11-30"}, "date_to", "at most a year"),
        ({"date_from": "", "date_to": "2026-11-30"}, "date_from", "This field is required."),
        ({"date_from": "30/11", "date_to": "2026-11-30"}, "date_from", "Enter a valid date."),
        (
            {"date_from": "2026-11-01", "date_to": "2026-11-30", "direction": "theirs"},
            "direction",
            "Select a valid choice.",
        ),
    ],
)
def test_a_bad_range_is_refused_next_to_its_field(client, carol, month, params, field, message):
    client.force_login(carol)
    response = client.get(
        reverse("invoices:archive"), {"direction": "all", **params, "format": "csv"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    block = html.split(f'id="field-{field}"', 1)[1].split('<div class="field', 1)[0]
    assert message in block


def test_a_zip_of_too_many_documents_asks_for_a_shorter_range(client, carol, month, monkeypatch):
    monkeypatch.setattr("invoices.archive.MAX_ZIP_DOCUMENTS", 2)
    client.force_login(carol)
    response = client.get(reverse("invoices:archive"), {**NOVEMBER, "format": "zip"})
    assert response.status_code == 400
    assert "This range holds 3 documents; a ZIP holds at most 2." in response.content.decode()


def test_the_form_starts_with_last_month(client, carol):
    client.force_login(carol)
    response = client.get(reverse("invoices:archive"))
    assert response.status_code == 200
    form = response.context["form"]
    start, end = form.initial["date_from"], form.initial["date_to"]
    assert start.day == 1 and (end - start).days in range(27, 31) and end.month == start.month
    inbox = client.get(reverse("invoices:archive"), {"direction": "received"})
    assert inbox.context["form"].initial["direction"] == "received"


@pytest.mark.parametrize("kind", ["csv", "zip"])
def test_bobs_archive_holds_only_his_tenants_documents(client, bob, month, fake_ubl, kind):
    client.force_login(bob)
    response = client.get(reverse("invoices:archive"), {**NOVEMBER, "format": kind})
    content = body(response)
    if kind == "zip":
        names = zipfile.ZipFile(io.BytesIO(content)).namelist()
        assert names == [
            "documents.csv",
            "sent/2026-11-14_invoice-GLOBEX-1.pdf",
            "sent/2026-11-14_invoice-GLOBEX-1.xml",
        ]
        content = zipfile.ZipFile(io.BytesIO(content)).read("documents.csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert [r["Number"] for r in rows] == ["GLOBEX-1"]
    assert {tenant for tenant, _id in fake_ubl} <= {"globex"}


def test_staff_cannot_use_the_customers_archive(client, alice, month):
    client.force_login(alice)
    assert client.get(reverse("invoices:archive"), {**NOVEMBER, "format": "csv"}).status_code == 403


def test_the_sent_direction_leaves_received_ones_out(client, carol, month):
    client.force_login(carol)
    response = client.get(
        reverse("invoices:archive"), {**NOVEMBER, "direction": "sent", "format": "csv"}
    )
    rows = list(csv.DictReader(io.StringIO(body(response).decode("utf-8-sig"))))
    assert [(r["Direction"], r["Number"]) for r in rows] == [
        ("Sent", "INV-2026-001"),
        ("Sent", "CN-2026-007"),
    ]
