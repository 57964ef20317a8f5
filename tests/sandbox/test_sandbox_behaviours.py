"""Settings where e-invoice.be's guides are silent: each plausible behaviour, switchable per test."""

from __future__ import annotations

import time

import pytest

from sandbox.testing import SandboxError

TENANTS = "/api/admin/tenants"


def test_it_limits_the_tenant_api_per_tenant_with_retry_after(sandbox):
    sandbox.set_behaviour(tenant_rate_per_minute=3)
    _, key = sandbox.create_tenant_with_key("acme")
    _, other_key = sandbox.create_tenant_with_key("globex")
    with sandbox.tenant_client(key) as client:
        assert [client.get("/api/me/").status_code for _ in range(3)] == [200] * 3
        refused = client.get("/api/me/")
    assert refused.status_code == 429
    assert set(refused.json()) == {"detail"}
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    with sandbox.tenant_client(other_key) as client:  # another tenant has its own quota
        assert client.get("/api/me/").status_code == 200
    assert sandbox.requests()[-2]["status"] == 429  # logged (the last entry is globex's call)


def test_it_lets_the_tenant_api_through_again_after_the_window(sandbox):
    sandbox.set_behaviour(tenant_rate_per_minute=2)
    sandbox.configure(time_scale=60)  # a minute lasts one second
    _, key = sandbox.create_tenant_with_key("acme")
    with sandbox.tenant_client(key) as client:
        assert [client.get("/api/me/").status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(1.05)
        assert client.get("/api/me/").status_code == 200


def test_it_has_no_tenant_api_limit_unless_configured(sandbox):
    _, key = sandbox.create_tenant_with_key("acme")
    with sandbox.tenant_client(key) as client:
        assert {client.get("/api/me/").status_code for _ in range(150)} == {200}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("always", [True, True, True]), ("sometimes", [True, False, True]), ("never", [False] * 3)],
)
def test_it_sends_retry_after_on_429_as_configured(sandbox, mode, expected):
    sandbox.set_behaviour(retry_after=mode)
    sandbox.configure(rate_per_minute=1)
    assert sandbox.admin("GET", TENANTS).status_code == 200
    refusals = [sandbox.admin("GET", TENANTS) for _ in range(3)]
    assert [r.status_code for r in refusals] == [429] * 3
    assert ["Retry-After" in r.headers for r in refusals] == expected


def _key(sandbox, tenant_id: str, name: str) -> str:
    response = sandbox.admin("POST", f"{TENANTS}/{tenant_id}/api-keys", json={"name": name})
    return response.json()["id"]


def test_it_answers_latest_with_the_newest_key_even_revoked_when_configured(sandbox):
    tenant, _ = sandbox.create_tenant_with_key("acme")
    older = _key(sandbox, tenant["id"], "older")
    newer = _key(sandbox, tenant["id"], "newer")
    sandbox.admin("DELETE", f"{TENANTS}/{tenant['id']}/api-keys/{newer}")
    latest = f"{TENANTS}/{tenant['id']}/api-keys/latest"
    assert sandbox.admin("GET", latest).json()["id"] == older  # default: revoked keys skipped
    sandbox.set_behaviour(latest_key="created")
    answer = sandbox.admin("GET", latest).json()
    assert (answer["id"], answer["is_deleted"]) == (newer, True)


def test_it_creates_tenants_in_test_mode_when_that_is_the_default(sandbox):
    assert sandbox.admin("POST", TENANTS, json={"name": "a"}).json()["test_mode"] is False
    sandbox.set_behaviour(test_mode_default=True)
    assert sandbox.admin("POST", TENANTS, json={"name": "b"}).json()["test_mode"] is True
    explicit = sandbox.admin("POST", TENANTS, json={"name": "c", "test_mode": False})
    assert explicit.json()["test_mode"] is False


@pytest.mark.parametrize(
    ("mode", "status", "after"),
    [("update", 200, False), ("ignore", 200, True), ("refuse", 400, True)],
)
def test_it_lets_a_tenant_leave_test_mode_as_configured(sandbox, mode, status, after):
    sandbox.set_behaviour(test_mode_exit=mode)
    tenant = sandbox.admin("POST", TENANTS, json={"name": "acme", "test_mode": True}).json()
    response = sandbox.admin(
        "PUT", f"{TENANTS}/{tenant['id']}", json={"test_mode": False, "description": "x"}
    )
    assert response.status_code == status
    current = sandbox.admin("GET", f"{TENANTS}/{tenant['id']}").json()
    assert current["test_mode"] is after
    assert current["description"] == ("x" if status == 200 else None)  # refused: nothing changed
    sandbox.set_test_mode(tenant["id"], False)  # support can always do it
    assert sandbox.admin("GET", f"{TENANTS}/{tenant['id']}").json()["test_mode"] is False


def test_it_requires_exactly_one_peppol_id_when_configured(sandbox):
    assert sandbox.admin("POST", TENANTS, json={"name": "a"}).status_code == 201
    sandbox.set_behaviour(peppol_ids="exactly_one")
    refused = sandbox.admin("POST", TENANTS, json={"name": "b"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "peppol_ids"]
    created = sandbox.admin("POST", TENANTS, json={"name": "c", "peppol_ids": ["0208:0706165839"]})
    assert created.status_code == 201
    emptied = sandbox.admin("PUT", f"{TENANTS}/{created.json()['id']}", json={"peppol_ids": []})
    assert emptied.status_code == 422


def test_it_refuses_unknown_behaviour_names_and_values(sandbox):
    with pytest.raises(SandboxError):
        sandbox.set_behaviour(send_delay=1)
    with pytest.raises(SandboxError):
        sandbox.set_behaviour(latest_key="oldest")


def test_it_forgets_behaviour_changes_on_reset(sandbox):
    sandbox.set_behaviour(retry_after="never", peppol_ids="exactly_one")
    sandbox.reset()
    config = sandbox.config()
    assert (config["retry_after"], config["peppol_ids"]) == ("always", "at_most_one")
