"""Creating a key from a job (onboarding, rotation) so that none is ever lost or left valid.

The Admin API shows a key's value once and has no idempotency keys. The key's name carries
the job (`job.key_name`). The first run creates the key and stores it, with the job's
progress, in one transaction. Any later run of the same step first lists the tenant's keys:
one with the job's name that the portal holds was stored by an earlier run (the crash came
after the commit) and is used; one it does not hold lost its answer and is revoked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from tenants import admin_api, audit, services
from tenants.jobs import runner
from tenants.models import ApiKey, Tenant


def revoke_orphans(tenant: Tenant, key_name: str, actor_label: str) -> tuple[ApiKey | None, int]:
    """Keys named `key_name` on the tenant: returns (a held one, if any; orphans revoked)."""
    listing = admin_api.list_api_keys(tenant.remote_id, limit=100)
    held: ApiKey | None = None
    revoked = 0
    for remote in listing.get("api_keys", []):
        if remote.get("name") != key_name or remote.get("is_deleted"):
            continue
        local = ApiKey.objects.filter(remote_id=remote["id"]).exclude(encrypted_value="").first()
        if local is not None and not local.is_revoked:
            held = local
            continue
        try:
            admin_api.revoke_api_key(tenant.remote_id, remote["id"])
        except admin_api.NotFound:
            pass  # revoked meanwhile
        audit.record(
            "key.revoke",
            tenant=tenant,
            target=key_name,
            actor_label=actor_label,
            changes={"revoked": [False, True], "note": [None, "orphan: its answer was lost"]},
        )
        revoked += 1
    return held, revoked


def create_job_key(
    job: Any,
    tenant: Tenant,
    description: str,
    *,
    make_current: bool,
    advance: Callable[[ApiKey], None],
) -> None:
    """Create the job's key (or find the one an earlier run stored) and `advance(key)`.

    `job` is an OnboardingJob or a KeyRotation: it has key_name, actor_label, step_attempts
    and orphans_revoked. `advance` records the next step; it runs in the transaction that
    stores a new key.
    """
    if job.step_attempts > 1:
        # An earlier run may have created the key and lost the answer (or crashed after).
        held, revoked = revoke_orphans(tenant, job.key_name, job.actor_label)
        if revoked:
            runner.save_progress(job, orphans_revoked=job.orphans_revoked + revoked)
        if held is not None:
            advance(held)
            return
    try:
        remote = admin_api.create_api_key(tenant.remote_id, job.key_name, description)
    except admin_api.AdminApiError as e:
        audit.record(
            "key.create",
            tenant=tenant,
            target=job.key_name,
            actor_label=job.actor_label,
            outcome="error",
            error=str(e),
        )
        raise
    runner.crash_point("after_key_created")
    with transaction.atomic():
        advance(
            services.store_created_key(tenant, remote, job.actor_label, make_current=make_current)
        )
