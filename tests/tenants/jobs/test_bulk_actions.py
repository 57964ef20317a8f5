"""Bulk actions against the sandbox: Otto previews a "register on Peppol" for tenants chosen in
the list, runs it, and the items go out as jobs within the shared Admin API quota."""

from __future__ import annotations

from unittest import mock

import pytest
from django.utils import timezone

from core.models import AuditEntry
from einvoice import quota as ratelimit
from jobs import dispatcher
from jobs.models import JobState
from tenants import bulk_actions, mirror, tasks
from tenants.models import BulkAction, BulkItem, BulkKind, Tenant
from tests.tenants.jobs.conftest import admin_calls, customer

pytestmark = pytest.mark.django_db


def _fleet(n: int) -> list[Tenant]:
    """n tenants created on the sandbox (and mirrored), none registered on Peppol."""
    tenants = [mirror.create_tenant(customer(i), "system") for i in range(n)]
    ratelimit.reset()  # their creation is not the bulk action's quota
    return tenants


def _drain(committed, max_rounds: int = 40) -> list[int]:
    """Feed the items to 'workers' (this process) as the dispatcher releases them; returns
    how many the dispatcher released in each round, until none is left to run."""
    rounds = []
    with mock.patch.object(tasks.run_bulk_item, "delay") as delay:
        for _ in range(max_rounds):
            delay.reset_mock()
            committed(dispatcher.dispatch)
            released = [c.args[0] for c in delay.call_args_list]
            if not released:
                if not BulkItem.objects.filter(state__in=["queued", "waiting"]).exists():
                    break
                ratelimit.reset()  # the quota's window has passed
                BulkItem.objects.filter(state="waiting").update(next_attempt_at=timezone.now())
                rounds.append(0)
                continue
            for pk in released:
                bulk_actions.run(pk)
            rounds.append(len(released))
    return rounds


def test_it_registers_twenty_chosen_tenants_within_the_quota(
    on_sandbox, otto, client, settings, django_capture_on_commit_callbacks
):
    fleet = _fleet(22)
    settings.EINVOICE_RATE_PER_MINUTE = 10
    settings.EINVOICE_RATE_PER_HOUR = 1000
    Tenant.objects.filter(pk=fleet[20].pk).update(test_mode=True)
    Tenant.objects.filter(pk=fleet[21].pk).update(peppol_id="")
    client.force_login(otto)

    response = client.post(
        "/staff/tenants/bulk/",
        {"action": BulkKind.REGISTER, "tenant": [t.pk for t in fleet], "query": ""},
    )
    action = BulkAction.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/staff/tenants/bulk/{action.pk}/"
    )
    page = client.get(response["Location"]).content.decode()
    assert "20 will be registered on Peppol" in page and "2 skipped" in page
    assert "1 skipped because: test mode" in page and "1 skipped because: no Peppol ID" in page
    assert admin_calls(on_sandbox)[-1]["method"] == "POST"  # the preview sent nothing new
    before = len(admin_calls(on_sandbox))

    def committed(fn, *args):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args)

    with mock.patch.object(tasks.dispatch_jobs, "delay"):
        response = client.post(f"/staff/tenants/bulk/{action.pk}/run/")
    assert response.status_code == 302
    assert BulkItem.objects.filter(action=action).count() == 20

    rounds = _drain(committed)

    # 10 calls a minute and 2 budgeted per registration: never more than 5 at once.
    assert max(rounds) <= 5 and sum(rounds) == 20
    calls = admin_calls(on_sandbox)[before:]
    assert len([c for c in calls if c["path"].endswith("/register")]) == 20
    items = list(BulkItem.objects.filter(action=action).select_related("tenant"))
    assert {i.state for i in items} == {JobState.SUCCEEDED}, items[0].last_error
    assert all(i.outcome == f"registered as {i.tenant.peppol_id}" for i in items)
    assert Tenant.objects.filter(peppol__registered=True).count() == 20

    page = client.get(f"/staff/tenants/bulk/{action.pk}/").content.decode()
    assert "20 of 20 done, 0 failed." in page and "hx-trigger" not in page
    assert page.count('data-state="succeeded"') == 20 and page.count('data-state="skipped"') == 2
    assert AuditEntry.objects.filter(action="tenant.bulk_register").count() == 1
    assert AuditEntry.objects.filter(action="peppol.register", actor="otto").count() == 20
    listed = client.get("/staff/tenants/bulk/history/").content.decode()
    assert f'data-action="{action.pk}"' in listed and "Register on Peppol" in listed


