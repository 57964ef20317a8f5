"""Every curl example of the Admin API guide, run against the sandbox."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

TENANT_FIELDS = {"id", "name", "description", "created_at", "updated_at", "is_deleted"}
KEY_FIELDS = {"id", "tenant_id", "name", "description", "created_at", "updated_at", "is_deleted"}
GUIDE_TENANT = {
    "name": "customer-company-bvba",
    "description": "Customer Company BVBA - Accounting Software Integration",
    "company_number": "0123456789",
    "company_tax_id": "BE0123456789",
    "peppol_ids": ["0208:0123456789"],
}


def create_guide_tenant(sandbox: Any, **changes: Any) -> dict[str, Any]:
    response = sandbox.admin("POST", "/api/admin/tenants", json={**GUIDE_TENANT, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def latest_key_id(sandbox: Any, tenant_id: str) -> str:
    return sandbox.admin("GET", f"/api/admin/tenants/{tenant_id}/api-keys/latest").json()["id"]


def post_register(sandbox: Any, tenant_id: str, **body: Any) -> httpx.Response:
    """The guide's register call (peppol_id, company_name), answer unchecked."""
    return sandbox.admin("POST", f"/api/admin/tenants/{tenant_id}/peppol/register", json=body)


def peppol_status(sandbox: Any, tenant_id: str) -> dict[str, Any]:
    return sandbox.admin("GET", f"/api/admin/tenants/{tenant_id}/peppol/status").json()


def test_it_authenticates_with_the_organization_key(sandbox):
    response = httpx.get(
        f"{sandbox.url}/api/admin/tenants",
        headers={"Authorization": f"Bearer {sandbox.org_key}"},
    )
    assert response.status_code == 200
    assert response.json() == {"tenants": [], "total": 0}


