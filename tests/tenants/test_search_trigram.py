"""The tenant search's trigram indexes (core.trigram): on SQLite a table kept by the tenant
table's triggers, asked only when it narrows the search; on PostgreSQL an index over name
and description joined. Neither is the answer on its own: the columns' LIKE is."""

import pytest
from django.db import connection
from django.urls import reverse

from core import trigram
from tenants.models import Tenant

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the trigram table is SQLite's (PostgreSQL: GIN)"
)


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


def _names(client, q: str) -> list[str]:
    response = client.get(reverse("tenants:tenant_list"), {"q": q})
    return [t.name for t in response.context["page"].object_list]


@sqlite_only
def test_the_table_follows_creates_updates_and_deletes(as_alice, acme, globex):
    assert _names(as_alice, "glob") == ["globex"]
    Tenant.objects.filter(pk=globex.pk).update(name="initech", description="Initech")  # no save()
    assert _names(as_alice, "glob") == []
    assert _names(as_alice, "nitec") == ["initech"]
    Tenant.objects.bulk_create([Tenant(remote_id="t_umbrella", name="umbrella")])
    assert _names(as_alice, "brell") == ["umbrella"]
    Tenant.objects.filter(name="umbrella").delete()
    assert _names(as_alice, "brell") == []


@sqlite_only
def test_it_narrows_by_the_index_and_answers_by_like(as_alice, acme, globex):
    assert trigram.sqlite_candidates("tenants_tenant", [(("name",), "acm")]) is not None
    assert trigram.sqlite_candidates("tenants_tenant", [(("name",), "ac")]) is None  # too short
    assert _names(as_alice, 'ac"me') == []  # a quote is a character, not FTS5 syntax
    assert _names(as_alice, "ACME") == ["acme"]
    assert _names(as_alice, "0403.170.701") == ["acme"]  # the numbers, compacted


@sqlite_only
def test_a_broad_search_reads_the_list_in_its_order(as_alice, acme, globex, monkeypatch):
    monkeypatch.setattr(trigram, "CANDIDATES", 1)
    Tenant.objects.create(remote_id="t_acme2", name="acme two")
    assert trigram.sqlite_candidates("tenants_tenant", [(("name",), "acme")]) is None
    assert _names(as_alice, "acme") == ["acme", "acme two"]


def test_a_search_of_name_and_description_finds_either(as_alice, acme, globex):
    assert _names(as_alice, "globex nv") == ["globex"]  # the description
    assert _names(as_alice, "CME") == ["acme"]  # the name
    assert _names(as_alice, "acme\x1facme bv") == []  # not across the two columns
    assert _names(as_alice, "50%") == []  # a wildcard is a character
