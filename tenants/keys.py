"""A tenant's API keys: create (stored encrypted), rename, revoke, mirror the remote list.

Every change is audited with its outcome. A key the API created but the portal could not
store is revoked at once: no key that nobody holds stays valid.

Jobs (onboarding, rotation) create keys with `create_job_key`. The Admin API shows a key's
value once and has no idempotency keys, so the key's name carries the job
(`job.key_name`). The first run creates the key and stores it, with the job's progress, in
one transaction. Any later run of the same step first lists the tenant's keys: one with the
job's name that the portal holds was stored by an earlier run (the crash came after the
commit) and is used; one it does not hold lost its answer and is revoked.

Staff name their keys themselves, so a key created from the "New key" screen carries a mark
of its attempt in the description it is created with (`[portal:<token>]`; the mirror keeps
the description staff typed). When that answer is lost the screen finds the key by its
mark, revokes it (`revoke_orphans`, the jobs' path) and creates the key once more. A
marked key the portal does not hold that a Refresh finds, once no request can still be
storing it, is revoked too: no key that nobody holds stays valid.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core import audit, texts
from core.models import AuditEntry
from core.texts import Coded
from einvoice import admin as admin_api
from einvoice.errors import ApiError, NotFound
from jobs import runner
from tenants.mirror import ANSWER_MAY_BE_LOST, remote_time
from tenants.models import ApiKey, KeyRotation, OnboardingJob, Tenant

logger = logging.getLogger(__name__)

MARK_RE = re.compile(r"\s*\[portal:([0-9a-f]{8})\]$")
# A marked key older than this that the portal does not hold is an orphan: every request
# that could still be storing it has timed out long before.
ORPHAN_AGE = timedelta(minutes=10)
# Staff's "New key": how many creates to try when answers are lost.
CREATE_ATTEMPTS = 2


class KeyNotCreated(Exception):
    """The "New key" screen could not create a key the portal holds; the message says what
    the portal did about the keys whose answer was lost, and what staff should do (a Coded
    text: the audit log keeps it as a code, worded for each reader)."""


ANSWERS_LOST = texts.define(
    "key.answers_lost",
    gettext_lazy(
        "e-invoice.be's answer was lost %(times)s times, so the portal "
        "could not store a new key. The keys those attempts made were "
        "revoked (%(revoked)s): none is valid without the portal holding "
        "it. Try again in a minute."
    ),
)
ANSWER_LOST_UNCHECKED = texts.define(
    "key.answer_lost_unchecked",
    gettext_lazy(
        "e-invoice.be did not answer (%(detail)s), and the portal could not check "
        "whether a key was made. If one was, the portal cannot hold its value: a "
        "Refresh of the tenant in a few minutes revokes it. Then create the key again."
    ),
)


def _marked(description: str, mark: str) -> str:
    return f"{description} [portal:{mark}]".strip()


def mark_of(remote: dict) -> str:
    """The attempt mark of a remote key created from the "New key" screen, or ""."""
    found = MARK_RE.search(remote.get("description") or "")
    return found.group(1) if found else ""


def _promote_latest(tenant: Tenant) -> ApiKey | None:
    """Make the newest held, unrevoked key current (when the tenant has none)."""
    if tenant.current_key() is not None:
        return None
    candidate = (
        tenant.api_keys.filter(revoked_at__isnull=True)
        .exclude(encrypted_value="")
        .order_by("-created_at")
        .first()
    )
    if candidate:
        ApiKey.objects.filter(pk=candidate.pk).update(is_current=True)
        candidate.is_current = True
    return candidate


def create_key(
    tenant: Tenant,
    name: str,
    description: str,
    actor: audit.Actor,
    request: HttpRequest | None = None,
    make_current: bool = True,
) -> tuple[ApiKey, str]:
    """Create a key; store it encrypted; return it with its plaintext (for the one reveal).

    An answer that may be lost (no answer, a 5xx) leaves no key that nobody holds: the key
    of that attempt, found by its mark, is revoked and the create tried again (the API
    works: it made the key); KeyNotCreated when that did not give a stored key either. When
    no key was made the error is raised as it came."""
    for tries in range(1, CREATE_ATTEMPTS + 1):
        mark = secrets.token_hex(4)
        with audit.audited(
            "key.create",
            actor,
            request=request,
            tenant=tenant,
            target=name,
            # The mark in the log: a Refresh tells this portal's marks from another's.
            changes={"mark": [None, mark]},
            errors=(ApiError, KeyNotCreated),
        ) as attempt:
            try:
                remote = admin_api.create_api_key(
                    tenant.remote_id, name, _marked(description, mark)
                )
            except ANSWER_MAY_BE_LOST as lost:
                revoked = _revoke_lost(tenant, mark, actor, lost)
                if not revoked:
                    raise  # nothing was made: the error says what to do
                attempt.fail(f"{lost} (its answer was lost; the key it made was revoked)")
                if tries == CREATE_ATTEMPTS:
                    raise KeyNotCreated(
                        Coded(ANSWERS_LOST, times=CREATE_ATTEMPTS, revoked=revoked)
                    ) from None
                continue
            remote = {**remote, "description": description}  # the mark stays remote
            key = store_created_key(tenant, remote, attempt, make_current=make_current)
        return key, remote.get("key") or ""
    raise AssertionError("unreachable")


def _revoke_lost(tenant: Tenant, mark: str, actor: audit.Actor, lost: ApiError) -> int:
    """Revoke the key a create whose answer was lost may have made; how many were."""
    try:
        _held, revoked = revoke_orphans(tenant, lambda remote: mark_of(remote) == mark, actor)
    except ApiError:
        logger.warning("key create answer lost on %s and the key list unreadable", tenant)
        raise KeyNotCreated(Coded(ANSWER_LOST_UNCHECKED, detail=str(lost))) from None
    return revoked


def _store(tenant: Tenant, remote: dict, actor: audit.Actor, make_current: bool) -> ApiKey:
    with transaction.atomic():
        if make_current:
            tenant.api_keys.filter(is_current=True).update(is_current=False)
        key = ApiKey(
            tenant=tenant,
            remote_id=remote["id"],
            name=remote.get("name") or "",
            description=remote.get("description") or "",
            is_current=make_current,
            remote_created_at=remote_time(remote.get("created_at")),
            created_by=None if isinstance(actor, str) else actor,
        )
        if not remote.get("key"):
            # An answer without the value: storing it would make a key nobody holds current.
            raise ValueError("the answer carries no key value")
        key.set_value(remote["key"])
        key.save()
    return key


def store_created_key(
    tenant: Tenant,
    remote: dict,
    attempt: audit.Attempt,
    *,
    make_current: bool,
    then: Callable[[ApiKey], None] | None = None,
) -> ApiKey:
    """Store a key the API just created (its one answer, `remote`) encrypted, and record
    the `key.create` attempt's outcome.

    Runs inside the caller's transaction when there is one (a job records its progress in
    the same commit: `then(key)`, run before the outcome is recorded, whose append holds the
    audit chain's lock until the commit). If storing fails the key is revoked: no key nobody
    holds stays valid.
    """
    remote = {**remote, "name": remote.get("name") or attempt.target}
    attempt.target = remote["name"]
    mark = (attempt.changes or {}).get("mark")
    try:
        key = _store(tenant, remote, attempt.actor, make_current)
    except Exception as e:
        logger.error("storing new key %s of %s failed; revoking it", remote.get("id"), tenant)
        try:
            admin_api.revoke_api_key(tenant.remote_id, remote["id"])
        except ApiError:
            logger.error("revoking orphan key %s failed", remote.get("id"))
        attempt.fail(f"could not store the new key ({type(e).__name__}); revoked it")
        raise
    if then is not None:
        then(key)
    changes = {"fingerprint": [None, key.fingerprint], "is_current": [None, make_current]}
    attempt.succeed(target=key.name, changes={**changes, **({"mark": mark} if mark else {})})
    return key


def rename_key(
    api_key: ApiKey,
    name: str,
    description: str,
    actor: audit.Actor,
    request: HttpRequest | None = None,
) -> ApiKey:
    before = {"name": api_key.name, "description": api_key.description}
    with audit.audited(
        "key.update",
        actor,
        request=request,
        tenant=api_key.tenant,
        target=api_key.name,
        errors=ApiError,
    ) as attempt:
        remote = admin_api.update_api_key(
            api_key.tenant.remote_id, api_key.remote_id, name, description
        )
        api_key.name = remote.get("name") or name
        api_key.description = remote.get("description") or ""
        api_key.save(update_fields=["name", "description"])
        after = {"name": api_key.name, "description": api_key.description}
        attempt.target, attempt.changes = api_key.name, audit.diff(before, after)
    return api_key


def revoke_key(api_key: ApiKey, actor: audit.Actor, request: HttpRequest | None = None) -> None:
    """Revoke remotely, then locally; the stored value is wiped. If it was the current key,
    the newest other held key becomes current."""
    tenant = api_key.tenant
    changes: dict[str, Any] = {"revoked": [False, True]}
    with audit.audited(
        "key.revoke",
        actor,
        request=request,
        tenant=tenant,
        target=api_key.name,
        errors=ApiError,
    ) as attempt:
        try:
            admin_api.revoke_api_key(tenant.remote_id, api_key.remote_id)
        except NotFound:
            changes["note"] = [None, "already revoked on e-invoice.be"]
        with transaction.atomic():
            was_current = api_key.is_current
            ApiKey.objects.filter(pk=api_key.pk).update(
                revoked_at=timezone.now(), is_current=False, encrypted_value=""
            )
            api_key.refresh_from_db()
            promoted = _promote_latest(tenant) if was_current else None
        if was_current:
            changes["is_current"] = [True, False]
        if promoted:
            changes["current_key"] = [api_key.name, promoted.name]
        attempt.changes = changes


def sync_keys(tenant: Tenant, actor: audit.Actor = "system") -> list[ApiKey]:
    """Mirror the remote key list: keys revoked elsewhere are marked revoked; keys created
    elsewhere are adopted (without a value: the API never returns it again, so never as
    the current key). A key of the portal's own whose answer was lost (marked by the "New
    key" screen, or named by a job) is revoked instead, once nothing can still store it."""
    remote_keys = admin_api.list_api_keys(tenant.remote_id).get("api_keys", [])
    now = timezone.now()
    for remote in remote_keys:
        if _stale_orphan(tenant, remote, now):
            _revoke_orphan(tenant, remote, actor)
            remote["is_deleted"] = True
    with transaction.atomic():
        for remote in remote_keys:
            key = ApiKey.objects.filter(remote_id=remote["id"]).first()
            if key is None:
                key = ApiKey.objects.create(
                    tenant=tenant,
                    remote_id=remote["id"],
                    name=remote.get("name") or "",
                    description=MARK_RE.sub("", remote.get("description") or ""),
                    remote_created_at=remote_time(remote.get("created_at")),
                    created_at=remote_time(remote.get("created_at")) or now,
                    revoked_at=now if remote.get("is_deleted") else None,
                )
            elif remote.get("is_deleted") and not key.is_revoked:
                ApiKey.objects.filter(pk=key.pk).update(
                    revoked_at=now, is_current=False, encrypted_value=""
                )
        _promote_latest(tenant)
    return list(tenant.api_keys.all())


