"""The tenants on e-invoice.be and their local mirror: create, update, delete, refresh.

Each change does the remote call (einvoice.admin), updates the mirror, and is audited with
its outcome (core.audit.audited: success, or the error, re-raised for the caller to show or
to retry). `actor` is a User (staff) or a label like "job:onboarding#4".

Creating a tenant can lose its answer (a timeout, a dropped connection, a 5xx after the
write): the API has no idempotency keys. The staff form and the onboarding job share one
recovery (`create_or_adopt`, design-notes §1): after a lost answer or a 409, the remote
tenant of that name is looked up; if it is the same company it is the one this attempt
created, and it is adopted, unless the portal already has it or another live onboarding
job is creating it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core import audit
from einvoice import admin as admin_api
from einvoice.errors import ApiError, Conflict, NotFound, ServerError, TransportError
from jobs.models import ACTIVE_STATES
from tenants.errors import InvalidFields
from tenants.identifiers import clean_tenant_fields, company_key, name_key
from tenants.models import OnboardingJob, PeppolRegistration, Tenant

# A write that failed with one of these may still have happened on e-invoice.be: no answer
# came (timeout, dropped connection), or a 5xx came after the write.
ANSWER_MAY_BE_LOST = (TransportError, ServerError)

MIRROR_FIELDS = (
    "name",
    "description",
    "company_number",
    "company_tax_id",
    "peppol_id",
    "test_mode",
)


def remote_time(value: Any) -> datetime | None:
    """A timestamp of an Admin API answer (UTC when it carries no zone)."""
    if not value:
        return None
    parsed = parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def _snapshot(tenant: Tenant) -> dict[str, Any]:
    return {f: getattr(tenant, f) for f in MIRROR_FIELDS}


def _clean(data: dict, current_name: str = "") -> dict[str, Any]:
    cleaned, errors = clean_tenant_fields(data, suggest=False)
    if current_name and cleaned["name"] == current_name:
        errors.pop("name", None)  # exists on e-invoice.be already, whatever our rule says
    if errors:
        raise InvalidFields(errors)
    cleaned["test_mode"] = bool(data.get("test_mode", False))
    return cleaned


def remote_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The Admin API's body for a tenant with these mirror fields (create and update).

    `peppol_ids` is always sent, `[]` when there is no Peppol ID: the guide makes it an
    array, and an update (PUT) that left it out would keep an ID staff just removed."""
    peppol_id = values.get("peppol_id") or ""
    return {
        "name": values["name"],
        "description": values.get("description") or None,
        "company_number": values.get("company_number") or None,
        "company_tax_id": values.get("company_tax_id") or None,
        "peppol_ids": [peppol_id] if peppol_id else [],
        "test_mode": bool(values.get("test_mode", False)),
    }


def remote_values(remote: dict) -> dict[str, Any]:
    """The mirrored fields of a tenant as an Admin API answer gives them."""
    peppol_ids = remote.get("peppol_ids") or []
    return {
        "name": remote.get("name") or "",
        "description": remote.get("description") or "",
        "company_number": remote.get("company_number") or "",
        "company_tax_id": remote.get("company_tax_id") or "",
        "peppol_id": peppol_ids[0] if peppol_ids else "",
        "is_deleted": bool(remote.get("is_deleted", False)),
    }


def mirror_tenant(remote: dict) -> Tenant:
    """Insert or update the mirror row of a tenant from an Admin API answer."""
    values: dict[str, Any] = {
        **remote_values(remote),
        "remote_created_at": remote_time(remote.get("created_at")),
        "remote_updated_at": remote_time(remote.get("updated_at")),
        "last_synced_at": timezone.now(),
    }
    if "test_mode" in remote:  # the list answer of the guide omits it: keep what we know
        values["test_mode"] = bool(remote["test_mode"])
    tenant, _created = Tenant.objects.update_or_create(remote_id=remote["id"], defaults=values)
    return tenant


