"""Cancelling a running bulk action: the tenants not yet processed are left alone, the one in
flight finishes its step, the page says what was done and what was cancelled."""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from core.models import AuditEntry
from jobs import runner
from jobs.models import JobState
from tenants import bulk_actions
from tenants.models import BulkAction, BulkItem, BulkKind, Tenant
from tests.tenants.jobs.test_bulk_actions import _fleet

pytestmark = pytest.mark.django_db


def _started(kind: str, tenants: list[Tenant], user, params: dict | None = None) -> BulkAction:
    action, _plan = bulk_actions.preview(kind, [t.pk for t in tenants], params or {}, user=user)
    assert bulk_actions.start(action, user=user) == len(tenants)
    return action


def _policy(fleet: list[Tenant]) -> list[int | None]:
    return [t.rotation_days for t in Tenant.objects.filter(pk__in=[t.pk for t in fleet])]


def test_it_cancels_the_tenants_not_yet_processed_and_the_one_in_flight_finishes(
    on_sandbox, otto, client
):
    fleet = _fleet(4)
    before = _policy(fleet)
    action = _started(BulkKind.POLICY, fleet, otto, {"rotation_days": 30})
    client.force_login(otto)
    page_url = reverse("tenants:bulk_action", args=[action.pk])
    cancel_url = reverse("tenants:bulk_action_cancel", args=[action.pk])
    page = client.get(page_url).content.decode()
    assert 'id="bulk-action-cancel"' in page and f'action="{cancel_url}"' in page
    assert "data-confirm=" in page
    first, in_flight, *rest = BulkItem.objects.filter(action=action).order_by("id")
    bulk_actions.run(first.pk)

    real = bulk_actions.RUNS[BulkKind.POLICY]
    seen = {}

    def step_cancelled_half_way(item, actor):
        seen["response"] = client.post(cancel_url, {"confirmed": "1"})
        seen["page"] = client.get(page_url).content.decode()
        return real(item, actor)

    with mock.patch.dict(bulk_actions.RUNS, {BulkKind.POLICY: step_cancelled_half_way}):
        bulk_actions.run(in_flight.pk)
        assert [bulk_actions.run(item.pk) for item in rest] == [None, None]  # nothing to claim

    assert seen["response"].status_code == 302
    assert "1 tenant in progress is finishing its step." in seen["page"]
    in_flight.refresh_from_db()
    assert (
        in_flight.state == JobState.SUCCEEDED and in_flight.outcome == "keys rotate every 30 days"
    )
    assert in_flight.cancelled_at is None
    for item in rest:
        item.refresh_from_db()
        assert item.state == JobState.SUCCEEDED and item.cancelled_at and not item.outcome
    assert _policy(fleet) == [30, 30, *before[2:]]

    response = client.get(page_url)
    page = response.content.decode()
    assert "2 of 4 done, 0 failed. 2 cancelled." in page
    assert page.count('data-state="cancelled"') == 2
    assert "Cancelled by otto" in page and 'id="bulk-action-cancel"' not in page
    assert "hx-trigger" not in page  # finished: no more polling
    entry = AuditEntry.objects.get(action="tenant.bulk_cancel")
    assert entry.actor == "otto" and entry.target == f"bulk action #{action.pk}"
    assert entry.changes == {"cancelled": [None, 2], "finishing": [None, 1]}

    page = client.post(cancel_url, {"confirmed": "1"}, follow=True).content.decode()
    assert "Nothing to cancel" in page
    assert AuditEntry.objects.filter(action="tenant.bulk_cancel").count() == 1
    listed = client.get(reverse("tenants:bulk_list")).content.decode()
    assert "<td>2</td><td>0</td><td>0</td><td>2</td><td>0</td>" in listed


def test_it_lets_no_cancelled_item_run_that_a_worker_claimed_just_before(on_sandbox, otto):
    fleet = _fleet(1)
    before = _policy(fleet)
    action = _started(BulkKind.POLICY, fleet, otto, {"rotation_days": 30})
    (item,) = BulkItem.objects.filter(action=action)
    claimed = runner.claim(BulkItem, item.pk)  # the worker's claim won the race
    assert bulk_actions.cancel(action, user=otto) == 0
    runner.execute(claimed, bulk_actions.run_item)  # its step has not begun: no call
    item.refresh_from_db()
    assert item.state == JobState.SUCCEEDED and item.cancelled_at is not None
    assert _policy(fleet) == before


def test_it_finishes_a_step_that_began_before_the_cancel(on_sandbox, otto):
    fleet = _fleet(1)
    action = _started(BulkKind.POLICY, fleet, otto, {"rotation_days": 30})
    (item,) = BulkItem.objects.filter(action=action)
    # Its first run sent a call and met a timeout: it waits to retry, and the change may
    # have been half-made, so cancelling must let it finish.
    BulkItem.objects.filter(pk=item.pk).update(state=JobState.WAITING, step_attempts=1)
    assert bulk_actions.cancel(action, user=otto) == 0
    bulk_actions.run(item.pk)
    item.refresh_from_db()
    assert item.state == JobState.SUCCEEDED and item.cancelled_at is None
    assert _policy(fleet) == [30]


def test_it_asks_first_and_lets_only_those_who_may_run_the_action_cancel_it(
    on_sandbox, alice, otto, client
):
    fleet = _fleet(2)
    action = _started(BulkKind.DELETE, fleet, alice)
    cancel_url = reverse("tenants:bulk_action_cancel", args=[action.pk])
    client.force_login(otto)  # an operator: deleting is for admins, so is stopping it
    assert client.get(cancel_url).status_code == 403
    assert client.post(cancel_url, {"confirmed": "1"}).status_code == 403

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(alice)
    page = csrf_client.get(cancel_url).content.decode()  # without JavaScript: the question
    assert f"Cancel bulk action #{action.pk}?" in page and "Keep it running" in page
    assert csrf_client.post(cancel_url, {"confirmed": "1"}).status_code == 403  # no token
    assert not BulkAction.objects.filter(cancelled_at__isnull=False).exists()

    client.force_login(alice)
    page = client.post(cancel_url, {"confirmed": "1"}, follow=True).content.decode()
    assert "Cancelled: 2 tenants not yet processed are left alone." in page
    assert not Tenant.objects.filter(is_deleted=True).exists()


def test_it_offers_no_cancel_before_the_action_runs(otto, acme, client):
    action, _plan = bulk_actions.preview(
        BulkKind.POLICY, [acme.pk], {"rotation_days": 30}, user=otto
    )
    client.force_login(otto)
    page = client.get(reverse("tenants:bulk_action", args=[action.pk])).content.decode()
    assert 'id="bulk-action-cancel"' not in page
    assert bulk_actions.cancel(action, user=otto) is None
    assert not AuditEntry.objects.filter(action="tenant.bulk_cancel").exists()
