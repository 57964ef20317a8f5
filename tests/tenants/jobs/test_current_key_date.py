"""The current key's date on the tenant row (Tenant.current_key_created_at): the list sorts
and filters by it, so it must follow every change of the current key — a new key, a
rotation's switch, a revoke, a refresh that finds a key revoked elsewhere, a delete."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from jobs.models import JobState
from tenants import keys, mirror, rotation
from tenants.models import ApiKey, Tenant
from tenants.models.jobs import KeyRotation, RotationPhase
from tests.tenants.jobs.conftest import customer, run_until_finished, start

pytestmark = pytest.mark.django_db


def _stored(tenant: Tenant):
    return Tenant.objects.values_list("current_key_created_at", flat=True).get(pk=tenant.pk)


def _current_date(tenant: Tenant):
    key = tenant.current_key()
    return None if key is None else key.created_at


@pytest.fixture
def onboarded(on_sandbox):
    job = run_until_finished(start(customer(7), register_peppol=False))
    return Tenant.objects.get(pk=job.tenant_id)


def test_it_keeps_the_date_of_the_key_created_then_revoked(onboarded, alice):
    first = onboarded.current_key()
    assert first is not None and _stored(onboarded) == first.created_at

    second, _value = keys.create_key(onboarded, "second", "", alice)
    assert _stored(onboarded) == second.created_at != first.created_at

    keys.revoke_key(second, alice)  # the first one becomes current again
    assert _stored(onboarded) == first.created_at == _current_date(onboarded)

    keys.revoke_key(ApiKey.objects.get(pk=first.pk), alice)
    assert onboarded.current_key() is None and _stored(onboarded) is None


def test_it_follows_a_rotations_switch(onboarded, settings):
    settings.KEY_ROTATION_GRACE_HOURS = 24
    old = onboarded.current_key()
    rot = rotation.start(onboarded, reason=KeyRotation.REASON_MANUAL)
    for _ in range(10):
        rotation.run(rot.pk)
        rot.refresh_from_db()
        if rot.phase == RotationPhase.GRACE:
            break
        KeyRotation.objects.filter(pk=rot.pk, state=JobState.WAITING).update(
            next_attempt_at=timezone.now()
        )
    assert rot.phase == RotationPhase.GRACE and rot.new_key_id != old.pk
    assert _stored(onboarded) == rot.new_key.created_at == _current_date(onboarded)


def test_it_follows_a_refresh_that_finds_the_key_revoked_elsewhere(onboarded, on_sandbox):
    key = onboarded.current_key()
    response = on_sandbox.admin(
        "DELETE", f"/api/admin/tenants/{onboarded.remote_id}/api-keys/{key.remote_id}"
    )
    assert response.status_code in (200, 204), response.text
    keys.sync_keys(onboarded)
    assert onboarded.current_key() is None and _stored(onboarded) is None


def test_it_is_cleared_when_the_tenant_is_deleted(onboarded, alice):
    mirror.delete_tenant(onboarded, alice)
    assert _stored(onboarded) is None


def test_it_is_backfilled_by_its_migration(acme, globex):
    old = timezone.now() - timedelta(days=200)
    ApiKey.objects.create(tenant=acme, remote_id="k1", name="k", created_at=old - timedelta(1))
    ApiKey.objects.create(tenant=acme, remote_id="k2", name="k", is_current=True, created_at=old)
    Tenant.objects.update(current_key_created_at=None)  # as before the migration
    importlib.import_module("tenants.migrations.0015_current_key_date").backfill(apps, None)
    assert (_stored(acme), _stored(globex)) == (old, None)


def test_it_sorts_the_list_by_the_tenant_rows_date(client, alice, acme, globex):
    client.force_login(alice)
    now = timezone.now()
    ApiKey.objects.create(tenant=acme, remote_id="k1", name="k", is_current=True, created_at=now)
    ApiKey.objects.create(
        tenant=globex, remote_id="k2", name="k", is_current=True, created_at=now - timedelta(9)
    )
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("tenants:tenant_list"), {"sort": "key_age"})
    assert [t.name for t in response.context["page"].object_list] == ["globex", "acme"]
    listing = next(q["sql"] for q in ctx.captured_queries if "LIMIT 51" in q["sql"])
    assert 'ORDER BY "tenants_tenant"."current_key_created_at" ASC' in listing
