"""Control endpoints, configuration, seeded data and the sandbox's independence."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from stdnum.be import vat as be_vat
from stdnum.eu import vat as eu_vat

from sandbox.directory import KBO, OUTSIDE_PARTICIPANTS, peppol_id_from_tax_id
from sandbox.testing import SandboxError, SandboxProcess

from .conftest import invoice

SANDBOX_DIR = Path(__file__).resolve().parents[2] / "sandbox"


def test_it_logs_requests_with_identities_but_never_key_values(sandbox):
    tenant, key = sandbox.create_tenant_with_key("acme")
    with sandbox.tenant_client(key) as client:
        client.get("/api/me/")
    httpx.get(f"{sandbox.url}/api/me/", headers={"Authorization": "Bearer einv_wrong_key"})
    log = sandbox.requests()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/api/admin/tenants", 201),
        ("POST", f"/api/admin/tenants/{tenant['id']}/api-keys", 201),
        ("GET", "/api/me/", 200),
        ("GET", "/api/me/", 401),
    ]
    assert log[0]["org"].startswith("org_")
    assert log[2]["tenant_id"] == tenant["id"]
    assert "tenant_id" not in log[3]
    assert all(e["time"].endswith("Z") for e in log)
    text = json.dumps(log)
    for secret in (key, sandbox.org_key, "einv_wrong_key"):
        assert secret not in text
    assert sandbox.requests(since=log[-1]["seq"]) == []


def test_it_resets_data_faults_and_config(sandbox):
    sandbox.create_tenant_with_key("acme")
    sandbox.set_faults(latency_ms=5)
    sandbox.configure(send_delay=9)
    sandbox.reset()
    assert sandbox.admin("GET", "/api/admin/tenants").json()["total"] == 0
    assert sandbox.config()["send_delay"] == 0.2  # the value the process started with
    assert httpx.get(f"{sandbox.url}/_sandbox/faults").json()["latency_ms"] == 0
    assert [e["path"] for e in sandbox.requests()] == ["/api/admin/tenants"]  # only the listing


def test_it_changes_the_send_delay_at_run_time(sandbox, vendor):
    _, key = vendor
    sandbox.configure(send_delay=0)
    with sandbox.tenant_client(key) as client:
        doc = client.post("/api/documents/", json=invoice()).json()
        client.post(f"/api/documents/{doc['id']}/send")
    assert sandbox.wait_for_state(key, doc["id"], "SENT", timeout=15)["state"] == "SENT"


def test_it_refuses_unknown_config_knobs(sandbox):
    with pytest.raises(SandboxError):
        sandbox.configure(rate_per_minit=5)
    with pytest.raises(SandboxError):
        sandbox.configure(time_scale=0)


def test_it_reads_its_settings_from_the_environment():
    """Two organization keys: each sees only its own tenants and has its own quota."""
    env = {"SANDBOX_ORG_KEYS": "einv_org_alpha,einv_org_beta", "SANDBOX_RATE_PER_MINUTE": "2"}
    with SandboxProcess(env=env) as handle:
        alpha = {"Authorization": "Bearer einv_org_alpha"}
        beta = {"Authorization": "Bearer einv_org_beta"}
        created = httpx.post(
            f"{handle.url}/api/admin/tenants", headers=alpha, json={"name": "acme"}
        )
        assert created.status_code == 201
        tenant_id = created.json()["id"]
        assert httpx.get(f"{handle.url}/api/admin/tenants", headers=beta).json()["total"] == 0
        other = httpx.get(f"{handle.url}/api/admin/tenants/{tenant_id}", headers=beta)
        assert other.status_code == 404
        assert httpx.get(f"{handle.url}/api/admin/tenants", headers=alpha).status_code == 200
        assert httpx.get(f"{handle.url}/api/admin/tenants", headers=alpha).status_code == 429
        assert httpx.get(f"{handle.url}/api/admin/tenants", headers=beta).status_code == 429
        assert handle.config()["org_keys"] == 2  # a count, never the values


def test_it_seeds_a_kbo_of_valid_belgian_company_numbers(sandbox):
    assert len(KBO) >= 10
    for cbe in KBO:
        assert be_vat.is_valid(cbe), cbe
    listed = httpx.get(f"{sandbox.url}/_sandbox/kbo").json()["companies"]
    assert {c["company_number"] for c in listed} == set(KBO)


def test_it_seeds_outside_participants_with_valid_vat_numbers():
    for peppol_id in OUTSIDE_PARTICIPANTS:
        scheme, value = peppol_id.split(":", 1)
        number = f"BE{value}" if scheme == "0208" else value
        assert eu_vat.is_valid(number), peppol_id


@pytest.mark.parametrize(
    ("tax_id", "peppol_id"),
    [
        ("BE0848934496", "0208:0848934496"),
        ("BE 0848.934.496", "0208:0848934496"),
        ("BE0848/934/496", "0208:0848934496"),  # as the EN 16931 checks and the UBL read it
        ("NL123456782B01", "9944:NL123456782B01"),
        ("DE812526315", "9930:DE812526315"),
        ("XX123", None),
        (None, None),
    ],
)
def test_it_derives_peppol_ids_from_vat_numbers(tax_id, peppol_id):
    assert peppol_id_from_tax_id(tax_id) == peppol_id


def test_it_never_imports_the_portal():
    forbidden = {"django", "portal", "accounts", "tenants", "invoices"}
    for path in SANDBOX_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
    probe = "import sys, sandbox.app, sandbox.testing; print(any(m.split('.')[0] == 'django' for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=SANDBOX_DIR.parent
    )
    assert result.stdout.strip() == "False", result.stderr


def test_it_remembers_its_state_across_restarts_with_a_state_file(tmp_path):
    """bin/run's demo sets SANDBOX_STATE_FILE; tests leave it unset (memory only)."""
    env = {"SANDBOX_STATE_FILE": str(tmp_path / "state.json"), "SANDBOX_SEND_DELAY": "0"}
    with SandboxProcess(env=env) as first:
        tenant, key = first.create_tenant_with_key("acme", peppol_ids=["0208:0706165839"])
        first.register(tenant["id"], "0208:0706165839")
        with first.tenant_client(key) as client:
            doc = client.post("/api/documents/", json=invoice()).json()
    with SandboxProcess(env=env) as second:
        assert second.admin("GET", "/api/admin/tenants").json()["total"] == 1
        with second.tenant_client(key) as client:  # the key still works
            assert client.get(f"/api/documents/{doc['id']}").json()["invoice_total"] == "1210.00"
            assert client.get("/api/me/").json()["smp_registration"] is True
        again = second.admin("POST", "/api/admin/tenants", json={"name": "acme-2"}).json()
        assert again["id"] != tenant["id"]


def test_it_seeds_many_tenants_at_once_and_keeps_their_names_taken(sandbox):
    assert sandbox._control("POST", "/seed-tenants", json={"count": 3, "prefix": "bulk"}) == {
        "created": 3
    }
    sandbox.admin("POST", "/api/admin/tenants", json={"name": "after"}).raise_for_status()
    listed = sandbox.admin("GET", "/api/admin/tenants", params={"skip": 1, "limit": 2}).json()
    assert [t["name"] for t in listed["tenants"]] == ["bulk-000001", "bulk-000002"]
    assert listed["total"] == 4
    taken = sandbox.admin("POST", "/api/admin/tenants", json={"name": "bulk_000001"})
    assert taken.status_code == 409
    # A renamed tenant frees its old name and takes the new one.
    first = sandbox.admin("GET", "/api/admin/tenants").json()["tenants"][0]
    sandbox.admin("PUT", f"/api/admin/tenants/{first['id']}", json={"name": "renamed"})
    assert sandbox.admin("POST", "/api/admin/tenants", json={"name": "bulk-000000"}).is_success
    assert sandbox.admin("POST", "/api/admin/tenants", json={"name": "re-named"}).status_code == 409
