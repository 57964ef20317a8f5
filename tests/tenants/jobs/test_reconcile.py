"""Mirror reconciliation against the sandbox: drift found with the fewest calls, actions."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from tenants import mirror, reconcile, tasks
from tenants.models import Tenant
from tenants.models.jobs import ReconcileReport
from tests.conftest import after_commit_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def drift(on_sandbox):
    """150 remote tenants; the mirror misses two, has one unknown remotely, one differs."""
    on_sandbox.configure(rate_per_minute=0, rate_per_hour=0)
    for i in range(150):
        response = on_sandbox.admin(
            "POST", "/api/admin/tenants", json={"name": f"t-{i:03d}", "description": f"T {i}"}
        )
        assert response.status_code == 201
    remote = on_sandbox.admin("GET", "/api/admin/tenants", params={"limit": 1000}).json()
    for r in remote["tenants"][2:]:
        mirror.mirror_tenant(r)
    Tenant.objects.filter(name="t-010").update(description="Local edit")
    Tenant.objects.create(remote_id="tenant_gone", name="gone")
    return on_sandbox


def test_it_reports_every_kind_of_drift_in_ceil_n_over_100_calls(drift):
    before = len(drift.requests())

    report = reconcile.run()

    calls = drift.requests()[before:]
    assert report.state == ReconcileReport.STATE_DONE
    assert [(c["method"], c["path"], c["query"]) for c in calls] == [
        ("GET", "/api/admin/tenants", "skip=0&limit=100"),
        ("GET", "/api/admin/tenants", "skip=100&limit=100"),
    ]
    assert report.calls == 2 and report.remote_count == 150 and report.local_count == 149
    kinds = sorted((i["kind"], i["name"]) for i in report.items)
    assert kinds == [
        ("different", "t-010"),
        ("local_only", "gone"),
        ("remote_only", "t-000"),
        ("remote_only", "t-001"),
    ]
    different = next(i for i in report.items if i["kind"] == "different")
    assert different["diffs"] == {"description": ["Local edit", "T 10"]}


def test_it_uses_one_call_when_there_is_no_tenant(on_sandbox):
    assert reconcile.run().calls == 1


def test_it_applies_the_chosen_action_once(drift, alice):
    report = reconcile.run()
    index = {i["name"]: n for n, i in enumerate(report.items)}

    reconcile.resolve(report, index["t-000"], "adopt", user=alice)
    reconcile.resolve(report, index["gone"], "mark_deleted", user=alice)
    reconcile.resolve(report, index["t-010"], "push", user=alice)

    assert Tenant.objects.filter(name="t-000").exists()
    assert Tenant.objects.get(name="gone").is_deleted
    pushed = drift.admin("GET", f"/api/admin/tenants/{Tenant.objects.get(name='t-010').remote_id}")
    assert pushed.json()["description"] == "Local edit"
    with pytest.raises(reconcile.ActionRefused):
        reconcile.resolve(report, index["t-000"], "adopt", user=alice)
    with pytest.raises(reconcile.ActionRefused):
        reconcile.resolve(report, index["t-001"], "mark_deleted", user=alice)
    report.refresh_from_db()
    assert sorted(i.get("resolved", "") for i in report.items) == [
        "",
        "adopt",
        "mark_deleted",
        "push",
    ]
    # The next comparison finds only what was left.
    assert [i["name"] for i in reconcile.run().items] == ["t-001"]


def test_it_shows_the_last_report_with_actions_for_admins_only(client, drift, alice, otto):
    report = reconcile.run()
    client.force_login(otto)
    page = client.get(reverse("tenants:sync")).content.decode()
    assert "only on e-invoice.be" in page and "fields differ" in page
    assert 'value="adopt"' not in page
    url = reverse("tenants:sync_action", args=[report.pk, 0])
    assert client.post(url, {"action": "adopt"}).status_code == 403

    client.force_login(alice)
    page = client.get(reverse("tenants:sync")).content.decode()
    assert 'value="adopt"' in page and 'value="push"' in page and 'value="mark_deleted"' in page


def test_it_starts_a_comparison_after_the_commit(client, otto, django_capture_on_commit_callbacks):
    client.force_login(otto)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("tenants:sync_run"))
    assert response.status_code == 302 and len(after_commit_tasks(callbacks)) == 1
    page = client.get(reverse("tenants:sync")).content.decode()
    assert "Comparing" in page and 'hx-trigger="every 2s"' in page


def test_it_says_what_each_action_did_in_the_screens_words(client, drift, alice, otto):
    report = reconcile.run()
    index = {i["name"]: n for n, i in enumerate(report.items)}
    client.force_login(alice)
    page = client.get(reverse("tenants:sync")).content.decode()
    assert "<strong>Company name</strong>" in page  # not "description"
    assert "data-confirm=" in page  # marking deleted asks first
    assert "(2 API calls)" in page

    response = client.post(
        reverse("tenants:sync_action", args=[report.pk, index["t-000"]]),
        {"action": "adopt"},
        follow=True,
    )

    page = response.content.decode()
    assert "t-000 is now in the portal." in page
    assert "adopted" in page and "alice" in page
    tenant = Tenant.objects.get(name="t-000")
    assert f'href="{reverse("tenants:tenant_detail", args=[tenant.pk])}"' in page
    client.force_login(otto)
    assert (
        "An administrator resolves these differences."
        in client.get(reverse("tenants:sync")).content.decode()
    )


# --- beyond one share of the quota: paged across minutes, resumable (issue 16) -------------
def _minute_passes(report: ReconcileReport) -> None:
    """The sync's calls leave its minute window (as if a minute went by)."""
    report.refresh_from_db()
    report.call_times = [t - 61 for t in report.call_times]
    ReconcileReport.objects.filter(pk=report.pk).update(
        call_times=report.call_times, next_page_at=None
    )


