"""The operations on tenants that both the staff screens and the jobs call.

Each does the remote call (tenants.admin_api), updates the local mirror, and appends an
audit entry with the outcome: success, or the error text (then the error is re-raised for
the caller to show or to retry). `actor` is a User (staff) or a label like "job:rotation#4".
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from tenants import admin_api, audit, checks
from tenants.identifiers import clean_tenant_fields
from tenants.models import ApiKey, PeppolRegistration, Tenant

logger = logging.getLogger(__name__)

Actor = Any  # a User, or a job label string
MIRROR_FIELDS = (
    "name",
    "description",
    "company_number",
    "company_tax_id",
    "peppol_id",
    "test_mode",
)


class InvalidFields(Exception):
    """Input refused by our own checks before any remote call: {field: [messages]}."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{f}: {' '.join(m)}" for f, m in errors.items()))
        self.errors = errors


class PeppolUnavailable(Exception):
    """Registration cannot be attempted (reason: "test_mode" or "no_peppol_id")."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- helpers --------------------------------------------------------------------------
def _actor(actor: Actor) -> dict[str, Any]:
    if isinstance(actor, str):
        return {"actor_label": actor}
    return {"user": actor}


def _record(
    action: str,
    actor: Actor,
    request: HttpRequest | None,
    *,
    tenant: Tenant | None = None,
    target: str = "",
    error: Exception | None = None,
    changes: dict | None = None,
) -> None:
    audit.record(
        action,
        tenant=tenant,
        target=target,
        request=request,
        outcome="error" if error else "success",
        error=str(error) if error else "",
        changes=changes,
        **_actor(actor),
    )


def _dt(value: Any) -> datetime | None:
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


def _remote_fields(cleaned: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": cleaned["name"],
        "description": cleaned["description"] or None,
        "company_number": cleaned["company_number"] or None,
        "company_tax_id": cleaned["company_tax_id"] or None,
        "peppol_ids": [cleaned["peppol_id"]] if cleaned["peppol_id"] else [],
        "test_mode": cleaned["test_mode"],
    }


def _similar(name: str) -> str:
    # e-invoice.be treats names that differ only in separators as the same name.
    return re.sub(r"[^a-z0-9]", "", name.lower())


def suggest_free_name(name: str) -> str:
    """`acme` → `acme-2` (or the next number not already in the mirror)."""
    base = re.sub(r"-\d+$", "", name)[:90] or "tenant"
    taken = {
        _similar(n)
        for n in Tenant.objects.filter(name__startswith=base[:3]).values_list("name", flat=True)
    }
    for n in range(2, 1000):
        candidate = f"{base}-{n}"
        if _similar(candidate) not in taken:
            return candidate
    return f"{base}-{timezone.now():%Y%m%d%H%M%S}"


# --- tenants --------------------------------------------------------------------------
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
        "remote_created_at": _dt(remote.get("created_at")),
        "remote_updated_at": _dt(remote.get("updated_at")),
        "last_synced_at": timezone.now(),
    }
    if "test_mode" in remote:  # the list answer of the guide omits it: keep what we know
        values["test_mode"] = bool(remote["test_mode"])
    tenant, _created = Tenant.objects.update_or_create(remote_id=remote["id"], defaults=values)
    return tenant


def create_tenant(data: dict, actor: Actor, request: HttpRequest | None = None) -> Tenant:
    cleaned = _clean(data)
    try:
        remote = admin_api.create_tenant(**_remote_fields(cleaned))
    except admin_api.AdminApiError as e:
        _record("tenant.create", actor, request, target=cleaned["name"], error=e)
        raise
    tenant = mirror_tenant(remote)
    changes = {f: [None, v] for f, v in _snapshot(tenant).items() if v not in ("", None, False)}
    _record("tenant.create", actor, request, tenant=tenant, changes=changes)
    return tenant


def update_tenant(
    tenant: Tenant, data: dict, actor: Actor, request: HttpRequest | None = None
) -> Tenant:
    cleaned = _clean({**_snapshot(tenant), **data}, current_name=tenant.name)
    before = _snapshot(tenant)
    try:
        remote = admin_api.update_tenant(tenant.remote_id, **_remote_fields(cleaned))
    except admin_api.AdminApiError as e:
        _record(
            "tenant.update",
            actor,
            request,
            tenant=tenant,
            error=e,
            changes=audit.diff(before, {**before, **{f: cleaned[f] for f in MIRROR_FIELDS}}),
        )
        raise
    tenant = mirror_tenant(remote)
    _record(
        "tenant.update",
        actor,
        request,
        tenant=tenant,
        changes=audit.diff(before, _snapshot(tenant)),
    )
    return tenant


def refresh_tenant(tenant: Tenant) -> Tenant:
    """Re-read one tenant from the API into the mirror (a read: not audited)."""
    return mirror_tenant(admin_api.get_tenant(tenant.remote_id))


def delete_tenant(tenant: Tenant, actor: Actor, request: HttpRequest | None = None) -> None:
    """Soft delete, on e-invoice.be and in the mirror."""
    note = ""
    try:
        remote = admin_api.delete_tenant(tenant.remote_id)
    except admin_api.NotFound:
        remote, note = None, "already gone on e-invoice.be"
    except admin_api.AdminApiError as e:
        _record("tenant.delete", actor, request, tenant=tenant, error=e)
        raise
    if isinstance(remote, dict) and remote.get("id"):
        tenant = mirror_tenant(remote)
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
    if note:
        changes["note"] = [None, note]
    _record("tenant.delete", actor, request, tenant=tenant, changes=changes)


# --- API keys -------------------------------------------------------------------------
def _promote_latest(tenant: Tenant) -> ApiKey | None:
    """Make the newest held, unrevoked key current (when the tenant has none)."""
    if tenant.api_keys.filter(is_current=True).exists():
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
    actor: Actor,
    request: HttpRequest | None = None,
    make_current: bool = True,
) -> tuple[ApiKey, str]:
    """Create a key; store it encrypted; return it with its plaintext (for the one reveal)."""
    try:
        remote = admin_api.create_api_key(tenant.remote_id, name, description)
    except admin_api.AdminApiError as e:
        _record("key.create", actor, request, tenant=tenant, target=name, error=e)
        raise
    key = store_created_key(tenant, remote, actor, make_current, request=request, name=name)
    return key, remote.get("key") or ""


def store_created_key(
    tenant: Tenant,
    remote: dict,
    actor: Actor,
    make_current: bool,
    *,
    request: HttpRequest | None = None,
    name: str = "",
) -> ApiKey:
    """Store a key the API just created (its one answer, `remote`) encrypted, and audit it.

    Runs inside the caller's transaction when there is one (a job records its progress in
    the same commit). If storing fails the key is revoked: no key nobody holds stays valid.
    """
    name = remote.get("name") or name
    try:
        with transaction.atomic():
            if make_current:
                tenant.api_keys.filter(is_current=True).update(is_current=False)
            key = ApiKey(
                tenant=tenant,
                remote_id=remote["id"],
                name=name,
                description=remote.get("description") or "",
                is_current=make_current,
                remote_created_at=_dt(remote.get("created_at")),
                created_by=None if isinstance(actor, str) else actor,
            )
            key.set_value(remote.get("key") or "")
            key.save()
    except Exception as e:
        # The key exists remotely but we could not keep it: revoke it, so that no key
        # nobody holds stays valid.
        logger.error("storing new key %s of %s failed; revoking it", remote.get("id"), tenant)
        try:
            admin_api.revoke_api_key(tenant.remote_id, remote["id"])
        except admin_api.AdminApiError:
            logger.error("revoking orphan key %s failed", remote.get("id"))
        _record(
            "key.create",
            actor,
            request,
            tenant=tenant,
            target=name,
            error=RuntimeError(f"could not store the new key ({type(e).__name__}); revoked it"),
        )
        raise
    _record(
        "key.create",
        actor,
        request,
        tenant=tenant,
        target=key.name,
        changes={"fingerprint": [None, key.fingerprint], "is_current": [None, make_current]},
    )
    return key


def rename_key(
    api_key: ApiKey, name: str, description: str, actor: Actor, request: HttpRequest | None = None
) -> ApiKey:
    before = {"name": api_key.name, "description": api_key.description}
    try:
        remote = admin_api.update_api_key(
            api_key.tenant.remote_id, api_key.remote_id, name, description
        )
    except admin_api.AdminApiError as e:
        _record("key.update", actor, request, tenant=api_key.tenant, target=api_key.name, error=e)
        raise
    api_key.name = remote.get("name") or name
    api_key.description = remote.get("description") or ""
    api_key.save(update_fields=["name", "description"])
    after = {"name": api_key.name, "description": api_key.description}
    _record(
        "key.update",
        actor,
        request,
        tenant=api_key.tenant,
        target=api_key.name,
        changes=audit.diff(before, after),
    )
    return api_key


def revoke_key(api_key: ApiKey, actor: Actor, request: HttpRequest | None = None) -> None:
    """Revoke remotely, then locally; the stored value is wiped. If it was the current key,
    the newest other held key becomes current."""
    tenant = api_key.tenant
    changes: dict[str, Any] = {"revoked": [False, True]}
    try:
        admin_api.revoke_api_key(tenant.remote_id, api_key.remote_id)
    except admin_api.NotFound:
        changes["note"] = [None, "already revoked on e-invoice.be"]
    except admin_api.AdminApiError as e:
        _record("key.revoke", actor, request, tenant=tenant, target=api_key.name, error=e)
        raise
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
    _record("key.revoke", actor, request, tenant=tenant, target=api_key.name, changes=changes)


def sync_keys(tenant: Tenant) -> list[ApiKey]:
    """Mirror the remote key list: keys revoked elsewhere are marked revoked; keys created
    elsewhere are adopted (without a value: the API never returns it again)."""
    remote_keys = admin_api.list_api_keys(tenant.remote_id).get("api_keys", [])
    now = timezone.now()
    with transaction.atomic():
        for remote in remote_keys:
            key = ApiKey.objects.filter(remote_id=remote["id"]).first()
            if key is None:
                key = ApiKey.objects.create(
                    tenant=tenant,
                    remote_id=remote["id"],
                    name=remote.get("name") or "",
                    description=remote.get("description") or "",
                    remote_created_at=_dt(remote.get("created_at")),
                    created_at=_dt(remote.get("created_at")) or now,
                    revoked_at=now if remote.get("is_deleted") else None,
                )
            elif remote.get("is_deleted") and not key.is_revoked:
                ApiKey.objects.filter(pk=key.pk).update(
                    revoked_at=now, is_current=False, encrypted_value=""
                )
        _promote_latest(tenant)
    return list(tenant.api_keys.all())


# --- Peppol ---------------------------------------------------------------------------
def _mirror_status(tenant: Tenant, status: dict) -> tuple[PeppolRegistration, dict]:
    reg, _created = PeppolRegistration.objects.get_or_create(tenant=tenant)
    before = {"registered": reg.registered, "status": reg.status, "peppol_id": reg.peppol_id}
    reg.registered = bool(status.get("registered"))
    reg.status = str(status.get("status") or "")[:32]
    reg.peppol_id = str(status.get("peppol_id") or "")[:64] if reg.registered else ""
    reg.registered_at = _dt(status.get("registered_at")) if reg.registered else None
    if status.get("company_name"):
        reg.company_name = str(status["company_name"])[:200]
    reg.last_checked_at = timezone.now()
    reg.last_error = ""
    reg.save()
    after = {"registered": reg.registered, "status": reg.status, "peppol_id": reg.peppol_id}
    return reg, audit.diff(before, after)


def _note_error(tenant: Tenant, error: Exception) -> None:
    reg, _created = PeppolRegistration.objects.get_or_create(tenant=tenant)
    reg.last_error = str(error)[:2000]
    reg.save(update_fields=["last_error"])


def refresh_peppol_status(tenant: Tenant, actor: Actor) -> PeppolRegistration:
    """Read the registration status; audited only when it changed."""
    reg, changes = _mirror_status(tenant, admin_api.peppol_status(tenant.remote_id))
    if changes:
        _record("peppol.status", actor, None, tenant=tenant, target=reg.peppol_id, changes=changes)
    return reg


def register_peppol(
    tenant: Tenant,
    actor: Actor,
    peppol_id: str | None = None,
    company_name: str | None = None,
    request: HttpRequest | None = None,
) -> PeppolRegistration:
    """Register on Peppol; without company_name, e-invoice.be fetches it from KBO (0208)."""
    peppol_id = peppol_id or tenant.peppol_id
    if tenant.test_mode:
        error = PeppolUnavailable(
            "test_mode", _("Peppol registration is not available for a tenant in test mode.")
        )
    elif not peppol_id:
        error = PeppolUnavailable("no_peppol_id", _("The tenant has no Peppol ID yet."))
    else:
        error = None
    if error:
        _record("peppol.register", actor, request, tenant=tenant, target=peppol_id, error=error)
        raise error
    try:
        status = admin_api.peppol_register(tenant.remote_id, peppol_id, company_name or None)
        if "registered" not in (status or {}):
            status = admin_api.peppol_status(tenant.remote_id)
    except admin_api.AdminApiError as e:
        _note_error(tenant, e)
        _record("peppol.register", actor, request, tenant=tenant, target=peppol_id, error=e)
        raise
    reg, changes = _mirror_status(tenant, status)
    if reg.registered and not tenant.peppol_id:
        # e-invoice.be records the registered ID on the tenant too.
        Tenant.objects.filter(pk=tenant.pk).update(peppol_id=reg.peppol_id)
        tenant.peppol_id = reg.peppol_id
    if company_name:
        changes["company_name"] = [None, company_name]
    _record("peppol.register", actor, request, tenant=tenant, target=peppol_id, changes=changes)
    return reg


def update_business_card(
    tenant: Tenant, company_name: str, actor: Actor, request: HttpRequest | None = None
) -> PeppolRegistration:
    reg = PeppolRegistration.objects.filter(tenant=tenant).first()
    before = reg.company_name if reg else ""
    try:
        status = admin_api.peppol_business_card(tenant.remote_id, company_name)
    except admin_api.AdminApiError as e:
        _note_error(tenant, e)
        _record("peppol.business_card", actor, request, tenant=tenant, error=e)
        raise
    reg, _changes = _mirror_status(tenant, status or {})
    reg.company_name = company_name[:200]
    reg.save(update_fields=["company_name"])
    _record(
        "peppol.business_card",
        actor,
        request,
        tenant=tenant,
        target=reg.peppol_id,
        changes={"company_name": [before, company_name]},
    )
    return reg


def unregister_peppol(
    tenant: Tenant, actor: Actor, request: HttpRequest | None = None
) -> PeppolRegistration:
    target = getattr(PeppolRegistration.objects.filter(tenant=tenant).first(), "peppol_id", "")
    try:
        status = admin_api.peppol_unregister(tenant.remote_id)
        if "registered" not in (status or {}):
            status = admin_api.peppol_status(tenant.remote_id)
    except admin_api.AdminApiError as e:
        _note_error(tenant, e)
        _record("peppol.unregister", actor, request, tenant=tenant, target=target, error=e)
        raise
    reg, changes = _mirror_status(tenant, status)
    _record("peppol.unregister", actor, request, tenant=tenant, target=target, changes=changes)
    return reg


# --- customer users -------------------------------------------------------------------
def create_customer_user(
    tenant: Tenant,
    username: str,
    email: str,
    password: str,
    actor: Actor,
    request: HttpRequest | None = None,
):
    """A login for the customer's own invoice screens (local only)."""
    User = get_user_model()
    user = User(username=username, email=email, role="customer", tenant=tenant)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    _record(
        "user.create",
        actor,
        request,
        tenant=tenant,
        target=username,
        changes={"username": [None, username], "email": [None, email], "role": [None, "customer"]},
    )
    return user


