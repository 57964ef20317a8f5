"""End-to-end: the services against the sandbox over HTTP. After every step the mirror,
the sandbox and the audit log must agree."""

import logging

import pytest

from core import audit
from core.models import AuditEntry
from einvoice import admin as admin_api
from einvoice.errors import Conflict, Invalid, RateLimited, ServerError
from einvoice.messages import explain
from tenants import errors, keys, mirror, peppol
from tenants.models import ApiKey, PeppolRegistration, Tenant
from tests.tenants.conftest import remote, requests_to

BAKKERIJ = {
    "name": "bakkerij-van-damme",
    "description": "Bakkerij Van Damme BV",
    "company_number": "0706165839",
    "company_tax_id": "BE0706165839",
    "peppol_id": "0208:0706165839",
}


def _last(action: str) -> AuditEntry:
    return AuditEntry.objects.filter(action=action).order_by("-sequence").first()


def test_the_whole_lifecycle_keeps_mirror_sandbox_and_audit_consistent(api, alice, caplog):
    caplog.set_level(logging.DEBUG)
    # create
    tenant = mirror.create_tenant(BAKKERIJ, alice)
    there = remote(api, f"/api/admin/tenants/{tenant.remote_id}")
    assert there["name"] == tenant.name == "bakkerij-van-damme"
    assert there["peppol_ids"] == ["0208:0706165839"] and tenant.peppol_id == "0208:0706165839"
    assert _last("tenant.create").changes["company_number"] == [None, "0706165839"]

    # edit
    tenant = mirror.update_tenant(tenant, {"description": "Bakkerij Van Damme"}, alice)
    assert (
        remote(api, f"/api/admin/tenants/{tenant.remote_id}")["description"] == "Bakkerij Van Damme"
    )
    assert Tenant.objects.get(pk=tenant.pk).description == "Bakkerij Van Damme"
    assert _last("tenant.update").changes == {
        "description": ["Bakkerij Van Damme BV", "Bakkerij Van Damme"]
    }

    # keys: create, reveal once, create a second, revoke the current one
    key, value = keys.create_key(tenant, "production", "ERP", alice)
    assert value.startswith("einv_") and key.is_current and key.reveal_value() == value
    with api.tenant_client(value) as client:  # the stored key really works
        assert client.get("/api/me/").status_code == 200
    assert key.claim_reveal() is True
    assert ApiKey.objects.get(pk=key.pk).claim_reveal() is False
    second, second_value = keys.create_key(tenant, "rotated", "", alice)
    key.refresh_from_db()
    assert (key.is_current, second.is_current) == (False, True)
    keys.revoke_key(second, alice)
    second.refresh_from_db()
    key.refresh_from_db()
    assert second.is_revoked and second.encrypted_value == "" and not second.is_current
    assert key.is_current  # the newest remaining held key takes over
    remote_keys = {
        k["id"]: k
        for k in remote(api, f"/api/admin/tenants/{tenant.remote_id}/api-keys")["api_keys"]
    }
    assert (
        remote_keys[second.remote_id]["is_deleted"] and not remote_keys[key.remote_id]["is_deleted"]
    )
    assert _last("key.revoke").changes["current_key"] == ["rotated", "production"]

    # Peppol: register with KBO autofill, business card, unregister
    reg = peppol.register_peppol(tenant, alice)
    assert reg.registered and reg.peppol_id == "0208:0706165839"
    assert reg.company_name == "Bakkerij Van Damme BV"  # fetched from KBO by e-invoice.be
    status = remote(api, f"/api/admin/tenants/{tenant.remote_id}/peppol/status")
    assert status["registered"] and status["peppol_id"] == "0208:0706165839"
    reg = peppol.update_business_card(tenant, "Bakkerij Van Damme & Zonen", alice)
    assert remote(api, f"/api/admin/tenants/{tenant.remote_id}/peppol/status")["company_name"] == (
        "Bakkerij Van Damme & Zonen"
    )
    assert reg.company_name == "Bakkerij Van Damme & Zonen"
    reg = peppol.unregister_peppol(tenant, alice)
    assert not reg.registered
    assert not remote(api, f"/api/admin/tenants/{tenant.remote_id}/peppol/status")["registered"]

    # delete (soft)
    mirror.delete_tenant(tenant, alice)
    assert Tenant.objects.get(pk=tenant.pk).is_deleted
    assert remote(api, f"/api/admin/tenants/{tenant.remote_id}")["is_deleted"] is True

    actions = list(AuditEntry.objects.order_by("sequence").values_list("action", "outcome"))
    assert actions == [
        ("tenant.create", "success"),
        ("tenant.update", "success"),
        ("key.create", "success"),
        ("key.create", "success"),
        ("key.revoke", "success"),
        # The state it settled in, then the attempt (the passing states are not logged).
        ("peppol.state", "success"),
        ("peppol.register", "success"),
        ("peppol.business_card", "success"),
        ("peppol.state", "success"),  # unregistered
        ("peppol.unregister", "success"),
        ("tenant.delete", "success"),
    ]
    states = AuditEntry.objects.filter(action="peppol.state").order_by("sequence")
    assert [e.changes["state"] for e in states] == [
        ["registering", "registered"],
        ["registered", "unregistered"],
    ]
    assert audit.verify_chain().ok
    # The canary: no key value in any log record or audit row.
    everything = "\n".join(r.getMessage() for r in caplog.records) + "".join(
        e.canonical() for e in AuditEntry.objects.all()
    )
    for secret in (value, second_value, api.org_key):
        assert secret not in everything


