"""A CSV batch's errors are stored as codes with parameters and worded for whoever reads the
batch: a Dutch colleague reads Dutch on the page and in the results file, an English one
English, whoever uploaded it; a batch stored before codes existed still shows its words."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from accounts.models import Role
from core import texts
from tenants import identifiers
from tenants.models.jobs import BulkOnboarding
from tenants.onboarding import bulk
from tests.conftest import make_user

HEADER = "company_name,name,country,company_number,vat_number,peppol_id,email"
FILE = "\n".join(
    [
        HEADER,
        "Bakkerij Zon BV,bakkerij-zon,BE,0403170702,,,",  # check digits wrong
        "Zon Twee BV,bakkerij-zon,BE,0417497106,,,",  # same name as line 2
        "Zon Drie BV,,BE,0400378485,,,dora@example",  # not an email address
    ]
).encode()

ERRORS = {
    "en": [
        "Not a valid Belgian enterprise number (CBE/KBO), e.g. 0403.170.701.",
        "Same as line 2 of this file.",
        "Not a valid email address.",
    ],
    "nl": [
        "Geen geldig Belgisch ondernemingsnummer (KBO), bv. 0403.170.701.",
        "Zelfde als regel 2 van dit bestand.",
        "Geen geldig e-mailadres.",
    ],
}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def nora(db):
    """A Dutch-speaking colleague of otto's."""
    return make_user("nora", Role.OPERATOR)


@pytest.fixture
def batch(client, otto) -> BulkOnboarding:
    """Checked while otto reads English."""
    client.force_login(otto)
    client.cookies["django_language"] = "en"
    upload = SimpleUploadedFile("customers.csv", FILE, "text/csv")
    assert client.post(reverse("tenants:bulk_upload"), {"file": upload}).status_code == 302
    return BulkOnboarding.objects.get()


def _as(client, user, lang: str):
    client.force_login(user)
    client.cookies["django_language"] = lang
    return client


def _results(client, batch) -> list[dict]:
    response = client.get(reverse("tenants:bulk_results", args=[batch.pk]))
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_it_stores_codes_with_parameters_not_words(batch):
    errors = [r["errors"] for r in batch.rows]
    assert errors[0]["company_number"][0]["code"] == identifiers.CBE_INVALID
    assert errors[1]["name"][0]["code"] == bulk.SAME_AS_LINE
    assert errors[1]["name"][0]["params"] == {"line": 2}
    assert errors[2]["email"][0]["code"] == bulk.BAD_EMAIL


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_it_shows_a_csv_error_in_the_readers_language(client, batch, otto, nora, lang):
    reader = otto if lang == "en" else nora
    page = _text(
        _as(client, reader, lang).get(reverse("tenants:bulk", args=[batch.pk])).content.decode()
    )
    for message in ERRORS[lang]:
        assert message in page
    other = ERRORS["nl" if lang == "en" else "en"]
    assert not any(message in page for message in other)


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_it_writes_the_results_file_in_the_downloaders_language(client, batch, otto, nora, lang):
    rows = _results(_as(client, otto if lang == "en" else nora, lang), batch)
    # The columns and the machine values keep their meaning; the errors are worded.
    assert [r["state"] for r in rows] == ["invalid", "invalid", "invalid"]
    assert rows[0]["error"] == f"company_number: {ERRORS[lang][0]}"
    assert rows[1]["error"] == f"name: {ERRORS[lang][1]}"
    assert rows[2]["error"] == f"email: {ERRORS[lang][2]}"


def test_it_still_shows_a_row_stored_before_codes(client, otto, nora):
    old = BulkOnboarding.objects.create(
        file_name="old.csv",
        created_by=otto,
        rows=[
            {
                "row": 2,
                "data": {"description": "Oud BV", "name": "oud-bv", "email": ""},
                "errors": {"name": ["Zelfde als regel 1 van dit bestand."]},
            }
        ],
    )
    page = _as(client, nora, "en").get(reverse("tenants:bulk", args=[old.pk])).content.decode()
    assert "Zelfde als regel 1 van dit bestand." in page
    assert _results(client, old)[0]["error"] == "name: Zelfde als regel 1 van dit bestand."


def test_it_words_the_peppol_verdict_of_a_row_for_its_reader(client, otto, nora):
    with_verdict = BulkOnboarding.objects.create(
        file_name="peppol.csv",
        created_by=otto,
        register_peppol=True,
        rows=[
            {
                "row": 2,
                "data": {"description": "Vrij BV", "name": "vrij-bv", "email": ""},
                "errors": {},
                "peppol": {
                    "kind": "free",
                    "peppol_id": "0208:0403170701",
                    "tenant_id": None,
                    "tenant_name": "",
                    "holder": {},
                    "reason": "",
                    "text": "Free: 0208:0403170701 is not registered on the Peppol network.",
                },
            }
        ],
    )
    url = reverse("tenants:bulk", args=[with_verdict.pk])
    page = _as(client, nora, "nl").get(url).content.decode()
    assert "Vrij: 0208:0403170701 is niet geregistreerd op het Peppol-netwerk." in page


def test_it_keeps_the_form_messages_as_they_were(db):
    # The single form reads the same checks: a Coded message is a plain string to it.
    with translation.override("en"):
        _cleaned, errors = identifiers.clean_tenant_fields(
            {"description": "X BV", "company_number": "0403170702", "country": "BE"}
        )
    message = errors["company_number"][0]
    assert message == "Not a valid Belgian enterprise number (CBE/KBO), e.g. 0403.170.701."
    assert isinstance(message, texts.Coded)