@pytest.mark.parametrize("header", [None, "Bearer YOUR_ORGANIZATION_API_KEY", "Basic abc"])
def test_it_refuses_a_missing_or_wrong_key_with_the_guides_401(sandbox, header):
    headers = {"Authorization": header} if header else {}
    response = httpx.get(f"{sandbox.url}/api/admin/tenants", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid authentication credentials"}


def test_it_refuses_a_tenant_key_on_admin_endpoints(sandbox):
    tenant, key = sandbox.create_tenant_with_key("acme")
    response = httpx.get(
        f"{sandbox.url}/api/admin/tenants", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid authentication credentials"}


def test_it_creates_a_tenant_as_in_the_guide(sandbox):
    tenant = create_guide_tenant(sandbox)
    assert TENANT_FIELDS <= tenant.keys()
    assert tenant["id"].startswith("tenant_")
    assert {k: tenant[k] for k in GUIDE_TENANT} == GUIDE_TENANT
    assert tenant["is_deleted"] is False
    assert tenant["test_mode"] is False
    assert tenant["created_at"].endswith("Z")


def test_it_lists_tenants_with_skip_limit_and_total(sandbox):
    for index in range(3):
        create_guide_tenant(sandbox, name=f"customer-{index}", peppol_ids=None)
    response = sandbox.admin("GET", "/api/admin/tenants", params={"skip": 0, "limit": 100})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 3
    assert [t["name"] for t in body["tenants"]] == ["customer-0", "customer-1", "customer-2"]
    assert TENANT_FIELDS <= body["tenants"][0].keys()
    page = sandbox.admin("GET", "/api/admin/tenants", params={"skip": 1, "limit": 1}).json()
    assert page["total"] == 3
    assert [t["name"] for t in page["tenants"]] == ["customer-1"]


def test_it_gets_a_tenant_and_answers_404_for_an_unknown_one(sandbox):
    tenant = create_guide_tenant(sandbox)
    response = sandbox.admin("GET", f"/api/admin/tenants/{tenant['id']}")
    assert response.status_code == 200
    assert response.json() == tenant
    missing = sandbox.admin("GET", "/api/admin/tenants/tenant_abc123")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Tenant not found"}


def test_it_updates_a_tenant_with_put(sandbox):
    tenant = create_guide_tenant(sandbox)
    response = sandbox.admin(
        "PUT",
        f"/api/admin/tenants/{tenant['id']}",
        json={**GUIDE_TENANT, "description": "Updated description", "test_mode": True},
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["description"] == "Updated description"
    assert updated["test_mode"] is True
    assert updated["company_number"] == "0123456789"
    again = sandbox.admin("GET", f"/api/admin/tenants/{tenant['id']}").json()
    assert again["description"] == "Updated description"


def test_it_soft_deletes_a_tenant_and_its_keys_stop_working(sandbox):
    tenant, key = sandbox.create_tenant_with_key("customer-company-bvba")
    with sandbox.tenant_client(key) as client:
        assert client.get("/api/me/").status_code == 200
        response = sandbox.admin("DELETE", f"/api/admin/tenants/{tenant['id']}")
        assert response.status_code == 200
        assert response.json()["is_deleted"] is True
        assert client.get("/api/me/").status_code == 401
    # The data is kept: still listed and readable, marked deleted.
    listed = sandbox.admin("GET", "/api/admin/tenants").json()
    assert listed["total"] == 1
    assert listed["tenants"][0]["is_deleted"] is True
    assert sandbox.admin("GET", f"/api/admin/tenants/{tenant['id']}").json()["is_deleted"] is True


def test_it_creates_an_api_key_whose_value_is_shown_once(sandbox):
    tenant = create_guide_tenant(sandbox)
    response = sandbox.admin(
        "POST",
        f"/api/admin/tenants/{tenant['id']}/api-keys",
        json={"name": "production-key", "description": "Production API key for Customer Company"},
    )
    assert response.status_code == 201
    created = response.json()
    assert KEY_FIELDS <= created.keys()
    assert created["key"].startswith("einv_")
    assert created["tenant_id"] == tenant["id"]
    assert created["id"].startswith("key_")

    listed = sandbox.admin(
        "GET", f"/api/admin/tenants/{tenant['id']}/api-keys", params={"limit": 100}
    ).json()
    assert listed["total"] == 1
    assert "key" not in listed["api_keys"][0]
    assert created["key"] not in str(listed)

    latest = sandbox.admin("GET", f"/api/admin/tenants/{tenant['id']}/api-keys/latest")
    assert latest.status_code == 200
    assert latest.json()["id"] == created["id"]
    assert "key" not in latest.json()


def test_it_returns_the_most_recent_key_as_latest(sandbox):
    tenant, _ = sandbox.create_tenant_with_key("acme")
    second = sandbox.admin(
        "POST", f"/api/admin/tenants/{tenant['id']}/api-keys", json={"name": "second"}
    ).json()
    assert latest_key_id(sandbox, tenant["id"]) == second["id"]


def test_it_updates_an_api_keys_name_and_description(sandbox):
    tenant, _ = sandbox.create_tenant_with_key("acme")
    key_id = latest_key_id(sandbox, tenant["id"])
    response = sandbox.admin(
        "PUT",
        f"/api/admin/tenants/{tenant['id']}/api-keys/{key_id}",
        json={"name": "production-key-v2", "description": "Updated production key"},
    )
    assert response.status_code == 200
    assert response.json()["name"] == "production-key-v2"
    assert response.json()["description"] == "Updated production key"
    assert "key" not in response.json()


def test_it_revokes_a_key_at_once_and_keeps_it_listed_as_deleted(sandbox):
    tenant, key = sandbox.create_tenant_with_key("acme")
    key_id = latest_key_id(sandbox, tenant["id"])
    with sandbox.tenant_client(key) as client:
        assert client.get("/api/me/").status_code == 200
        response = sandbox.admin("DELETE", f"/api/admin/tenants/{tenant['id']}/api-keys/{key_id}")
        assert response.status_code == 200
        assert response.json()["is_deleted"] is True
        refused = client.get("/api/me/")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Invalid authentication credentials"}
    listed = sandbox.admin("GET", f"/api/admin/tenants/{tenant['id']}/api-keys").json()
    assert [k["is_deleted"] for k in listed["api_keys"]] == [True]


def test_it_rotates_keys_without_downtime(sandbox):
    """The guide's rotation: new key, both work, revoke the old one."""
    tenant, old_key = sandbox.create_tenant_with_key("acme")
    old_id = latest_key_id(sandbox, tenant["id"])
    new = sandbox.admin(
        "POST",
        f"/api/admin/tenants/{tenant['id']}/api-keys",
        json={"name": "production-key-v2", "description": "Rotated production key"},
    ).json()
    for value in (old_key, new["key"]):
        with sandbox.tenant_client(value) as client:
            assert client.get("/api/me/").status_code == 200
    sandbox.admin("DELETE", f"/api/admin/tenants/{tenant['id']}/api-keys/{old_id}")
    with sandbox.tenant_client(old_key) as client:
        assert client.get("/api/me/").status_code == 401
    with sandbox.tenant_client(new["key"]) as client:
        assert client.get("/api/me/").status_code == 200


def test_it_reports_the_peppol_status(sandbox):
    tenant, _ = sandbox.create_tenant_with_key("acme", peppol_ids=["0208:0706165839"])
    before = peppol_status(sandbox, tenant["id"])
    assert before["registered"] is False
    assert before["registered_at"] is None
    sandbox.register(tenant["id"], "0208:0706165839")
    after = peppol_status(sandbox, tenant["id"])
    assert after["registered"] is True
    assert after["peppol_id"] == "0208:0706165839"
    assert after["status"] == "active"
    assert after["registered_at"].endswith("Z")


def test_it_registers_on_peppol_with_a_company_name(sandbox):
    tenant = create_guide_tenant(sandbox)
    response = post_register(
        sandbox, tenant["id"], peppol_id="0208:0123456789", company_name="Customer Company BVBA"
    )
    assert response.status_code == 200
    assert response.json()["registered"] is True
    assert response.json()["company_name"] == "Customer Company BVBA"


def test_it_registers_a_belgian_company_with_its_name_from_kbo(sandbox):
    tenant, key = sandbox.create_tenant_with_key(
        "bakkerij-van-damme", company_number="0706165839", peppol_ids=["0208:0706165839"]
    )
    response = post_register(sandbox, tenant["id"], peppol_id="0208:0706165839")
    assert response.status_code == 200
    assert response.json()["company_name"] == "Bakkerij Van Damme BV"
    with sandbox.tenant_client(key) as client:
        me = client.get("/api/me/").json()
    assert me["company_name"] == "Bakkerij Van Damme BV"
    assert me["company_city"] == "Gent"
    assert me["smp_registration"] is True


def test_it_explains_an_unknown_cbe_number_when_registering_without_a_name(sandbox):
    tenant = create_guide_tenant(sandbox)  # 0123456789 fails the modulo-97 check: not in KBO
    response = post_register(sandbox, tenant["id"], peppol_id="0208:0123456789")
    assert response.status_code == 400
    assert "0123456789 not found in KBO" in response.json()["detail"]
    status = peppol_status(sandbox, tenant["id"])
    assert status["registered"] is False


def test_it_updates_the_business_card_name(sandbox):
    tenant, _ = sandbox.create_tenant_with_key("acme", peppol_ids=["0208:0706165839"])
    sandbox.register(tenant["id"], "0208:0706165839")
    response = sandbox.admin(
        "POST",
        f"/api/admin/tenants/{tenant['id']}/peppol/business-card",
        json={"company_name": "Updated Company Name BVBA"},
    )
    assert response.status_code == 200
    assert response.json()["company_name"] == "Updated Company Name BVBA"


def test_it_unregisters_from_peppol(sandbox):
    tenant, _ = sandbox.create_tenant_with_key("acme", peppol_ids=["0208:0706165839"])
    sandbox.register(tenant["id"], "0208:0706165839")
    response = sandbox.admin("POST", f"/api/admin/tenants/{tenant['id']}/peppol/unregister")
    assert response.status_code == 200
    assert response.json()["registered"] is False
    status = peppol_status(sandbox, tenant["id"])
    assert status["registered"] is False


def test_it_refuses_peppol_registration_for_a_test_mode_tenant(sandbox):
    tenant, _ = sandbox.create_tenant_with_key(
        "acme", peppol_ids=["0208:0706165839"], test_mode=True
    )
    assert sandbox.admin("GET", f"/api/admin/tenants/{tenant['id']}").json()["test_mode"] is True
    response = post_register(sandbox, tenant["id"], peppol_id="0208:0706165839")
    assert response.status_code == 400
    assert "test mode" in response.json()["detail"]


def test_it_answers_409_when_another_tenant_registered_the_peppol_id(sandbox):
    first, _ = sandbox.create_tenant_with_key("first", peppol_ids=["0208:0706165839"])
    second, _ = sandbox.create_tenant_with_key("second", peppol_ids=["0208:0706165839"])
    sandbox.register(first["id"], "0208:0706165839")
    response = post_register(sandbox, second["id"], peppol_id="0208:0706165839")
    assert response.status_code == 409
    assert "already registered" in response.json()["detail"]


def test_it_answers_409_for_a_similar_tenant_name(sandbox):
    create_guide_tenant(sandbox)
    for name in ("customer-company-bvba", "customer_company_bvba"):
        response = sandbox.admin("POST", "/api/admin/tenants", json={"name": name})
        assert response.status_code == 409
        assert response.json() == {"detail": "A tenant with similar name already exists"}


def test_it_answers_the_guides_422_for_a_missing_name(sandbox):
    response = sandbox.admin("POST", "/api/admin/tenants", json={"description": "no name"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"loc": ["body", "name"], "msg": "field required", "type": "value_error.missing"}
        ]
    }


@pytest.mark.parametrize("name", ["Customer 1", "UPPER", "with space", ""])
def test_it_refuses_names_that_are_not_lowercase_without_spaces(sandbox, name):
    response = sandbox.admin("POST", "/api/admin/tenants", json={"name": name})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "name"]
    assert error["type"] == "value_error"
    assert "lowercase" in error["msg"]


def test_it_accepts_at_most_one_peppol_id(sandbox):
    response = sandbox.admin(
        "POST",
        "/api/admin/tenants",
        json={"name": "two-ids", "peppol_ids": ["0208:0706165839", "0208:1286602456"]},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "peppol_ids"]


def test_it_answers_422_for_wrong_types_in_the_fastapi_shape(sandbox):
    response = sandbox.admin(
        "POST", "/api/admin/tenants", json={"name": "acme", "test_mode": "perhaps"}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "test_mode"],
            "msg": "value could not be parsed to a boolean",
            "type": "type_error.bool",
        }
    ]


def test_it_keeps_each_organizations_tenants_apart(sandbox):
    """A tenant of this organization is not found with a key that is not the org key."""
    tenant = create_guide_tenant(sandbox)
    response = httpx.get(
        f"{sandbox.url}/api/admin/tenants/{tenant['id']}",
        headers={"Authorization": "Bearer einv_org_someone_else"},
    )
    assert response.status_code == 401


def test_it_answers_404_for_unknown_keys_and_for_writes_to_a_deleted_tenant(sandbox):
    tenant, _ = sandbox.create_tenant_with_key("acme")
    base = f"/api/admin/tenants/{tenant['id']}"
    unknown = sandbox.admin("PUT", f"{base}/api-keys/key_nope", json={"name": "x"})
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "API key not found"}
    sandbox.admin("DELETE", base)
    for method, path, body in [
        ("PUT", base, {"description": "x"}),
        ("DELETE", base, None),
        ("POST", f"{base}/api-keys", {"name": "again"}),
        ("POST", f"{base}/peppol/register", {"peppol_id": "0208:0706165839"}),
    ]:
        response = sandbox.admin(method, path, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "Tenant not found"}