JOB_KEY_RE = re.compile(r"^portal-(onboarding|rotation)-(\d+)-([0-9a-f]{8})$")


def _made_here(tenant: Tenant, remote: dict) -> bool:
    """Did this portal (not another one on the same organization key) create the key: a job
    of ours by its name, or a "New key" attempt whose mark our audit log holds?"""
    job_name = JOB_KEY_RE.match(remote.get("name") or "")
    if job_name:
        kind, pk, token = job_name.groups()
        model = OnboardingJob if kind == "onboarding" else KeyRotation
        return model.objects.filter(pk=int(pk), token=token).exists()
    mark = mark_of(remote)
    if not mark:
        return False
    attempts = AuditEntry.objects.filter(tenant=tenant, action="key.create")
    return any((e.changes or {}).get("mark") in ([None, mark], mark) for e in attempts)


def _stale_orphan(tenant: Tenant, remote: dict, now) -> bool:
    """A live key this portal made but does not hold, old enough that no request or job
    run can still be storing it."""
    if remote.get("is_deleted"):
        return False
    created = remote_time(remote.get("created_at"))
    if created is None or now - created < ORPHAN_AGE:
        return False
    held = ApiKey.objects.filter(remote_id=remote["id"], revoked_at__isnull=True)
    if held.exclude(encrypted_value="").exists():
        return False
    return _made_here(tenant, remote)