@pytest.fixture
def small_share(settings):
    settings.EINVOICE_RATE_PER_MINUTE = 100
    settings.SYNC_QUOTA_SHARE = 0.02  # two calls a minute for the sync, 98 for onboarding


def list_calls(sandbox, before: int) -> list[str]:
    return [c["query"] for c in sandbox.requests()[before:] if c["path"] == "/api/admin/tenants"]


def test_it_stops_at_its_share_of_the_quota_and_goes_on_from_its_position(
    drift, small_share, django_capture_on_commit_callbacks
):
    for i in range(150, 350):
        drift.admin("POST", "/api/admin/tenants", json={"name": f"t-{i:03d}"})
    before = len(drift.requests())
    with mock.patch.object(tasks.reconcile_mirror, "apply_async") as later:
        with django_capture_on_commit_callbacks(execute=True):
            report = reconcile.run()
    assert report.state == ReconcileReport.STATE_RUNNING
    assert (report.calls, report.position, report.remote_total) == (2, 200, 350)
    assert report.next_page_at is not None and report.lease_until is None
    # It comes back when its share frees a call, in a task of its own: no worker waits.
    assert later.call_args.args == ((report.pk,),)
    assert 0 < later.call_args.kwargs["countdown"] <= 61

    assert reconcile.run(report.pk).state == ReconcileReport.STATE_RUNNING  # not yet
    _minute_passes(report)
    report = reconcile.run(report.pk)

    assert report.state == ReconcileReport.STATE_DONE and report.calls == 4
    assert list_calls(drift, before) == [
        "skip=0&limit=100",
        "skip=100&limit=100",
        "skip=200&limit=100",
        "skip=300&limit=100",
    ]
    assert sorted((i["kind"], i["name"]) for i in report.items) == [
        ("different", "t-010"),
        ("local_only", "gone"),
        *[("remote_only", f"t-{i:03d}") for i in (0, 1, *range(150, 350))],
    ]


def test_it_resumes_a_killed_sync_at_the_page_it_had_reached(drift, small_share):
    for i in range(150, 350):
        drift.admin("POST", "/api/admin/tenants", json={"name": f"t-{i:03d}"})
    report = reconcile.run()  # pages 1 and 2, then it waits for its share
    _minute_passes(report)
    # Its next run died mid-page: the lease it took is all that is left of it.
    ReconcileReport.objects.filter(pk=report.pk).update(
        lease_until=timezone.now() + timedelta(seconds=30)
    )
    with mock.patch.object(tasks.reconcile_mirror, "delay") as send:
        assert reconcile.resume_due() == 0  # the lease still holds
        assert reconcile.run(report.pk).calls == 2  # a duplicate task does nothing
        ReconcileReport.objects.filter(pk=report.pk).update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
        assert reconcile.resume_due() == 1
    before = len(drift.requests())

    report = reconcile.run(*send.call_args.args)

    assert list_calls(drift, before) == ["skip=200&limit=100", "skip=300&limit=100"]
    assert report.state == ReconcileReport.STATE_DONE and report.calls == 4
    assert report.remote_count == 350 and len(report.items) == 204


def test_it_shows_how_far_a_sync_has_come_and_when_it_goes_on(client, drift, small_share, alice):
    for i in range(150, 350):
        drift.admin("POST", "/api/admin/tenants", json={"name": f"t-{i:03d}"})
    report = reconcile.run()
    client.force_login(alice)

    page = client.get(reverse("tenants:sync")).content.decode()

    assert "200 of 350 tenants on e-invoice.be compared (2 API calls)." in page
    assert '<progress max="100" value="57"' in page
    assert "uses at most 2 % of the API quota" in page
    assert 'hx-trigger="every 2s"' in page
    assert 'value="adopt"' not in page  # no action on a list still being made
    with pytest.raises(reconcile.ActionRefused):
        reconcile.resolve(report, 0, "adopt", user=alice)


def test_it_does_not_start_a_second_sync_while_one_runs(client, otto):
    client.force_login(otto)
    client.post(reverse("tenants:sync_run"))
    client.post(reverse("tenants:sync_run"))
    assert ReconcileReport.objects.count() == 1
