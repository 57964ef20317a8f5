"""What an onboarding job that cannot succeed says is stored as codes with parameters: the
worker writes it (in English), a Dutch colleague reads it in Dutch on the batch, the job page
and in the results file, an English one in English."""

from __future__ import annotations

import csv
import io
import re
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import translation

from accounts.models import Role
from einvoice.errors import Conflict
from jobs.models import JobState
from tenants import mirror
from tenants.models.jobs import BulkOnboarding, OnboardingJob
from tenants.onboarding import steps as onboarding
from tests.conftest import make_user

TAKEN = {
    "en": "The name zon-bv is already taken by another company. Choose another name, "
    "e.g. zon-bv-2, and start a new onboarding.",
    "nl": "De naam zon-bv is al bezet door een andere onderneming. Kies een andere naam, "
    "bv. zon-bv-2, en start een nieuwe onboarding.",
}
TAKEN_FIELD = {
    "en": "This name is taken by another company.",
    "nl": "Deze naam is bezet door een andere onderneming.",
}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def failed(otto) -> OnboardingJob:
    """A CSV row whose job failed on a name e-invoice.be has for another company."""
    data = {"description": "Zon BV", "name": "zon-bv", "company_number": "0403170701"}
    batch = BulkOnboarding.objects.create(
        file_name="zon.csv",
        created_by=otto,
        rows=[{"row": 2, "data": data, "errors": {}}],
        started_at="2026-01-01T00:00:00Z",
    )
    job = onboarding.start(
        data, register_peppol=False, user=otto, batch=batch, row_number=2, kick=False
    )
    taken = Conflict("name taken", status=409)
    with (
        translation.override("en"),
        mock.patch.object(mirror, "create_or_adopt", side_effect=taken),
    ):
        onboarding.run(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    return job


@pytest.fixture
def nora(db):
    return make_user("nora", Role.OPERATOR)


def test_it_stores_the_failure_as_codes(failed):
    assert failed.last_error == TAKEN["en"]
    assert failed.last_error_code == onboarding.NAME_TAKEN
    assert failed.last_error_params == {"name": "zon-bv", "suggestion": "zon-bv-2"}
    assert failed.field_errors["name"][0]["code"] == onboarding.NAME_TAKEN_FIELD


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_it_shows_the_failure_in_the_readers_language(client, failed, otto, nora, lang):
    client.force_login(otto if lang == "en" else nora)
    client.cookies["django_language"] = lang
    job_page = _text(client.get(reverse("tenants:job", args=[failed.pk])).content.decode())
    assert TAKEN[lang] in job_page
    assert TAKEN_FIELD[lang] in job_page
    batch_page = client.get(reverse("tenants:bulk", args=[failed.batch_id])).content.decode()
    assert TAKEN[lang][:60] in _text(batch_page)
    results = client.get(reverse("tenants:bulk_results", args=[failed.batch_id]))
    (row,) = csv.DictReader(io.StringIO(results.content.decode()))
    assert (row["state"], row["error"]) == ("failed", TAKEN[lang])


def test_it_forgets_the_code_when_the_job_is_queued_again(failed, otto):
    assert onboarding.retry(failed, user=otto)
    failed.refresh_from_db()
    assert (failed.last_error, failed.last_error_code, failed.last_error_params) == ("", "", {})
    assert failed.field_errors == {}


def test_it_still_shows_an_error_stored_before_codes(client, otto):
    job = OnboardingJob.objects.create(
        name="oud-bv",
        description="Oud BV",
        state=JobState.FAILED,
        last_error="Oude fout, zoals ze toen geschreven werd.",
        created_by=otto,
    )
    client.force_login(otto)
    page = client.get(reverse("tenants:job", args=[job.pk])).content.decode()
    assert "Oude fout, zoals ze toen geschreven werd." in page
