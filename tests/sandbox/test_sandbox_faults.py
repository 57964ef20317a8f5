"""Fault injection: latency, 5xx answers, dropped connections, failing routes, lost answers."""

from __future__ import annotations

import time

import httpx
import pytest


def list_tenants(sandbox):
    return sandbox.admin("GET", "/api/admin/tenants")


def test_it_adds_latency(sandbox):
    sandbox.set_faults(latency_ms=300)
    started = time.monotonic()
    assert list_tenants(sandbox).status_code == 200
    assert time.monotonic() - started >= 0.3
    sandbox.clear_faults()
    # Cleared: a 2 s latency would show; a loaded machine's slow answer would not fail this.
    sandbox.set_faults(latency_ms=2000)
    sandbox.clear_faults()
    started = time.monotonic()
    list_tenants(sandbox)
    assert time.monotonic() - started < 2


def test_it_answers_5xx_at_the_configured_rate(sandbox):
    sandbox.set_faults(error_rate=1.0, error_status=503)
    response = list_tenants(sandbox)
    assert response.status_code == 503
    assert response.json() == {"detail": "Service Unavailable"}
    assert sandbox.health()  # control endpoints are never affected
    sandbox.set_faults(error_rate=0.5, seed=7)
    statuses = [list_tenants(sandbox).status_code for _ in range(40)]
    assert 5 < statuses.count(503) < 35
    assert set(statuses) == {200, 503}


def test_it_drops_connections_without_an_answer(sandbox):
    sandbox.set_faults(drop_rate=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.get(
            f"{sandbox.url}/api/admin/tenants",
            headers={"Authorization": f"Bearer {sandbox.org_key}"},
        )


def test_it_fails_a_route_the_next_n_times(sandbox):
    sandbox.set_faults(
        rules=[{"method": "POST", "path": "/api/admin/tenants", "status": 502, "times": 2}]
    )
    assert list_tenants(sandbox).status_code == 200  # other routes are untouched
    statuses = [
        sandbox.admin("POST", "/api/admin/tenants", json={"name": "acme"}).status_code
        for _ in range(3)
    ]
    assert statuses == [502, 502, 201]
    assert list_tenants(sandbox).json()["total"] == 1  # the failed attempts wrote nothing


def test_it_can_answer_429_with_a_chosen_retry_after(sandbox):
    sandbox.set_faults(rules=[{"path": "/api/admin/*", "status": 429, "retry_after": 7}])
    refused = list_tenants(sandbox)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "7"
    assert list_tenants(sandbox).status_code == 200


def test_it_performs_the_write_and_then_drops_the_answer(sandbox):
    """The lost-answer case the onboarding protocol must survive: created, but never told."""
    sandbox.set_faults(
        rules=[{"method": "POST", "path": "/api/admin/tenants", "action": "drop_after_write"}]
    )
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.post(
            f"{sandbox.url}/api/admin/tenants",
            headers={"Authorization": f"Bearer {sandbox.org_key}"},
            json={"name": "acme"},
        )
    listed = list_tenants(sandbox).json()
    assert [t["name"] for t in listed["tenants"]] == ["acme"]
    retry = sandbox.admin("POST", "/api/admin/tenants", json={"name": "acme"})
    assert retry.status_code == 409


def test_it_loses_a_created_keys_value_when_the_answer_is_dropped(sandbox):
    tenant, _ = sandbox.create_tenant_with_key("acme")
    sandbox.set_faults(
        rules=[
            {
                "method": "POST",
                "path": "/api/admin/tenants/*/api-keys",
                "action": "drop_after_write",
            }
        ]
    )
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.post(
            f"{sandbox.url}/api/admin/tenants/{tenant['id']}/api-keys",
            headers={"Authorization": f"Bearer {sandbox.org_key}"},
            json={"name": "portal-job-1"},
        )
    keys = sandbox.admin("GET", f"/api/admin/tenants/{tenant['id']}/api-keys").json()
    assert [k["name"] for k in keys["api_keys"]] == ["acme-key", "portal-job-1"]  # an orphan


def test_it_records_injected_faults_in_the_request_log(sandbox):
    sandbox.set_faults(rules=[{"path": "/api/admin/tenants", "status": 500}])
    list_tenants(sandbox)
    [entry] = sandbox.requests()
    assert entry["status"] == 500
    assert entry["fault"].startswith("status 500")
    assert sandbox.set_faults()["rules"] == []  # setting replaces the whole fault set