def test_a_taken_name_fails_with_a_suggestion_and_changes_nothing(api, alice):
    api.create_tenant_with_key("bakkerij-van-damme")
    with pytest.raises(Conflict) as caught:
        mirror.create_tenant(BAKKERIJ, alice)
    assert not Tenant.objects.exists()
    entry = _last("tenant.create")
    assert (entry.outcome, entry.target) == ("error", "bakkerij-van-damme")
    assert "similar name" in entry.error
    assert "bakkerij-van-damme-2" in explain(caught.value, name="bakkerij-van-damme")


def test_our_checks_refuse_bad_input_before_any_call(api, alice):
    with pytest.raises(errors.InvalidFields) as caught:
        mirror.create_tenant({**BAKKERIJ, "company_number": "0706165830"}, alice)
    assert set(caught.value.errors) == {"company_number"}
    assert requests_to(api, "POST", "/api/admin/tenants") == []


def test_the_apis_422_maps_onto_our_field_names(api):
    with pytest.raises(Invalid) as caught:
        admin_api.create_tenant(name="Not Lowercase", peppol_ids=["0208:1", "0208:2"])
    assert set(caught.value.field_errors) == {"name", "peppol_id"}


def test_a_peppol_id_registered_elsewhere_gets_an_explanation(api, alice):
    tenant = mirror.create_tenant(
        {
            "name": "openpeppol",
            "company_number": "0848934496",
            "company_tax_id": "BE0848934496",
            "peppol_id": "0208:0848934496",
        },
        alice,
    )
    with pytest.raises(Conflict) as caught:
        peppol.register_peppol(tenant, alice)
    message = explain(caught.value, peppol_id="0208:0848934496")
    assert "already registered" in message and "deregister" in message
    assert PeppolRegistration.objects.get(tenant=tenant).last_error
    assert _last("peppol.register").outcome == "error"


def test_a_test_mode_tenant_is_not_sent_for_registration(api, alice):
    tenant = mirror.create_tenant({**BAKKERIJ, "test_mode": True}, alice)
    assert remote(api, f"/api/admin/tenants/{tenant.remote_id}")["test_mode"] is True
    with pytest.raises(errors.PeppolUnavailable) as caught:
        peppol.register_peppol(tenant, alice)
    assert caught.value.reason == "test_mode"
    assert requests_to(api, "POST", f"/api/admin/tenants/{tenant.remote_id}/peppol") == []
    # Promote to production, then registration works.
    tenant = mirror.update_tenant(tenant, {"test_mode": False}, alice)
    assert remote(api, f"/api/admin/tenants/{tenant.remote_id}")["test_mode"] is False
    assert peppol.register_peppol(tenant, alice).registered


