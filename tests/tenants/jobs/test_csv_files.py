"""CSV in and out as spreadsheet programs produce and read it (issue 11 items 3, 4, 8)."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tenants.models.jobs import BulkOnboarding
from tenants.onboarding import bulk
from tests.tenants.jobs.conftest import customer

HEADER = "company_name,name,country,company_number,vat_number,peppol_id"


def _row(i: int, name: str) -> str:
    c = customer(i)
    return f"{name},,BE,{c['company_number']},{c['company_tax_id']},{c['peppol_id']}"


def _upload(client, raw: bytes):
    return client.post(
        reverse("tenants:bulk_upload"),
        {"file": SimpleUploadedFile("customers.csv", raw, "text/csv"), "register_peppol": "on"},
    )


def test_it_keeps_doubled_quotes_in_a_quoted_name(db):
    quoted = '"Bakkerij ""De Zon"" BV"'  # as a spreadsheet program writes it
    rows = bulk.parse(f"{HEADER}\n{_row(1, quoted)}\n".encode())
    assert rows[0]["data"]["description"] == 'Bakkerij "De Zon" BV'
    assert rows[0]["errors"] == {}


@pytest.mark.parametrize(
    "encoding, separator",
    [("utf-8-sig", ","), ("utf-8-sig", ";"), ("cp1252", ";"), ("cp1252", "\t")],
)
def test_it_reads_what_excel_exports(db, encoding, separator):
    text = (HEADER + "\r\n" + _row(2, "Café Zoë BV") + "\r\n").replace(",", separator)
    rows = bulk.parse(text.encode(encoding))
    assert rows[0]["data"]["description"] == "Café Zoë BV"
    assert rows[0]["errors"] == {}


@pytest.mark.parametrize(
    "raw",
    [
        (HEADER + "\n" + '"' + "x" * 140_000 + '",,BE,,,\n').encode(),  # a field over 128 KB
        (HEADER + '\n"Caf\xe9 \r BV",,BE,,,\n"unterminated\r').encode("cp1252"),  # bare CRs
    ],
)
def test_it_answers_a_broken_file_with_a_message_not_a_500(client, otto, raw):
    client.force_login(otto)
    response = _upload(client, raw)
    if response.status_code == 302:  # read after all: its rows are checked one by one
        response = client.get(response.url)
        assert response.status_code == 200 and "Caf" in response.content.decode()
    else:
        assert response.status_code == 200
        assert "cannot be read as CSV" in response.content.decode()
        assert not BulkOnboarding.objects.exists()


def test_it_refuses_a_file_with_a_nul_character_and_names_the_line(client, otto):
    # PostgreSQL cannot store NUL in text; the upload must say so, not 500.
    client.force_login(otto)
    raw = (HEADER + "\n" + _row(3, "Zon BV") + "\n" + _row(4, "Maan\x00 BV") + "\n").encode()
    response = _upload(client, raw)
    assert response.status_code == 200
    assert "Line 3 contains a NUL character" in response.content.decode()
    assert not BulkOnboarding.objects.exists()


def test_it_reads_excels_unicode_text_export(db):
    text = (HEADER + "\r\n" + _row(5, "Brasserie Ωmega BV") + "\r\n").replace(",", "\t")
    rows = bulk.parse(text.encode("utf-16"))  # Python writes the byte-order mark
    assert rows[0]["data"]["description"] == "Brasserie Ωmega BV"
    assert rows[0]["errors"] == {}


def test_it_writes_results_that_a_spreadsheet_shows_as_text(client, otto):
    client.force_login(otto)
    names = ["=HYPERLINK(1)", "+SUM(A1)", "-2+3", "@cmd"]
    raw = "\n".join([HEADER] + [_row(10 + i, n) for i, n in enumerate(names)]) + "\n"
    batch_url = _upload(client, raw.encode()).url
    batch = BulkOnboarding.objects.get()
    assert batch_url == reverse("tenants:bulk", args=[batch.pk])
    text = client.get(reverse("tenants:bulk_results", args=[batch.pk])).content.decode()
    cells = [row[1] for row in csv.reader(io.StringIO(text))][1:]
    assert cells == ["'" + n for n in names]


def test_it_calls_valid_rows_not_started_before_the_batch_starts(client, otto):
    client.force_login(otto)
    raw = f"{HEADER}\n{_row(20, 'Good BV')}\nBad BV,,BE,123,,\n"
    _upload(client, raw.encode())
    batch = BulkOnboarding.objects.get()
    text = client.get(reverse("tenants:bulk_results", args=[batch.pk])).content.decode()
    states = [row[3] for row in csv.reader(io.StringIO(text))][1:]
    assert states == ["not started", "invalid"]