# --- create, or adopt after a lost answer ----------------------------------------------
def same_company(requested: Mapping[str, Any], remote: dict) -> bool:
    """Is the remote tenant the company of the request? (Then a tenant of that name is the
    one an earlier attempt created and lost the answer of.)"""

    def norm(value: Any) -> str:
        return re.sub(r"[^A-Z0-9]", "", str(value or "").upper())

    pairs = [
        (requested.get("company_number"), remote.get("company_number")),
        (requested.get("company_tax_id"), remote.get("company_tax_id")),
    ]
    given = [(norm(a), norm(b)) for a, b in pairs if norm(a)]
    if given:
        return all(a == b for a, b in given)
    # No identifier requested: only the same company name can show it is ours.
    description = requested.get("description") or ""
    return bool(description) and description == (remote.get("description") or "")


def find_remote_tenant(name: str) -> dict | None:
    """The remote tenant whose name is (similar to) `name`, paging with the fewest calls."""
    wanted = name_key(name)
    for remote in admin_api.iter_tenants(page_size=100):
        if name_key(str(remote.get("name", ""))) == wanted:
            if "company_number" not in remote:  # the guide's list shows fewer fields
                remote = admin_api.get_tenant(remote["id"])
            return remote
    return None


def live_onboarding(
    name: str, company_number: str = "", exclude: OnboardingJob | None = None
) -> OnboardingJob | None:
    """A queued, running or waiting onboarding of this name or company number."""
    # The raw values too: the migration left the keys empty on double submits in flight.
    match = Q(name_key=name_key(name)) | Q(name__iexact=name)
    if company_key(company_number):
        match |= Q(company_key=company_key(company_number)) | Q(company_number=company_number)
    jobs = OnboardingJob.objects.filter(match, state__in=ACTIVE_STATES)
    if exclude is not None:
        jobs = jobs.exclude(pk=exclude.pk)
    return jobs.order_by("created_at", "pk").first()


@dataclass
class Refusal:
    """Why this company's remote tenant must not be adopted: `reason` is "deleted" (names
    stay taken), "onboarding" (another live job is creating it: `job`) or "mirrored" (the
    portal has it already, with a key or a job of its own: `tenant`)."""

    reason: str
    job: OnboardingJob | None = None
    tenant: Tenant | None = None