# --- keys created by jobs -------------------------------------------------------------------
def _revoke_orphan(tenant: Tenant, remote: dict, actor: audit.Actor) -> None:
    try:
        admin_api.revoke_api_key(tenant.remote_id, remote["id"])
    except NotFound:
        pass  # revoked meanwhile
    audit.record(
        "key.revoke",
        tenant=tenant,
        target=remote.get("name") or "",
        actor=actor,
        changes={"revoked": [False, True], "note": [None, "orphan: its answer was lost"]},
    )


def revoke_orphans(
    tenant: Tenant, ours: Callable[[dict], bool], actor: audit.Actor
) -> tuple[ApiKey | None, int]:
    """The tenant's live keys that `ours` recognises (by a job's key name, or the mark of a
    "New key" attempt): returns (a held one, if any; how many that the portal does not hold
    were revoked)."""
    listing = admin_api.list_api_keys(tenant.remote_id, limit=100)
    held: ApiKey | None = None
    revoked = 0
    for remote in listing.get("api_keys", []):
        if remote.get("is_deleted") or not ours(remote):
            continue
        local = ApiKey.objects.filter(remote_id=remote["id"]).exclude(encrypted_value="").first()
        if local is not None and not local.is_revoked:
            held = local
            continue
        _revoke_orphan(tenant, remote, actor)
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
        held, revoked = revoke_orphans(
            tenant, lambda remote: remote.get("name") == job.key_name, job.actor_label
        )
        if revoked:
            runner.save_progress(job, orphans_revoked=job.orphans_revoked + revoked)
        if held is not None:
            advance(held)
            return
    with audit.audited(
        "key.create",
        job.actor_label,
        tenant=tenant,
        target=job.key_name,
        errors=ApiError,
    ) as attempt:
        remote = admin_api.create_api_key(tenant.remote_id, job.key_name, description)
        with transaction.atomic():
            store_created_key(tenant, remote, attempt, make_current=make_current, then=advance)