def test_registration_with_a_company_name_for_a_non_kbo_scheme(api, alice):
    tenant = mirror.create_tenant(
        {"name": "gln-co", "peppol_id": "0088:5412345000013", "description": "GLN Co"}, alice
    )
    with pytest.raises(Invalid, match="company_name is required"):
        peppol.register_peppol(tenant, alice)
    reg = peppol.register_peppol(tenant, alice, company_name="GLN Co NV")
    assert reg.registered and reg.company_name == "GLN Co NV"


def test_a_failed_write_is_not_retried_and_is_audited(api, alice):
    tenant = mirror.create_tenant(BAKKERIJ, alice)
    api.set_faults(
        rules=[{"method": "POST", "path": "/api/admin/tenants/*/api-keys", "status": 503}]
    )
    with pytest.raises(ServerError):
        keys.create_key(tenant, "production", "", alice)
    assert len(requests_to(api, "POST", f"/api/admin/tenants/{tenant.remote_id}/api-keys")) == 1
    assert not ApiKey.objects.exists()
    assert _last("key.create").outcome == "error"


def test_reads_retry_through_a_transient_failure(api, alice):
    tenant = mirror.create_tenant(BAKKERIJ, alice)
    api.set_faults(
        rules=[
            {
                "method": "GET",
                "path": "/api/admin/tenants/*/peppol/status",
                "status": 502,
                "times": 2,
            }
        ]
    )
    reg = peppol.refresh_peppol_status(tenant, alice)
    assert reg.last_checked_at is not None and not reg.registered
    assert len(requests_to(api, "GET", f"/api/admin/tenants/{tenant.remote_id}/peppol/status")) == 3


def test_a_429_pauses_every_caller(api, alice):
    from einvoice import quota as ratelimit

    api.set_faults(
        rules=[{"method": "GET", "path": "/api/admin/tenants", "status": 429, "retry_after": 30}]
    )
    with pytest.raises(RateLimited) as caught:
        admin_api.list_tenants()
    assert caught.value.retry_after == 30
    assert ratelimit.try_acquire()[0] > 25  # the next caller, anywhere, is told to wait


def test_sync_keys_adopts_and_revokes_what_changed_elsewhere(api, alice):
    tenant = mirror.create_tenant(BAKKERIJ, alice)
    key, _value = keys.create_key(tenant, "production", "", alice)
    api.admin("DELETE", f"/api/admin/tenants/{tenant.remote_id}/api-keys/{key.remote_id}")
    api.admin("POST", f"/api/admin/tenants/{tenant.remote_id}/api-keys", json={"name": "by-hand"})
    synced = {k.name: k for k in keys.sync_keys(tenant)}
    assert synced["production"].is_revoked and not synced["production"].is_current
    assert not synced["by-hand"].is_held and not synced["by-hand"].is_revoked


def test_mirror_tenant_upserts_by_remote_id(db):
    answer = {"id": "tenant_9", "name": "x", "peppol_ids": ["0208:0706165839"], "test_mode": True}
    first = mirror.mirror_tenant(answer)
    second = mirror.mirror_tenant({**answer, "name": "y", "is_deleted": True})
    assert first.pk == second.pk and (second.name, second.is_deleted, second.test_mode) == (
        "y",
        True,
        True,
    )


def test_it_sends_the_same_body_for_staff_and_onboarding_with_an_empty_peppol_id_list():
    # One mapping: an update (PUT) without the field would keep an ID staff removed.
    body = mirror.remote_fields({"name": "acme", "peppol_id": "", "test_mode": False})
    assert body == {
        "name": "acme",
        "description": None,
        "company_number": None,
        "company_tax_id": None,
        "peppol_ids": [],
        "test_mode": False,
    }
