"""The mirror's guarantees that live in the database."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tenants.models import ApiKey, Tenant

KEY = "einv_live_canary_models_1234567890"


def _key(tenant, remote_id, **kw) -> ApiKey:
    key = ApiKey(tenant=tenant, remote_id=remote_id, name=remote_id, **kw)
    key.set_value(KEY)
    key.save()
    return key


def test_a_tenant_has_at_most_one_current_key(acme):
    _key(acme, "k1", is_current=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        _key(acme, "k2", is_current=True)


def test_a_revoked_key_cannot_be_current(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        _key(acme, "k1", is_current=True, revoked_at=timezone.now())


def test_remote_ids_are_unique(acme, globex):
    _key(acme, "k1")
    with pytest.raises(IntegrityError), transaction.atomic():
        _key(globex, "k1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenant.objects.create(remote_id=acme.remote_id, name="other")


def test_the_value_is_stored_encrypted_with_a_fingerprint(acme):
    key = _key(acme, "k1")
    stored = ApiKey.objects.values_list("encrypted_value", "fingerprint").get(pk=key.pk)
    assert KEY not in stored[0] and stored[1].endswith(KEY[-4:]) and KEY not in stored[1]
    assert ApiKey.objects.get(pk=key.pk).reveal_value() == KEY


def test_due_for_rotation_follows_each_tenants_policy(acme, globex, settings):
    settings.KEY_ROTATION_DAYS = 90
    now = timezone.now()
    _key(acme, "k1", is_current=True, created_at=now - timedelta(days=40))
    _key(globex, "k2", is_current=True, created_at=now - timedelta(days=40))
    _key(globex, "k3", created_at=now - timedelta(days=400))  # old but not current
    assert list(Tenant.objects.due_for_rotation()) == []
    Tenant.objects.filter(pk=acme.pk).update(rotation_days=30)
    assert list(Tenant.objects.due_for_rotation()) == [acme]
    assert list(Tenant.objects.due_for_rotation(now=now + timedelta(days=60))) == [acme, globex]


def test_only_one_of_two_reveals_wins(acme):
    key = _key(acme, "k1")
    first, second = ApiKey.objects.get(pk=key.pk), ApiKey.objects.get(pk=key.pk)
    assert [first.claim_reveal(), second.claim_reveal()] == [True, False]


@pytest.mark.django_db(transaction=True)
def test_two_tabs_racing_to_reveal_see_it_once():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("shared-cache in-memory SQLite has table locks; runs on a file or PostgreSQL")
    tenant = Tenant.objects.create(remote_id="t1", name="t1")
    key = _key(tenant, "k1")
    wins = []
    barrier = threading.Barrier(6)

    def tab():
        try:
            mine = ApiKey.objects.get(pk=key.pk)
            barrier.wait()
            wins.append(mine.claim_reveal())
        finally:
            connection.close()

    threads = [threading.Thread(target=tab) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 5 + [True]
