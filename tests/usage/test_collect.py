"""Usage collection end to end against the sandbox: /api/stats and /api/me of each tenant with
its own key, stored as daily rows, drawn on the dashboard, the tenant page and the list."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from invoices.models import Direction, Document, State
from jobs.models import JobState
from tenants.models import ApiKey, Tenant
from tests.usage.conftest import fleet_on_sandbox, utc_today
from usage import collect
from usage.models import FleetDay, Problem, UsageCollection, UsageDay


def _stats_calls(sandbox, since: int = 0) -> list[dict]:
    return [r for r in sandbox.requests(since) if r["path"] in ("/api/stats", "/api/me/")]


def _row_of(html: str, table_of: str, day_label: str) -> list[str]:
    """The cells of the row for `day_label` in the table behind chart `table_of`."""
    figure = html.split(f'id="{table_of}-h"', 1)[1].split("</figure>", 1)[0]
    for row in re.findall(r"<tr>(.*?)</tr>", figure, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        if cells and cells[0] == day_label:
            return cells
    raise AssertionError(f"no row {day_label!r} in {table_of}")


def test_it_collects_fifty_tenants_and_fills_the_charts(usage_sandbox, as_alice):
    made = fleet_on_sandbox(usage_sandbox, 50)
    for tenant, remote in made[:5]:
        usage_sandbox.register(remote["id"], f"0208:{1000000000 + tenant.pk}", "Usage BV")
    first = made[0][0]
    Document.objects.create(
        tenant=first,
        invoice_id="INV-F",
        direction=Direction.OUTBOUND,
        state=State.FAILED,
        state_changed_at=timezone.now(),
    )
    mark = usage_sandbox.requests()[-1]["seq"]

    assert collect.collect_due() == 50

    assert len(_stats_calls(usage_sandbox, mark)) == 100  # /api/me and /api/stats each, once
    today = utc_today()
    # 1 + 2 + … + 50 sent and 50 received every day; one FAILED today.
    fleet_today = FleetDay.objects.get(day=today)
    assert (fleet_today.sent, fleet_today.received, fleet_today.failed) == (1275, 50, 1)
    assert fleet_today.credit_balance == 1000 * 1275
    assert UsageDay.objects.filter(tenant=made[9][0]).count() == 10

    page = as_alice.get(reverse("tenants:dashboard")).content.decode()
    label = today.strftime("%a %-d %b %Y")
    assert _row_of(page, "chart-documents", label) == [label, "1275", "50", "1"]
    assert "12750 sent, 500 received, 1 failed" in page  # the chart's description
    assert _row_of(page, "chart-registrations", label) == [label, "5"]
    assert _row_of(page, "chart-credit", label) == [label, "1275000"]
    assert '<svg class="chart" id="chart-documents"' in page

    detail = as_alice.get(reverse("tenants:tenant_detail", args=[made[2][0].pk])).content.decode()
    assert _row_of(detail, "chart-tenant-documents", label) == [label, "3", "1", "0"]
    assert "3,000" in detail or "3.000" in detail  # its credit balance
    listed = as_alice.get(reverse("tenants:tenant_list"), {"q": "usage-00"}).content.decode()
    assert 'aria-label="40 documents in the last 30 days"' in listed  # usage-002: (3 + 1) × 10


def test_a_second_run_waits_for_each_tenants_slot_and_reads_only_recent_days(
    usage_sandbox, settings
):
    fleet_on_sandbox(usage_sandbox, 3)
    collect.collect_due()
    rows = list(UsageCollection.objects.all())
    assert {r.state for r in rows} == {JobState.WAITING}
    now = timezone.now()
    slots = [r.next_attempt_at for r in rows]
    assert all(
        now < s <= now + timedelta(seconds=settings.USAGE_COLLECT_PERIOD_SECONDS) for s in slots
    )
    assert len({s.replace(microsecond=0) for s in slots}) == 3  # spread, not all at once
    mark = usage_sandbox.requests()[-1]["seq"]
    assert collect.collect_due() == 0
    assert _stats_calls(usage_sandbox, mark) == []


def test_it_keeps_to_its_pace(usage_sandbox, settings):
    fleet_on_sandbox(usage_sandbox, 7)
    settings.USAGE_CALLS_PER_MINUTE = 6  # three tenants a minute
    assert collect.collect_due() == 3
    assert collect.collect_due() == 3
    assert collect.collect_due() == 1


def test_a_revoked_key_is_reported_once_and_not_retried(usage_sandbox, as_alice):
    (tenant, remote), (other, _) = fleet_on_sandbox(usage_sandbox, 2)
    key = ApiKey.objects.get(tenant=tenant)
    keys = usage_sandbox.admin("GET", f"/api/admin/tenants/{remote['id']}/api-keys").json()
    for k in keys["api_keys"]:
        usage_sandbox.admin("DELETE", f"/api/admin/tenants/{remote['id']}/api-keys/{k['id']}")
    collect.collect_due()

    usage = UsageCollection.objects.get(tenant=tenant)
    assert (usage.state, usage.problem, usage.problem_key_id) == (
        JobState.FAILED,
        Problem.KEY_REFUSED,
        key.pk,
    )
    assert UsageCollection.objects.get(tenant=other).problem == Problem.NONE
    page = as_alice.get(reverse("tenants:tenant_detail", args=[tenant.pk])).content.decode()
    assert "Usage is not collected" in page and "refused the API key" in page
    dashboard = as_alice.get(reverse("tenants:dashboard"))
    needs = {str(label): (n, url) for label, n, url in dashboard.context["needs"]}
    count, url = needs["Usage not collected: key missing or refused"]
    assert count == 1
    listed = as_alice.get(url).context["page"].object_list
    assert [t.name for t in listed] == [tenant.name]

    UsageCollection.objects.update(next_attempt_at=timezone.now())  # whatever is due runs
    mark = usage_sandbox.requests()[-1]["seq"]
    collect.collect_due()
    tried = [r for r in _stats_calls(usage_sandbox, mark) if r.get("tenant_id") == remote["id"]]
    assert tried == []
    assert UsageCollection.objects.get(tenant=tenant).state == JobState.FAILED


def test_a_tenant_without_a_key_is_reported_and_runs_again_with_a_new_key(usage_sandbox):
    ((tenant, remote),) = fleet_on_sandbox(usage_sandbox, 1)
    held = ApiKey.objects.get(tenant=tenant)
    value = held.reveal_value()
    ApiKey.objects.filter(pk=held.pk).update(is_current=False, revoked_at=timezone.now())
    collect.collect_due()
    usage = UsageCollection.objects.get(tenant=tenant)
    assert (usage.state, usage.problem) == (JobState.FAILED, Problem.NO_KEY)

    fresh = ApiKey(tenant=tenant, remote_id="key-new", name="new", is_current=True)
    fresh.set_value(value)  # the sandbox still accepts it: a new key as far as the portal knows
    fresh.save()
    assert collect.collect_due() == 1
    usage.refresh_from_db()
    assert (usage.state, usage.problem, usage.credit_balance) == (JobState.WAITING, "", 1000)


@pytest.mark.parametrize("deleted", [True])
def test_deleted_tenants_are_not_collected(usage_sandbox, deleted):
    ((tenant, _),) = fleet_on_sandbox(usage_sandbox, 1)
    Tenant.objects.filter(pk=tenant.pk).update(is_deleted=deleted)
    assert collect.collect_due() == 0
    assert not UsageCollection.objects.exists()
