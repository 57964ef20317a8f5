"""The Peppol preflight: who holds an ID, from the mirror and the network lookup (sandbox)."""

from __future__ import annotations

import pytest

from tenants import checks
from tenants.models import ApiKey, PeppolRegistration, Tenant


@pytest.fixture
def lookup_tenant(portal_on_sandbox, db):
    remote, key = portal_on_sandbox.create_tenant_with_key("lookup-co")
    tenant = Tenant.objects.create(remote_id=remote["id"], name="lookup-co")
    api_key = ApiKey(tenant=tenant, remote_id="k1", name="lookup", is_current=True)
    api_key.set_value(key)
    api_key.save()
    return tenant


def test_it_names_the_access_point_holding_an_id(lookup_tenant):
    verdict = checks.preflight("0208:0443055814")
    assert verdict.kind == checks.Verdict.ELSEWHERE
    assert verdict.holder["name"] == "Brouwerij De Zwarte Kat NV"
    assert verdict.holder["access_point"] == "Noordzee Access Point BV"
    assert verdict.holder["smp_host"] == "smp.noordzee-ap.example"
    assert verdict.holder["registration_date"] == "2021-03-15"
    assert "Noordzee Access Point BV" in checks.held_elsewhere_advice(
        verdict.holder, "0208:0443055814"
    )


def test_it_finds_a_free_id_free(lookup_tenant):
    assert checks.preflight("0208:0706165839").kind == checks.Verdict.FREE


def test_it_names_our_own_tenant_without_a_call(lookup_tenant, acme):
    PeppolRegistration.objects.create(tenant=acme, registered=True, peppol_id=acme.peppol_id)
    verdict = checks.preflight(acme.peppol_id)
    assert verdict.kind == checks.Verdict.OURS and verdict.tenant == acme


def test_it_says_unavailable_without_a_key(portal_on_sandbox, db):
    verdict = checks.preflight("0208:0443055814")
    assert verdict.kind == checks.Verdict.UNAVAILABLE
    assert "no tenant key" in verdict.text


def test_it_shows_the_holder_in_the_csv_dry_run_before_anything_is_sent(lookup_tenant, alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tenants.onboarding import bulk

    csv = (
        b"company_name,country,company_number\n"
        b"Brouwerij De Zwarte Kat NV,BE,0443055814\n"
        b"Bakkerij Van Damme BV,BE,0706165839\n"
    )
    batch = bulk.create_batch(SimpleUploadedFile("b.csv", csv), register_peppol=True, user=alice)
    held, free = batch.rows
    assert held["peppol"]["kind"] == "elsewhere"
    assert "Noordzee Access Point BV" in held["peppol"]["text"]
    assert free["peppol"]["kind"] == "free"
    assert not batch.jobs.exists()
