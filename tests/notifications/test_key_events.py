"""A rotated key is news for staff and the reseller's systems, but its value never travels:
not in an email, not in a webhook payload."""

from __future__ import annotations

from django.core import mail

from notifications import preferences
from tenants import rotation
from tenants.models import Tenant
from tenants.models.jobs import KeyRotation, RotationPhase
from tests.notifications.conftest import drive
from tests.tenants.jobs.conftest import (  # noqa: F401 - fixtures
    customer,
    fast_jobs,
    no_broker,
    run_until_finished,
    start,
)
from tests.tenants.jobs.test_rotation import drive as drive_rotation


def test_it_tells_of_a_rotated_key_without_its_value(portal_on_sandbox, alice, endpoint, receiver):
    preferences.save(alice, {"key.rotated": "immediate"})
    tenant = Tenant.objects.get(pk=run_until_finished(start(customer(3))).tenant_id)
    old_value = tenant.current_key().reveal_value()
    rot = drive_rotation(
        rotation.start(tenant, reason=KeyRotation.REASON_MANUAL), RotationPhase.GRACE
    )
    new_value = tenant.current_key().reveal_value()
    assert rot.phase == RotationPhase.GRACE and new_value != old_value

    drive()
    [hook] = [r for r in receiver.received if r.event["type"] == "key.rotated"]
    assert hook.verified and hook.event["data"]["tenant"]["name"] == tenant.name
    [told] = [m for m in mail.outbox if m.to == [alice.email]]
    assert tenant.name in told.body and "renewed" in told.body
    for secret in (old_value, new_value):
        assert secret not in hook.body.decode()
        assert all(secret not in m.body for m in mail.outbox)
