"""A tenant's Peppol registration: register, business card, unregister, status.

Each change is audited with its outcome; a failed call is also kept on the registration
(`last_error`, shown on the tenant page until the next success). The registration's state
(not registered · checking · held elsewhere (watching) · registering · registered · failed ·
unregistered) moves with each of them. Each state it settles in is in the audit log
(`peppol.state`); the passing ones (checking, registering) are shown while they last, and the
attempt's own entry (`peppol.register`) says how they ended.
Registering starts with the preflight (tenants.checks): an ID another access point holds
raises HeldElsewhere instead of a 409, with who holds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core import audit, texts
from core.texts import Coded
from einvoice import admin as admin_api
from einvoice.errors import ApiError
from einvoice.messages import registered_by_our_tenant
from notifications import emit as notify
from tenants import checks
from tenants.errors import HeldElsewhere, PeppolUnavailable
from tenants.mirror import remote_time
from tenants.models import PeppolRegistration, PeppolState, Tenant

NOT_IN_TEST_MODE = texts.define(
    "peppol.not_in_test_mode",
    gettext_lazy("Peppol registration is not available for a tenant in test mode."),
)
NO_PEPPOL_ID = texts.define("peppol.no_peppol_id", gettext_lazy("The tenant has no Peppol ID yet."))


# A registration under way (its preflight, then its register call): shown while they last,
# and not logged, since the entry of the state that follows (and of the attempt) tells the
# story. One registration appends two audit entries instead of four: each append takes the
# chain's lock, which every worker waits for (issue 16).
PASSING_STATES = frozenset({PeppolState.CHECKING, PeppolState.REGISTERING})


def set_state(
    tenant: Tenant,
    state: str,
    actor: audit.Actor,
    reason: str = "",
    holder: dict | None = None,
    *,
    reg: PeppolRegistration | None = None,
) -> PeppolRegistration:
    """Move the registration to `state` (audited when it changes to a settled state), with
    why and, for an ID held elsewhere, who holds it. The change, its audit entry and its
    event commit together. `reg`: the row as the caller read it moments ago (read here
    otherwise)."""
    # No savepoint inside a caller's transaction: nothing here is retried on its own.
    with transaction.atomic(savepoint=False):
        if reg is None:
            reg, _created = PeppolRegistration.objects.get_or_create(tenant=tenant)
        before = reg.state
        coded = reason if isinstance(reason, Coded) else None
        fields = {
            "state": state,
            "state_reason": reason[:2000],
            "state_reason_code": coded.code if coded else "",
            "state_reason_params": coded.params if coded else {},
        }
        if holder is not None:
            fields["holder"] = holder
        if all(getattr(reg, name) == value for name, value in fields.items()):
            return reg
        fields["state_changed_at"] = timezone.now()
        PeppolRegistration.objects.filter(pk=reg.pk).update(**fields)
        for name, value in fields.items():
            setattr(reg, name, value)
        if before != state:
            _notify(tenant, reg, state)
            # Last before the commit: the append holds the chain's lock until then.
            if state not in PASSING_STATES:
                audit.record(
                    "peppol.state",
                    actor=actor,
                    tenant=tenant,
                    target=reg.peppol_id or tenant.peppol_id,
                    changes={"state": [before, state]},
                )
    return reg


# The states that are news: registered, held by another access point, released.
NOTIFIED = {
    PeppolState.REGISTERED: "peppol.registered",
    PeppolState.HELD_ELSEWHERE: "peppol.held_elsewhere",
    PeppolState.UNREGISTERED: "peppol.released",
}


def _notify(tenant: Tenant, reg: PeppolRegistration, state: str) -> None:
    kind = NOTIFIED.get(state)
    if kind is None:
        return
    notify.emit(
        kind,
        f"{kind}:{reg.pk}:{reg.state_changed_at.isoformat()}",
        tenant=tenant,
        data={
            "path": reverse("tenants:tenant_detail", args=[tenant.pk]),
            "peppol": {"peppol_id": reg.peppol_id or tenant.peppol_id, "reason": reg.state_reason},
        },
    )


def _state_from_status(reg: PeppolRegistration) -> str | None:
    """The state a status answer implies, or None when it says nothing new."""
    if reg.registered:
        return PeppolState.REGISTERED
    if reg.state == PeppolState.REGISTERED:
        return PeppolState.UNREGISTERED
    return None


def _mirror_status(
    tenant: Tenant, status: dict, actor: audit.Actor = None
) -> tuple[PeppolRegistration, dict]:
    reg, _created = PeppolRegistration.objects.get_or_create(tenant=tenant)
    before = {"registered": reg.registered, "status": reg.status, "peppol_id": reg.peppol_id}
    reg.registered = bool(status.get("registered"))
    reg.status = str(status.get("status") or "")[:32]
    reg.peppol_id = str(status.get("peppol_id") or "")[:64] if reg.registered else ""
    reg.registered_at = remote_time(status.get("registered_at")) if reg.registered else None
    if status.get("company_name"):
        reg.company_name = str(status["company_name"])[:200]
    reg.last_checked_at = timezone.now()
    reg.last_error = ""
    reg.save()
    after = {"registered": reg.registered, "status": reg.status, "peppol_id": reg.peppol_id}
    state = _state_from_status(reg)
    if state is not None:
        reg = set_state(tenant, state, actor, reg=reg)
    return reg, audit.diff(before, after)


@contextmanager
def _noting_errors(tenant: Tenant) -> Iterator[None]:
    """Keep a failed Admin API call on the registration, then re-raise it."""
    try:
        yield
    except ApiError as e:
        reg, _created = PeppolRegistration.objects.get_or_create(tenant=tenant)
        reg.last_error = str(e)[:2000]
        reg.save(update_fields=["last_error"])
        raise


def _with_status(tenant: Tenant, answer: dict | None) -> dict:
    # Some answers carry no registration state: then ask for it.
    if "registered" in (answer or {}):
        return answer
    return admin_api.peppol_status(tenant.remote_id)


def refresh_peppol_status(tenant: Tenant, actor: audit.Actor) -> PeppolRegistration:
    """Read the registration status; audited only when it changed."""
    reg, changes = _mirror_status(tenant, admin_api.peppol_status(tenant.remote_id), actor)
    if changes:
        audit.record(
            "peppol.status", actor=actor, tenant=tenant, target=reg.peppol_id, changes=changes
        )
    return reg


def _check_registrable(tenant: Tenant, peppol_id: str) -> None:
    # Coded texts: the audit log keeps the refusal as a code, worded for each reader.
    if tenant.test_mode:
        raise PeppolUnavailable("test_mode", Coded(NOT_IN_TEST_MODE))
    if not peppol_id:
        raise PeppolUnavailable("no_peppol_id", Coded(NO_PEPPOL_ID))


def _preflight(tenant: Tenant, peppol_id: str, actor: audit.Actor) -> PeppolRegistration:
    """Who holds the ID, before the Admin API call: held elsewhere → HeldElsewhere (and the
    state says so, with the holder); one of our other tenants → PeppolUnavailable. A lookup
    that could not be made lets the registration try (the API is the authority). Returns
    the registration, read once for the states it goes through."""
    reg = set_state(tenant, PeppolState.CHECKING, actor)
    verdict = checks.preflight(peppol_id, exclude=tenant)
    if verdict.held_elsewhere:
        set_state(
            tenant,
            PeppolState.HELD_ELSEWHERE,
            actor,
            reason=verdict.text,
            holder=verdict.holder,
            reg=reg,
        )
        raise HeldElsewhere(verdict)
    if verdict.kind == checks.Verdict.OURS:
        message = registered_by_our_tenant(peppol_id, verdict.tenant.name)
        set_state(tenant, PeppolState.FAILED, actor, reason=message, reg=reg)
        raise PeppolUnavailable("ours", message)
    return reg


def register_peppol(
    tenant: Tenant,
    actor: audit.Actor,
    peppol_id: str | None = None,
    company_name: str | None = None,
    request: HttpRequest | None = None,
) -> PeppolRegistration:
    """Register on Peppol; without company_name, e-invoice.be fetches it from KBO (0208).
    Raises HeldElsewhere (nothing sent) when the preflight finds another access point."""
    peppol_id = peppol_id or tenant.peppol_id
    with audit.audited(
        "peppol.register",
        actor,
        request=request,
        tenant=tenant,
        target=peppol_id,
        errors=(ApiError, PeppolUnavailable, HeldElsewhere),
    ) as attempt:
        _check_registrable(tenant, peppol_id)
        set_state(tenant, PeppolState.REGISTERING, actor, reg=_preflight(tenant, peppol_id, actor))
        try:
            with _noting_errors(tenant):
                answer = admin_api.peppol_register(
                    tenant.remote_id, peppol_id, company_name or None
                )
                status = _with_status(tenant, answer)
        except ApiError as e:
            set_state(tenant, PeppolState.FAILED, actor, reason=str(e))
            raise
        # The answer mirrored, the state it implies and the attempt's outcome: one commit.
        with transaction.atomic():
            reg, changes = _mirror_status(tenant, status, actor)
            if reg.registered and not tenant.peppol_id:
                # e-invoice.be records the registered ID on the tenant too.
                Tenant.objects.filter(pk=tenant.pk).update(peppol_id=reg.peppol_id)
                tenant.peppol_id = reg.peppol_id
            if company_name:
                changes["company_name"] = [None, company_name]
            attempt.succeed(changes=changes)
    return reg


def update_business_card(
    tenant: Tenant, company_name: str, actor: audit.Actor, request: HttpRequest | None = None
) -> PeppolRegistration:
    reg = PeppolRegistration.objects.filter(tenant=tenant).first()
    before = reg.company_name if reg else ""
    with audit.audited(
        "peppol.business_card",
        actor,
        request=request,
        tenant=tenant,
        errors=ApiError,
    ) as attempt:
        with _noting_errors(tenant):
            status = admin_api.peppol_business_card(tenant.remote_id, company_name)
        reg, _changes = _mirror_status(tenant, status or {}, actor)
        reg.company_name = company_name[:200]
        reg.save(update_fields=["company_name"])
        attempt.target = reg.peppol_id
        attempt.changes = {"company_name": [before, company_name]}
    return reg


def unregister_peppol(
    tenant: Tenant, actor: audit.Actor, request: HttpRequest | None = None
) -> PeppolRegistration:
    target = getattr(PeppolRegistration.objects.filter(tenant=tenant).first(), "peppol_id", "")
    with audit.audited(
        "peppol.unregister",
        actor,
        request=request,
        tenant=tenant,
        target=target,
        errors=ApiError,
    ) as attempt:
        with _noting_errors(tenant):
            status = _with_status(tenant, admin_api.peppol_unregister(tenant.remote_id))
        reg, attempt.changes = _mirror_status(tenant, status, actor)
    return reg
