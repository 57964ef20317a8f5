"""The audit screens with careless input, and the signed checkpoint staff can download."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from core import audit


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
