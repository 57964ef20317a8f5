"""Mirror reconciliation against the sandbox: drift found with the fewest calls, actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tenants import services
from tenants.jobs import reconcile
from tenants.models import Tenant
from tenants.models.jobs import ReconcileReport

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
        services.mirror_tenant(r)
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
    assert response.status_code == 302 and len(callbacks) == 1
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
