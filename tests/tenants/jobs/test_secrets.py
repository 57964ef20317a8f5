"""Canary: after onboarding and a rotation (with a lost answer and a retry on the way), no
key value appears in a log line, an audit row, a job row, a staff page or an email."""

from __future__ import annotations

import json
import logging

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from core.models import AuditEntry
from tenants import rotation
from tenants.models import ApiKey
from tenants.models.jobs import KeyRotation, OnboardingJob
from tests.conftest import make_user
from tests.tenants.jobs.conftest import customer, run_until_finished, start

pytestmark = pytest.mark.django_db


def test_it_never_writes_a_key_value_anywhere_but_the_encrypted_column(
    on_sandbox, client, alice, caplog
):
    caplog.set_level(logging.DEBUG)
    on_sandbox.set_faults(
        rules=[
            {
                "method": "POST",
                "path": "/api/admin/tenants/*/api-keys",
                "action": "drop_after_write",
            },
            {"method": "POST", "path": "/api/admin/tenants/*/peppol/register", "status": 503},
        ]
    )
    job = run_until_finished(start(customer(1)))
    make_user("dora", Role.CUSTOMER, job.tenant)
    rot = rotation.start(job.tenant, reason="manual")
    for _ in range(6):
        KeyRotation.objects.filter(pk=rot.pk).update(
            next_attempt_at=timezone.now(), grace_until=timezone.now()
        )
        rotation.run(rot.pk)
    secrets = [k.reveal_value() for k in ApiKey.objects.exclude(encrypted_value="")]
    secrets.append(on_sandbox.org_key)
    assert len(secrets) >= 2

    client.force_login(alice)
    places = {
        "logs": caplog.text,
        "audit": json.dumps(
            list(AuditEntry.objects.values("actor", "action", "target", "error", "changes")),
            default=str,
        ),
        "jobs": json.dumps(list(OnboardingJob.objects.values()), default=str),
        "rotations": json.dumps(list(KeyRotation.objects.values()), default=str),
        "job page": client.get(reverse("tenants:job", args=[job.pk])).content.decode(),
        "jobs page": client.get(reverse("tenants:jobs")).content.decode(),
        "rotation page": client.get(
            reverse("tenants:tenant_rotation", args=[job.tenant_id])
        ).content.decode(),
        "mail": "\n".join(m.subject + m.body for m in mail.outbox),
    }
    for place, text in places.items():
        for value in secrets:
            assert value not in text, f"a key value leaked into the {place}"
    assert mail.outbox and "key.create" in places["audit"]
