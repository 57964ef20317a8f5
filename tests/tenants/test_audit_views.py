"""The audit screens with careless input, and the signed checkpoint staff can download."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from core import audit
from tenants import peppol
from tenants.errors import PeppolUnavailable


@pytest.mark.parametrize(
    "query", ["date_from=0001-01-01", "date_to=9999-12-31", "date_from=1999-12-31"]
)
def test_it_puts_a_far_off_date_on_its_field_instead_of_failing(client, alice, query):
    client.force_login(alice)
    audit.record("tenant.create", user=alice)
    page = client.get(reverse("tenants:audit_list") + "?" + query)
    assert page.status_code == 200
    assert "Pick a date between 2000-01-01 and 2999-12-31." in page.content.decode()


def test_it_exports_with_the_other_filters_when_a_date_is_far_off(client, alice, otto):
    client.force_login(alice)
    audit.record("tenant.create", user=alice)
    audit.record("tenant.create", user=otto)
    response = client.get(
        reverse("tenants:audit_export"), {"date_from": "0001-01-01", "actor": "otto"}
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert [line.split(",")[2] for line in text.strip().splitlines()[1:]] == ["otto"]


def test_it_hands_staff_a_signed_checkpoint_that_verify_accepts(client, alice, tmp_path):
    client.force_login(alice)
    audit.record("tenant.create", user=alice)
    response = client.get(reverse("tenants:audit_checkpoint"))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    point = json.loads(response.content)
    assert point["sequence"] == 1 and len(point["signature"]) == 64
    saved = tmp_path / "checkpoint.json"
    saved.write_bytes(response.content)
    call_command("verify_audit_log", checkpoint=[str(saved)])  # raises if it does not match


def test_it_keeps_the_checkpoint_from_customers(client, carol):
    client.force_login(carol)
    assert client.get(reverse("tenants:audit_checkpoint")).status_code in (403, 404)


@pytest.fixture
def refused_in_dutch(alice, acme):
    """A Peppol registration refused (test mode) while alice read Dutch."""
    acme.test_mode = True
    acme.save()
    with translation.override("nl"), pytest.raises(PeppolUnavailable):
        peppol.register_peppol(acme, alice)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Peppol registration is not available for a tenant in test mode."),
        ("nl", "Peppol-registratie is niet mogelijk voor een tenant in testmodus."),
    ],
)
def test_it_shows_an_audit_error_in_each_readers_language(
    client, alice, otto, refused_in_dutch, lang, expected
):
    client.force_login(otto if lang == "en" else alice)
    client.cookies["django_language"] = lang
    page = client.get(reverse("tenants:audit_list")).content.decode()
    assert expected in page


def test_it_exports_an_audit_error_in_the_downloaders_language_with_its_code(
    client, otto, refused_in_dutch
):
    client.force_login(otto)
    client.cookies["django_language"] = "en"
    response = client.get(reverse("tenants:audit_export"), {"action": "peppol.register"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["error"], r["error_code"]) for r in rows] == [
        (
            "Peppol registration is not available for a tenant in test mode.",
            peppol.NOT_IN_TEST_MODE,
        )
    ]
