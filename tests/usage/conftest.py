"""Tenants of the usage tests: on the sandbox with a key the portal holds, and past usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tenants.models import Tenant
from tests.invoices.conftest import mirror


def utc_today():
    return datetime.now(UTC).date()


def fleet_on_sandbox(sandbox, count: int, *, prefix: str = "usage") -> list[tuple[Tenant, dict]]:
    """`count` tenants on the sandbox and in the mirror, each with a held key; tenant i sent
    i + 1 documents and received 1 on each of the last 10 days, with 1000 × (i + 1) credits."""
    sandbox.configure(rate_per_minute=0, rate_per_hour=0)  # the setup, not the portal's pace
    made = []
    for i in range(count):
        remote, key = sandbox.create_tenant_with_key(f"{prefix}-{i:03d}")
        tenant = Tenant.objects.create(remote_id=remote["id"], name=remote["name"])
        mirror(tenant, remote, key)
        days = [
            {"day": utc_today() - timedelta(days=n), "sent": i + 1, "received": 1}
            for n in range(10)
        ]
        sandbox.add_usage(remote["id"], days, plan="pro", credit_balance=1000 * (i + 1))
        made.append((tenant, remote))
    return made


@pytest.fixture
def usage_sandbox(db, portal_on_sandbox, settings):
    settings.USAGE_CALLS_PER_MINUTE = 1000  # every due tenant in one run of collect_due
    return portal_on_sandbox


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client