# --- messages for people --------------------------------------------------------------
def explain(
    error: Exception, *, peppol_id: str = "", name: str = "", tenant: Tenant | None = None
) -> str:
    """A message that says what happened and what to do, for staff (screens, job rows).

    `tenant` is the tenant acted on, so that a Peppol ID held by another of our own tenants
    can be named."""
    if isinstance(error, PeppolUnavailable | InvalidFields):
        return str(error)
    if isinstance(error, admin_api.Unauthorized):
        return _(
            "e-invoice.be refused the portal's organization key. An administrator must check "
            "EINVOICE_ORG_API_KEY; nothing was changed."
        )
    if isinstance(error, admin_api.NotFound):
        return _(
            "e-invoice.be does not know this tenant or key (any more): %(detail)s. Refresh the "
            "tenant to bring the portal up to date."
        ) % {"detail": error}
    if isinstance(error, admin_api.Conflict):
        owner = checks.peppol_owner(peppol_id, exclude=tenant) if peppol_id else None
        if owner is not None:
            return _(
                "Peppol ID %(id)s is already registered on Peppol by your tenant %(other)s. "
                "If that registration is a mistake, unregister %(other)s first; otherwise "
                "check the ID with the customer."
            ) % {"id": peppol_id, "other": owner.name}
        if peppol_id:
            return _(
                "Peppol ID %(id)s is already registered on the Peppol network by someone else. "
                "Check the ID with the customer: if they are registered with another access "
                "point, they must ask that provider to deregister it before it can be registered "
                "here. (e-invoice.be said: %(detail)s)"
            ) % {"id": peppol_id, "detail": error}
        if name:
            return _(
                "The name %(name)s (or one differing only in hyphens or dots) is already used on "
                "e-invoice.be; names stay taken after a delete. Try %(suggestion)s."
            ) % {"name": name, "suggestion": suggest_free_name(name)}
        return str(error)
    if isinstance(error, admin_api.RateLimited):
        return _(
            "The e-invoice.be quota is used up for now. Nothing was sent; try again in "
            "%(seconds)d seconds."
        ) % {"seconds": max(1, round(error.retry_after))}
    if isinstance(error, admin_api.TransportError):
        return _(
            "e-invoice.be did not answer (%(detail)s). The change may or may not have been "
            "made: refresh the tenant before you try again."
        ) % {"detail": error}
    if isinstance(error, admin_api.ServerError):
        return _(
            "e-invoice.be had an error (%(detail)s). Try again in a minute; refresh the tenant "
            "first if this was a change."
        ) % {"detail": error}
    if isinstance(error, admin_api.ValidationFailed):
        return _("e-invoice.be refused the request: %(detail)s") % {"detail": error}
    return str(error)