def test_a_second_run_of_the_same_preview_queues_nothing(on_sandbox, otto):
    fleet = _fleet(2)
    action, plan = bulk_actions.preview(BulkKind.REGISTER, [t.pk for t in fleet], {}, user=otto)
    assert len(plan.to_run) == 2
    assert bulk_actions.start(action, user=otto) == 2
    assert bulk_actions.start(action, user=otto) == 0
    other, plan = bulk_actions.preview(BulkKind.REGISTER, [t.pk for t in fleet], {}, user=otto)
    assert plan.to_run == [] and {r for _t, r in plan.skipped} == {
        f"already queued in bulk action #{action.pk}"
    }


def test_an_item_that_fails_says_why_and_the_others_go_on(on_sandbox, otto, alice):
    fleet = _fleet(2)
    mirror.delete_tenant(fleet[0], "system")  # deleted after the preview, on e-invoice.be
    action, plan = bulk_actions.preview(BulkKind.ROTATE, [t.pk for t in fleet], {}, user=alice)
    assert [r for _t, r in plan.skipped] == ["deleted", "no current key"]

    action, plan = bulk_actions.preview(
        BulkKind.POLICY, [t.pk for t in fleet], {"rotation_days": 30}, user=otto
    )
    assert [t.pk for t in plan.to_run] == [fleet[1].pk]
    bulk_actions.start(action, user=otto)
    item = BulkItem.objects.get(action=action)
    bulk_actions.run(item.pk)
    item.refresh_from_db()
    fleet[1].refresh_from_db()
    assert item.state == JobState.SUCCEEDED and item.outcome == "keys rotate every 30 days"
    assert fleet[1].rotation_days == 30
    assert AuditEntry.objects.filter(action="key.rotation_policy", actor="otto").count() == 1


def _run_all(action: BulkAction) -> list[BulkItem]:
    for item in BulkItem.objects.filter(action=action):
        bulk_actions.run(item.pk)
    return list(BulkItem.objects.filter(action=action).select_related("tenant"))


def test_invitations_and_key_links_go_to_the_contact_of_the_csv_row(
    on_sandbox, client, alice, mailoutbox
):
    from tests.tenants.jobs.test_bulk_handover import _onboarded_batch

    client.force_login(alice)
    batch = _onboarded_batch(client, ["finance@first.example", ""])
    with_email, without = (j.tenant for j in batch.jobs.order_by("row_number"))
    ids = [with_email.pk, without.pk]

    action, plan = bulk_actions.preview(BulkKind.INVITE, ids, {"language": "nl"}, user=alice)
    assert [t.pk for t in plan.to_run] == [with_email.pk]
    assert [r for _t, r in plan.skipped] == ["no contact email and no pending invitation"]
    bulk_actions.start(action, user=alice)
    (item,) = _run_all(action)
    assert item.state == JobState.SUCCEEDED and item.outcome == "invited finance@first.example"
    assert [m.to for m in mailoutbox] == [["finance@first.example"]]

    # A second time: the login is pending, so its invitation goes again.
    action, plan = bulk_actions.preview(BulkKind.INVITE, ids, {"language": "nl"}, user=alice)
    bulk_actions.start(action, user=alice)
    (item,) = _run_all(action)
    assert item.outcome == "invitation sent again to finance@first.example"

    action, plan = bulk_actions.preview(BulkKind.KEY_LINK, ids, {"language": "en"}, user=alice)
    assert [r for _t, r in plan.skipped] == ["no contact email"]
    bulk_actions.start(action, user=alice)
    (item,) = _run_all(action)
    assert item.outcome == "key link sent to finance@first.example"
    body = mailoutbox[-1].body
    assert with_email.current_key().reveal_value() not in body  # a link, never the key
    assert AuditEntry.objects.filter(action="key.handover_send", actor="alice").count() == 1


def test_an_admin_deletes_many_tenants_and_a_deleted_one_is_skipped(on_sandbox, alice, otto):
    fleet = _fleet(3)
    mirror.delete_tenant(fleet[2], "system")
    action, plan = bulk_actions.preview(BulkKind.DELETE, [t.pk for t in fleet], {}, user=alice)
    assert [r for _t, r in plan.skipped] == ["already deleted"]
    bulk_actions.start(action, user=alice)
    items = _run_all(action)
    assert [i.outcome for i in items] == ["deleted", "deleted"]
    assert Tenant.objects.filter(is_deleted=True).count() == 3
    remote = on_sandbox.admin("GET", "/api/admin/tenants").json()["tenants"]
    assert [t["is_deleted"] for t in remote] == [True, True, True]
