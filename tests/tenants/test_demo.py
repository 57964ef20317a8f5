"""seed_demo_tenants() against the sandbox: three tenants, current keys, two on Peppol that
reach each other, idempotent."""

import httpx

from tenants.demo import seed_demo_tenants
from tenants.models import Tenant
from tests.tenants.conftest import requests_to


def test_it_seeds_three_demo_tenants_once(api):
    tenants = seed_demo_tenants()
    assert [t.name for t in tenants] == ["dijle-software", "kust-logistiek", "atelier-lumiere"]
    assert all(t.current_key() is not None for t in tenants)
    by_name = {t.name: t for t in Tenant.objects.all()}
    assert by_name["dijle-software"].peppol.registered
    assert by_name["kust-logistiek"].peppol.registered
    assert by_name["atelier-lumiere"].test_mode
    creates = len(requests_to(api, "POST", "/api/admin/tenants"))
    registers = len([r for r in api.requests() if r["path"].endswith("/peppol/register")])
    assert registers == 2

    again = seed_demo_tenants()
    assert [t.pk for t in again] == [t.pk for t in tenants]
    assert len(requests_to(api, "POST", "/api/admin/tenants")) == creates  # nothing new
    assert len([r for r in api.requests() if r["path"].endswith("/peppol/register")]) == 2


def test_the_two_demo_customers_can_reach_each_other_on_peppol(api):
    dijle, kust, _atelier = seed_demo_tenants()
    for sender, receiver in [(dijle, kust), (kust, dijle)]:
        key = sender.current_key().reveal_value()
        answer = httpx.get(
            f"{api.url}/api/validate/peppol-id",
            params={"peppol_id": receiver.peppol_id},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 200 and answer.json()["is_valid"], answer.text


def test_one_registration_failing_does_not_stop_the_seed(api):
    register = {"method": "POST", "path": "*/peppol/register", "status": 400, "times": None}
    api.set_faults(rules=[register])
    tenants = seed_demo_tenants()
    assert len(tenants) == 3 and all(t.current_key() is not None for t in tenants)
    assert not Tenant.objects.filter(peppol__registered=True).exists()
    api.clear_faults()
    seed_demo_tenants()  # the next run finishes the job
    assert all(t.peppol.registered for t in Tenant.objects.filter(test_mode=False))


def test_it_adopts_demo_tenants_that_exist_only_remotely(api):
    seed_demo_tenants()
    Tenant.objects.all().delete()  # a fresh portal database against the same sandbox
    tenants = seed_demo_tenants()
    assert len(tenants) == 3 and all(t.current_key() is not None for t in tenants)
