"""seed_demo_tenants() against the sandbox: three tenants, current keys, idempotent."""

from tenants.demo import seed_demo_tenants
from tenants.models import Tenant
from tests.tenants.conftest import requests_to


def test_it_seeds_three_demo_tenants_once(api):
    tenants = seed_demo_tenants()
    assert [t.name for t in tenants] == ["dijle-software", "kust-logistiek", "atelier-lumiere"]
    assert all(t.current_key() is not None for t in tenants)
    by_name = {t.name: t for t in Tenant.objects.all()}
    assert by_name["dijle-software"].peppol.registered
    assert by_name["atelier-lumiere"].test_mode
    creates = len(requests_to(api, "POST", "/api/admin/tenants"))

    again = seed_demo_tenants()
    assert [t.pk for t in again] == [t.pk for t in tenants]
    assert len(requests_to(api, "POST", "/api/admin/tenants")) == creates  # nothing new


def test_it_adopts_demo_tenants_that_exist_only_remotely(api):
    seed_demo_tenants()
    Tenant.objects.all().delete()  # a fresh portal database against the same sandbox
    tenants = seed_demo_tenants()
    assert len(tenants) == 3 and all(t.current_key() is not None for t in tenants)
