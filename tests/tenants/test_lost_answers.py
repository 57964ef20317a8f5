"""The staff screens when e-invoice.be's answer to a write is lost (the sandbox runs the
write and drops the answer): they recover the way the onboarding jobs do. No key stays
live that nobody holds; a tenant the form created is adopted, not called "name taken"."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from core import audit
from core.models import AuditEntry
from tenants import keys, mirror
from tenants.models import ApiKey, Tenant
from tenants.onboarding import steps as onboarding
from tests.tenants.conftest import remote, requests_to
from tests.tenants.jobs.conftest import key_works
from tests.tenants.test_views import BAKKERIJ

LOST_TENANT = {"method": "POST", "path": "/api/admin/tenants", "action": "drop_after_write"}
LOST_KEY = {"method": "POST", "path": "/api/admin/tenants/*/api-keys", "action": "drop_after_write"}


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bakkerij(api, alice):
    return mirror.create_tenant(BAKKERIJ, alice)


def _said(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def _form_errors(response) -> str:
    form = response.context["form"]
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _live_keys(api, tenant: Tenant) -> list[dict]:
    listing = remote(api, f"/api/admin/tenants/{tenant.remote_id}/api-keys")["api_keys"]
    return [k for k in listing if not k["is_deleted"]]


# --- tenants ------------------------------------------------------------------------------
def test_the_form_adopts_the_tenant_it_created_when_the_answer_was_lost(as_alice, api):
    api.set_faults(rules=[LOST_TENANT])

    response = as_alice.post(reverse("tenants:tenant_create"), BAKKERIJ)

    tenant = Tenant.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tenants:tenant_detail", args=[tenant.pk])
    assert "answer was lost" in _said(response)
    (there,) = remote(api, "/api/admin/tenants")["tenants"]
    assert tenant.remote_id == there["id"] and tenant.company_number == "0706165839"
    assert len([r for r in requests_to(api, "POST", "/api/admin/tenants")]) == 1
    entry = AuditEntry.objects.get(action="tenant.adopt")
    assert (entry.actor, entry.outcome, entry.tenant) == ("alice", "success", tenant)


def test_a_second_submit_after_a_lost_answer_adopts_instead_of_name_taken(as_alice, api, settings):
    # The lost answer, and the lookup after it fails as well: the form can only say so.
    settings.EINVOICE_READ_ATTEMPTS = 1
    api.set_faults(
        rules=[LOST_TENANT, {"method": "GET", "path": "/api/admin/tenants", "status": 503}]
    )
    first = as_alice.post(reverse("tenants:tenant_create"), BAKKERIJ)
    assert "may or may not have been made" in _form_errors(first)
    assert not Tenant.objects.exists()

    again = as_alice.post(reverse("tenants:tenant_create"), BAKKERIJ)

    tenant = Tenant.objects.get()
    assert again.status_code == 302, _form_errors(again)
    assert again["Location"] == reverse("tenants:tenant_detail", args=[tenant.pk])
    assert len(remote(api, "/api/admin/tenants")["tenants"]) == 1


def test_another_companys_tenant_of_that_name_is_still_name_taken(as_alice, api):
    api.create_tenant_with_key("bakkerij-van-damme", company_number="0403170701")
    api.set_faults(rules=[{"method": "POST", "path": "/api/admin/tenants", "action": "drop"}])

    response = as_alice.post(reverse("tenants:tenant_create"), BAKKERIJ)

    assert "may or may not have been made" in _form_errors(response)
    again = as_alice.post(reverse("tenants:tenant_create"), BAKKERIJ)
    assert "already used" in _form_errors(again)
    assert not Tenant.objects.exists()


def test_the_form_does_not_adopt_a_tenant_a_live_onboarding_is_creating(as_alice, api, otto):
    job = onboarding.start({**BAKKERIJ}, register_peppol=False, user=otto)
    # The job's create went through; its answer is still on the way.
    api.admin(
        "POST",
        "/api/admin/tenants",
        json={k: v for k, v in mirror.remote_fields(BAKKERIJ).items() if v is not None},
    )

    response = as_alice.post(reverse("tenants:tenant_create"), BAKKERIJ)

    assert response.status_code == 200
    assert f"being onboarded by job #{job.pk}" in _form_errors(response)
    assert not Tenant.objects.exists()


def test_the_form_sends_nothing_for_a_company_a_live_onboarding_will_create(as_alice, api, otto):
    job = onboarding.start({**BAKKERIJ, "name": "bakkerij-vd"}, register_peppol=False, user=otto)

    response = as_alice.post(reverse("tenants:tenant_create"), BAKKERIJ)

    assert f"being onboarded by job #{job.pk}" in _form_errors(response)
    assert requests_to(api, "POST", "/api/admin/tenants") == []


# --- keys ---------------------------------------------------------------------------------
def test_a_new_key_whose_answer_was_lost_is_revoked_and_made_again(as_alice, api, bakkerij):
    api.set_faults(rules=[LOST_KEY])

    response = as_alice.post(
        reverse("tenants:key_create", args=[bakkerij.pk]), {"name": "production"}
    )

    key = ApiKey.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tenants:api_key_reveal", args=[key.pk])
    assert key.is_current and key.name == "production" and key.description == ""
    (live,) = _live_keys(api, bakkerij)
    assert live["id"] == key.remote_id and key_works(api, key.reveal_value())
    everything = remote(api, f"/api/admin/tenants/{bakkerij.remote_id}/api-keys")["api_keys"]
    assert len(everything) == 2  # the orphan, revoked
    revoke = AuditEntry.objects.get(action="key.revoke")
    assert revoke.changes["note"] == [None, "orphan: its answer was lost"]
    assert revoke.actor == "alice"


def test_a_new_key_lost_twice_leaves_no_live_key_and_says_so(as_alice, api, bakkerij):
    api.set_faults(rules=[{**LOST_KEY, "times": 2}])

    response = as_alice.post(
        reverse("tenants:key_create", args=[bakkerij.pk]), {"name": "production"}
    )

    assert response.status_code == 200
    assert "answer was lost 2 times" in _form_errors(response)
    assert _live_keys(api, bakkerij) == []
    assert not ApiKey.objects.exists()


def test_a_key_nobody_holds_is_revoked_by_a_refresh_once_nothing_can_store_it(
    as_alice, api, bakkerij, settings, monkeypatch
):
    # The answer is lost and the key list cannot be read either: the screen says so.
    settings.EINVOICE_READ_ATTEMPTS = 1
    api.set_faults(rules=[LOST_KEY, {"method": "GET", "path": "/api/admin/tenants/*/api-keys"}])
    response = as_alice.post(
        reverse("tenants:key_create", args=[bakkerij.pk]), {"name": "production"}
    )
    assert "Refresh of the tenant in a few minutes revokes it" in _form_errors(response)
    assert len(_live_keys(api, bakkerij)) == 1

    # Just after, a request could still be storing it: the refresh leaves it, never current.
    as_alice.post(reverse("tenants:tenant_refresh", args=[bakkerij.pk]))
    assert len(_live_keys(api, bakkerij)) == 1
    assert bakkerij.current_key() is None
    assert ApiKey.objects.get().is_held is False

    monkeypatch.setattr(keys, "ORPHAN_AGE", timedelta(0))
    as_alice.post(reverse("tenants:tenant_refresh", args=[bakkerij.pk]))

    assert _live_keys(api, bakkerij) == []
    assert ApiKey.objects.get().is_revoked
    assert bakkerij.current_key() is None


def test_a_refresh_keeps_keys_made_elsewhere_and_never_makes_one_current(
    as_alice, api, bakkerij, monkeypatch
):
    monkeypatch.setattr(keys, "ORPHAN_AGE", timedelta(0))
    api.admin("POST", f"/api/admin/tenants/{bakkerij.remote_id}/api-keys", json={"name": "erp"})
    # The mark of another portal on the same organization key is not ours to revoke.
    api.admin(
        "POST",
        f"/api/admin/tenants/{bakkerij.remote_id}/api-keys",
        json={"name": "theirs", "description": "[portal:0123abcd]"},
    )

    as_alice.post(reverse("tenants:tenant_refresh", args=[bakkerij.pk]))

    assert len(_live_keys(api, bakkerij)) == 2
    assert bakkerij.current_key() is None
    assert not ApiKey.objects.filter(revoked_at__isnull=False).exists()
    assert set(ApiKey.objects.values_list("name", "description")) == {
        ("erp", ""),
        ("theirs", ""),
    }


def test_an_answer_without_the_key_value_is_revoked_not_stored(api, bakkerij, alice):
    made = api.admin(
        "POST", f"/api/admin/tenants/{bakkerij.remote_id}/api-keys", json={"name": "production"}
    ).json()
    answer = {k: v for k, v in made.items() if k != "key"}  # nothing the portal could hold

    with pytest.raises(ValueError), audit.audited("key.create", alice, tenant=bakkerij) as attempt:
        keys.store_created_key(bakkerij, answer, attempt, make_current=True)

    assert bakkerij.current_key() is None and not ApiKey.objects.exists()
    assert _live_keys(api, bakkerij) == []