class NotAdoptable(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


def adoption_refusal(
    requested: Mapping[str, Any], remote: dict, job: OnboardingJob | None = None
) -> Refusal | None:
    """None when this company's remote tenant can be what this attempt created."""
    if remote.get("is_deleted"):
        return Refusal("deleted")
    other = live_onboarding(requested["name"], requested.get("company_number") or "", job)
    if other is not None:
        return Refusal("onboarding", job=other)
    local = Tenant.objects.filter(remote_id=remote["id"]).first()
    if local is None:
        return None
    onboarded = OnboardingJob.objects.filter(tenant=local)
    if job is not None:
        onboarded = onboarded.exclude(pk=job.pk)
    if onboarded.exists() or local.api_keys.current().exclude(encrypted_value="").exists():
        return Refusal("mirrored", tenant=local)
    return None


def create_or_adopt(
    requested: Mapping[str, Any], job: OnboardingJob | None = None
) -> tuple[dict, bool]:
    """POST the tenant; returns (its answer, False), or (this company's tenant, True) when an
    earlier attempt, or this one, created it and the answer was lost.

    Raises Conflict when the name belongs to another company, NotAdoptable when it is this
    company's but not ours to take, and the original error when a lost answer left nothing
    to find (the same call may work later)."""
    try:
        return admin_api.create_tenant(**remote_fields(requested)), False
    except Conflict:
        remote = find_remote_tenant(requested["name"])
        if remote is None or not same_company(requested, remote):
            raise
    except ANSWER_MAY_BE_LOST as lost:
        try:
            remote = find_remote_tenant(requested["name"])
        except ApiError:
            remote = None
        if remote is None or not same_company(requested, remote):
            raise lost from None
    refusal = adoption_refusal(requested, remote, job)
    if refusal is not None:
        raise NotAdoptable(refusal)
    return remote, True


def create_tenant(data: dict, actor: audit.Actor, request: HttpRequest | None = None) -> Tenant:
    return create_or_adopt_tenant(data, actor, request)[0]


def create_or_adopt_tenant(
    data: dict, actor: audit.Actor, request: HttpRequest | None = None
) -> tuple[Tenant, bool]:
    """The staff form's create: (the tenant, True if it was adopted after a lost answer).

    A tenant that is this company's but not adoptable (deleted, another job's, already
    mirrored) is refused like a taken name (Conflict), or with NotAdoptable when a live
    onboarding job is creating it."""
    cleaned = _clean(data)
    with audit.audited(
        "tenant.create",
        actor,
        request=request,
        target=cleaned["name"],
        errors=(ApiError, NotAdoptable),
    ) as attempt:
        try:
            # The job will create (or has created) this company's tenant: nothing to send.
            other = live_onboarding(cleaned["name"], cleaned.get("company_number") or "")
            if other is not None:
                raise NotAdoptable(Refusal("onboarding", job=other))
            remote, adopted = create_or_adopt(cleaned)
        except NotAdoptable as e:
            if e.refusal.reason == "onboarding":
                raise
            attempt.fail(f"name taken ({e.refusal.reason})")
            raise Conflict("The tenant name is already used on e-invoice.be.", status=409) from None
        tenant = mirror_tenant(remote)
        attempt.tenant, attempt.target = tenant, ""
        attempt.changes = {
            f: [None, v] for f, v in _snapshot(tenant).items() if v not in ("", None, False)
        }
        if adopted:
            attempt.action = "tenant.adopt"
            attempt.changes["note"] = [None, "its answer was lost: found and adopted"]
    return tenant, adopted


def update_tenant(
    tenant: Tenant, data: dict, actor: audit.Actor, request: HttpRequest | None = None
) -> Tenant:
    cleaned = _clean({**_snapshot(tenant), **data}, current_name=tenant.name)
    before = _snapshot(tenant)
    wanted = audit.diff(before, {**before, **{f: cleaned[f] for f in MIRROR_FIELDS}})
    with audit.audited(
        "tenant.update",
        actor,
        request=request,
        tenant=tenant,
        changes=wanted,
        errors=ApiError,
    ) as attempt:
        tenant = mirror_tenant(admin_api.update_tenant(tenant.remote_id, **remote_fields(cleaned)))
        attempt.tenant, attempt.changes = tenant, audit.diff(before, _snapshot(tenant))
    return tenant


def refresh_tenant(tenant: Tenant) -> Tenant:
    """Re-read one tenant from the API into the mirror (a read: not audited)."""
    return mirror_tenant(admin_api.get_tenant(tenant.remote_id))


def _mark_deleted(tenant: Tenant) -> dict[str, Any]:
    """The mirror's side of a delete; returns the audit changes."""
    now = timezone.now()
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(is_deleted=True, last_synced_at=now)
        # Its keys stopped working with it: keep no value that nobody can use.
        revoked = tenant.api_keys.filter(revoked_at__isnull=True).update(
            revoked_at=now, is_current=False, encrypted_value=""
        )
        # Its customers have nothing left to do in the portal.
        logins = tenant.users.filter(is_active=True).update(is_active=False)
        # Its Peppol registration ended with it.
        PeppolRegistration.objects.filter(tenant=tenant, registered=True).update(
            registered=False, status="", peppol_id="", registered_at=None
        )
    tenant.is_deleted = True
    changes: dict[str, Any] = {"is_deleted": [False, True]}
    if revoked:
        changes["keys_revoked"] = [None, revoked]
    if logins:
        changes["logins_deactivated"] = [None, logins]
    return changes


def delete_tenant(tenant: Tenant, actor: audit.Actor, request: HttpRequest | None = None) -> None:
    """Soft delete, on e-invoice.be and in the mirror."""
    with audit.audited(
        "tenant.delete", actor, request=request, tenant=tenant, errors=ApiError
    ) as attempt:
        note = ""
        try:
            remote = admin_api.delete_tenant(tenant.remote_id)
        except NotFound:
            remote, note = None, "already gone on e-invoice.be"
        if isinstance(remote, dict) and remote.get("id"):
            tenant = attempt.tenant = mirror_tenant(remote)
        attempt.changes = _mark_deleted(tenant)
        if note:
            attempt.changes["note"] = [None, note]
