"""The tenant list for work on many tenants: Otto exports the current filter (CSV and XLSX),
filters by key age, and finds every CSV batch in its history."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from tenants.models import ApiKey, BulkAction
from tenants.models.jobs import BulkOnboarding
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(acme, globex):
    make_tenant("evil", '=HYPERLINK("http://x")', "0203201340")
    ApiKey.objects.create(
        tenant=acme,
        remote_id="k1",
        name="old",
        is_current=True,
        created_at=timezone.now() - timedelta(days=200),
    )
    ApiKey.objects.create(tenant=globex, remote_id="k2", name="new", is_current=True)
    return acme, globex


def test_it_exports_the_filter_as_csv_with_dangerous_cells_escaped(client, otto, fleet):
    client.force_login(otto)
    response = client.get("/staff/tenants/export.csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["name"] for r in rows] == ["acme", "evil", "globex"]
    assert rows[1]["company_name"] == '\'=HYPERLINK("http://x")'
    assert "encrypted" not in body and "k1" not in body

    response = client.get("/staff/tenants/export.csv?key_age=180")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["name"] for r in rows] == ["acme"]


def test_the_export_follows_the_credit_filter_and_says_the_credit(client, otto, fleet):
    from usage.models import UsageCollection

    acme, globex = fleet
    UsageCollection.objects.create(tenant=acme, credit_balance=0, budget_estimation_days=0)
    UsageCollection.objects.create(
        tenant=globex, credit_balance=900, average_daily_usage=3, budget_estimation_days=300
    )
    client.force_login(otto)
    response = client.get("/staff/tenants/export.csv?credit=0")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["name"], r["credit_balance"]) for r in rows] == [("acme", "0")]
    response = client.get("/staff/tenants/export.csv")
    rows = {
        r["name"]: r
        for r in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    }
    assert rows["globex"]["credit_days_left"] == "300.0" and rows["evil"]["credit_balance"] == ""


def test_it_exports_the_filter_as_xlsx(client, otto, fleet):
    client.force_login(otto)
    response = client.get("/staff/tenants/export.xlsx?key_age=none")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.values)
    assert values[0][0] == "name" and [v[0] for v in values[1:]] == ["evil"]
    cell = sheet.cell(row=2, column=2)
    assert cell.data_type == "s" and cell.value.startswith("'=")


def test_a_bulk_action_without_tenants_or_days_shows_the_errors_on_their_fields(
    client, otto, fleet
):
    client.force_login(otto)
    response = client.post("/staff/tenants/bulk/", {"action": "policy", "query": "q=ac"})
    page = response.content.decode()
    assert response.status_code == 400 and BulkAction.objects.count() == 0
    assert 'id="id_tenant_error"' in page and "Choose at least one tenant" in page
    assert 'id="id_rotation_days_error"' in page
    response = client.post("/staff/tenants/bulk/", {"action": "delete", "all_matching": "on"})
    assert "Only a reseller admin can do this." in response.content.decode()


def test_all_matching_the_filter_previews_every_tenant_of_the_filter(client, otto, fleet):
    client.force_login(otto)
    response = client.post(
        "/staff/tenants/bulk/",
        {"action": "policy", "rotation_days": "45", "all_matching": "on", "query": "key_age=180"},
    )
    action = BulkAction.objects.get()
    assert response.status_code == 302 and action.tenant_ids == [fleet[0].pk]
    assert "1 will get the new rotation policy" in client.get(response["Location"]).content.decode()


def test_the_batch_history_lists_batches_and_takes_corrected_rows(client, otto, tmp_path):
    client.force_login(otto)
    good, bad = "0403170701", "0403170702"
    upload = io.BytesIO(f"company_name,company_number\nGood BV,{good}\nTypo BV,{bad}\n".encode())
    upload.name = "customers.csv"
    client.post("/staff/onboard/csv/", {"file": upload})
    batch = BulkOnboarding.objects.get()

    page = client.get("/staff/onboard/csv/history/").content.decode()
    assert "customers.csv" in page and "otto" in page
    assert f"/staff/onboard/csv/{batch.pk}/results.csv" in page

    to_fix = client.get(f"/staff/onboard/csv/{batch.pk}/corrections/").content.decode()
    assert to_fix.splitlines()[1].startswith("Typo BV,") and "Good BV" not in to_fix
    fixed = io.BytesIO(to_fix.replace(bad, "0417497106").encode())
    fixed.name = "fixed.csv"
    response = client.post(f"/staff/onboard/csv/{batch.pk}/corrections/", {"file": fixed})
    correction = BulkOnboarding.objects.exclude(pk=batch.pk).get()
    assert response.status_code == 302 and correction.corrects == batch
    assert len(correction.rows) == 1 and correction.valid_rows
    page = client.get("/staff/onboard/csv/history/").content.decode()
    assert "corrects customers.csv" in page

    response = client.post(f"/staff/onboard/csv/{batch.pk}/corrections/", {})
    assert response.status_code == 400, response.content.decode()[-1500:]
    assert 'id="id_file_error"' in response.content.decode(), response.content.decode()[-1500:]
