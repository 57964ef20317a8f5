"""The Peppol directory outside the sandbox: who holds an ID, releasing, moving, adding."""

from __future__ import annotations

from typing import Any

from sandbox.directory import INVOICE_DOCTYPE

HELD = "0208:0443055814"  # Brouwerij De Zwarte Kat NV, at Noordzee Access Point BV
TENANTS = "/api/admin/tenants"


def _lookup(sandbox: Any, key: str, peppol_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    with sandbox.tenant_client(key) as client:
        lookup = client.get("/api/lookup", params={"peppol_id": peppol_id}).json()
        valid = client.get("/api/validate/peppol-id", params={"peppol_id": peppol_id}).json()
    return lookup, valid


def test_it_reveals_who_holds_an_outside_id_in_the_files_shapes(sandbox, vendor):
    _, key = vendor
    lookup, valid = _lookup(sandbox, key, HELD)
    assert lookup["dnsInfo"]["smpHostname"] == "smp.noordzee-ap.example"
    endpoint = lookup["serviceMetadata"]["endpoints"][0]
    assert endpoint["documentTypes"] == [{"scheme": "busdox-docid-qns", "value": INVOICE_DOCTYPE}]
    process_endpoint = endpoint["processes"][0]["endpoints"][0]
    assert process_endpoint["serviceDescription"] == "Noordzee Access Point BV"
    assert lookup["certificates"][0]["details"]["subject"] == "CN=Noordzee Access Point BV"
    entity = lookup["businessCard"]["entities"][0]
    assert (entity["name"], entity["registrationDate"]) == (
        "Brouwerij De Zwarte Kat NV",
        "2021-03-15",
    )
    assert valid["is_valid"] is True
    assert valid["supported_document_types"] == [INVOICE_DOCTYPE]
    assert valid["business_card"]["registration_date"] == "2021-03-15"


def test_it_lets_a_tenant_register_an_id_once_it_is_released(sandbox, vendor):
    _, key = vendor
    tenant, _ = sandbox.create_tenant_with_key("zwarte-kat", peppol_ids=[HELD])
    register = f"{TENANTS}/{tenant['id']}/peppol/register"
    refused = sandbox.admin("POST", register, json={"peppol_id": HELD})
    assert refused.status_code == 409
    assert "another access point" in refused.json()["detail"]

    released = sandbox.release_participant(HELD)
    assert released["access_point"] == "Noordzee Access Point BV"
    lookup, valid = _lookup(sandbox, key, HELD)
    assert lookup["status"] == "error" and valid["is_valid"] is False  # free now
    assert sandbox.admin("POST", register, json={"peppol_id": HELD}).status_code == 200
    lookup, _ = _lookup(sandbox, key, HELD)
    assert lookup["dnsInfo"]["smpHostname"] == "smp.sandbox.e-invoice.invalid"
    sandbox.reset()
    assert HELD in {p["peppol_id"] for p in sandbox.participants()}  # reset restores the seed


def test_it_moves_an_id_to_another_access_point(sandbox, vendor):
    _, key = vendor
    moved = sandbox.move_participant(HELD, "Schelde Connect NV", "smp.schelde-connect.example")
    assert moved["registration_date"] != "2021-03-15"  # re-registered at the new provider
    lookup, _ = _lookup(sandbox, key, HELD)
    assert lookup["dnsInfo"]["smpHostname"] == "smp.schelde-connect.example"
    endpoint = lookup["serviceMetadata"]["endpoints"][0]["processes"][0]["endpoints"][0]
    assert endpoint["serviceDescription"] == "Schelde Connect NV"


def test_it_adds_an_outside_participant_that_receives_and_blocks_registration(sandbox, vendor):
    _, key = vendor
    added = sandbox.add_participant(
        "0208:0706165839",
        "Bakkerij Van Damme BV",
        city="Gent",
        access_point="Schelde Connect NV",
        smp_host="smp.schelde-connect.example",
        registration_date="2024-06-01",
    )
    assert added["document_types"][0] == INVOICE_DOCTYPE
    _, valid = _lookup(sandbox, key, "0208:0706165839")
    assert valid["business_card"]["name"] == "Bakkerij Van Damme BV"
    tenant, _ = sandbox.create_tenant_with_key("bakkerij", peppol_ids=["0208:0706165839"])
    response = sandbox.admin(
        "POST", f"{TENANTS}/{tenant['id']}/peppol/register", json={"peppol_id": "0208:0706165839"}
    )
    assert response.status_code == 409
    with sandbox.tenant_client(key) as client:
        hits = client.get("/api/lookup/participants", params={"query": "bakkerij"}).json()
    assert hits["total_count"] == 1


def test_it_refuses_to_add_an_id_a_sandbox_tenant_holds(sandbox, vendor):
    tenant, _ = vendor
    response = sandbox._http.post(
        "/_sandbox/participants", json={"peppol_id": "0208:1018265814", "name": "X"}
    )
    assert response.status_code == 409
    assert sandbox._http.delete("/_sandbox/participants/0208:0000000097").status_code == 404
