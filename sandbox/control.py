"""Control endpoints under /_sandbox: no auth, and they exist only in the sandbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from sandbox import documents, engine
from sandbox.core import Sandbox, get_sandbox
from sandbox.directory import BILLING, KBO, NOORDZEE_AP, OutsideParticipant, parse_peppol_id
from sandbox.errors import ApiError
from sandbox.faults import FaultConfig
from sandbox.schemas import DocumentCreate
from sandbox.state import Tenant, new_id, now_utc, similar_name

router = APIRouter(prefix="/_sandbox")
SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


class ConfigChange(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo must not be silently ignored

    rate_per_minute: int | None = Field(default=None, ge=0)
    rate_per_hour: int | None = Field(default=None, ge=0)
    time_scale: float | None = Field(default=None, gt=0)
    send_delay: float | None = Field(default=None, ge=0)
    delivery_attempts: int | None = Field(default=None, ge=1)
    delivery_backoff: float | None = Field(default=None, ge=0)
    delivery_jitter: float | None = Field(default=None, ge=0, lt=1)
    unregistered_can_send: bool | None = None
    tenant_rate_per_minute: int | None = Field(default=None, ge=0)
    tenant_rate_per_hour: int | None = Field(default=None, ge=0)
    retry_after: Literal["always", "sometimes", "never"] | None = None
    latest_key: Literal["active", "created"] | None = None
    test_mode_default: bool | None = None
    test_mode_exit: Literal["update", "ignore", "refuse"] | None = None
    peppol_ids: Literal["at_most_one", "exactly_one"] | None = None
    webhook_retry_delays: list[float] | None = None
    webhook_timeout: float | None = Field(default=None, gt=0)
    upload_max_bytes: int | None = Field(default=None, ge=0)
    attachment_max_bytes: int | None = Field(default=None, ge=0)
    conversion_delay: float | None = Field(default=None, ge=0)
    resend_failed: bool | None = None
    error_extras: bool | None = None
    validation_lists: bool | None = None
    webhook_compact_json: bool | None = None


class Inbound(BaseModel):
    """A document from an outside participant, dropped into a tenant's inbox."""

    tenant_id: str
    sender_peppol_id: str = "0208:0848934496"
    document: DocumentCreate


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/reset")
def reset(sandbox: SandboxDep) -> dict[str, bool]:
    """Forget all data, faults, rate-limit logs and run-time config changes."""
    sandbox.reset()
    return {"ok": True}


@router.get("/requests")
def requests_log(
    sandbox: SandboxDep,
    since: Annotated[int, Query(ge=0, description="only entries with seq > since")] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> dict[str, Any]:
    """Method, path, status and identity of every API request (never key values)."""
    with sandbox.store.lock:
        entries = [dict(e) for e in sandbox.store.request_log if e["seq"] > since]
    return {"requests": entries[-limit:], "total": len(entries)}


@router.delete("/requests")
def clear_requests(sandbox: SandboxDep) -> dict[str, bool]:
    with sandbox.store.lock:
        sandbox.store.request_log.clear()
    return {"ok": True}


@router.get("/faults")
def get_faults(sandbox: SandboxDep) -> dict[str, Any]:
    return sandbox.faults.describe()


@router.post("/faults")
def set_faults(body: FaultConfig, sandbox: SandboxDep) -> dict[str, Any]:
    """Replace the fault set (latency, error/drop rates, per-route rules)."""
    sandbox.faults.set(body)
    return sandbox.faults.describe()


@router.delete("/faults")
def clear_faults(sandbox: SandboxDep) -> dict[str, Any]:
    sandbox.faults.clear()
    return sandbox.faults.describe()


@router.get("/config")
def get_config(sandbox: SandboxDep) -> dict[str, Any]:
    return sandbox.config.public()


@router.post("/config")
def set_config(body: ConfigChange, sandbox: SandboxDep) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    try:
        return sandbox.configure(changes).public()
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


@router.get("/kbo")
def kbo() -> dict[str, Any]:
    """The fake KBO register used by Peppol registration without company_name."""
    return {"companies": [c.as_dict() for c in KBO.values()]}


@router.get("/participants")
def participants(sandbox: SandboxDep) -> dict[str, Any]:
    """The Peppol participants outside the sandbox: who holds each ID, what it receives."""
    with sandbox.store.lock:
        return {"participants": [p.as_dict() for p in sandbox.store.participants.values()]}


class ParticipantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    peppol_id: str
    name: str
    country_code: str = "BE"
    city: str | None = None
    registration_date: str = Field(default_factory=lambda: date.today().isoformat())
    access_point: str = NOORDZEE_AP[0]
    smp_host: str = NOORDZEE_AP[1]
    document_types: list[str] = Field(default_factory=lambda: list(BILLING))


class Move(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_point: str
    smp_host: str
    registration_date: str | None = None  # default: today (a migration re-registers the ID)


def _participant(sandbox: Sandbox, peppol_id: str) -> OutsideParticipant:
    found = sandbox.store.participants.get(peppol_id)
    if found is None:
        raise ApiError(404, f"{peppol_id} is not an outside participant")
    return found


@router.post("/participants", status_code=201)
def add_participant(body: ParticipantIn, sandbox: SandboxDep) -> dict[str, Any]:
    """An ID registered with another access point (replaces an outside entry of the same ID)."""
    if parse_peppol_id(body.peppol_id) is None:
        raise ApiError(400, "peppol_id must look like 0208:0123456789")
    with sandbox.store.lock:
        if sandbox.store.registered_tenant(body.peppol_id) is not None:
            raise ApiError(409, f"{body.peppol_id} is registered by a sandbox tenant")
        values = body.model_dump()
        values["document_types"] = tuple(values["document_types"])
        participant = OutsideParticipant(**values)
        sandbox.store.participants[participant.peppol_id] = participant
        return participant.as_dict()


@router.delete("/participants/{peppol_id}")
def release_participant(peppol_id: str, sandbox: SandboxDep) -> dict[str, Any]:
    """The holder deregisters the ID: lookups find nothing, a tenant may now register it."""
    with sandbox.store.lock:
        released = _participant(sandbox, peppol_id)
        del sandbox.store.participants[peppol_id]
        return released.as_dict()


@router.post("/participants/{peppol_id}/move")
def move_participant(peppol_id: str, body: Move, sandbox: SandboxDep) -> dict[str, Any]:
    """The ID migrates to another outside access point."""
    with sandbox.store.lock:
        participant = _participant(sandbox, peppol_id)
        participant.access_point = body.access_point
        participant.smp_host = body.smp_host
        participant.registration_date = body.registration_date or date.today().isoformat()
        return participant.as_dict()


class Seed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=1_000_000)
    prefix: str = Field(default="seed", pattern=r"^[a-z0-9][a-z0-9._-]*$")


@router.post("/seed-tenants", status_code=201)
def seed_tenants(body: Seed, sandbox: SandboxDep) -> dict[str, Any]:
    """Benchmarks: `count` tenants <prefix>-000000… of the first organization key at once
    (100 000 creates over HTTP take minutes); names already taken are skipped."""
    org = sandbox.org_for_key(sandbox.config.org_keys[0])
    created = 0
    with sandbox.store.lock:
        for i in range(body.count):
            name = f"{body.prefix}-{i:06d}"
            if similar_name(name) in sandbox.store.tenant_by_name:
                continue
            moment = now_utc()
            sandbox.store.add_tenant(
                Tenant(
                    id=new_id("tenant"),
                    org=org or "",
                    name=name,
                    description=f"{body.prefix} {i}",
                    company_number=None,
                    company_tax_id=None,
                    peppol_ids=[],
                    test_mode=False,
                    created_at=moment,
                    updated_at=moment,
                    seq=sandbox.store.next_seq(),
                )
            )
            created += 1
    return {"created": created}


class ModeChange(BaseModel):
    test_mode: bool


@router.post("/tenants/{tenant_id}/test-mode")
def set_test_mode(tenant_id: str, body: ModeChange, sandbox: SandboxDep) -> dict[str, Any]:
    """What e-invoice.be's support would do when the Admin API may not (test_mode_exit)."""
    with sandbox.store.lock:
        tenant = sandbox.store.tenants.get(tenant_id)
        if tenant is None:
            raise ApiError(404, "Tenant not found")
        tenant.test_mode = body.test_mode
        tenant.updated_at = now_utc()
        return tenant.as_admin()


class UsageDay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date
    sent: int = Field(default=0, ge=0, le=100_000)
    received: int = Field(default=0, ge=0, le=100_000)


class UsageChange(BaseModel):
    """Past usage and the account's plan and credits, as the billing side would have them."""

    model_config = ConfigDict(extra="forbid")

    days: list[UsageDay] = Field(default_factory=list, max_length=3660)
    plan: Literal["starter", "pro", "enterprise"] | None = None
    credit_balance: int | None = Field(default=None, ge=0)


@router.post("/tenants/{tenant_id}/usage")
def add_usage(tenant_id: str, body: UsageChange, sandbox: SandboxDep) -> dict[str, Any]:
    """Tests and demos: `days` of past actions (noon UTC of each day; no credits used: the
    balance is set as given), then the plan and balance (/api/me, /api/stats)."""
    with sandbox.store.lock:
        tenant = sandbox.store.tenants.get(tenant_id)
        if tenant is None:
            raise ApiError(404, "Tenant not found")
        for entry in body.days:
            moment = datetime.combine(entry.day, time(12), tzinfo=UTC)
            sandbox.store.actions.extend(
                [(tenant.id, "DOCUMENT_SENT", moment)] * entry.sent
                + [(tenant.id, "DOCUMENT_RECEIVED", moment)] * entry.received
            )
        if body.plan is not None:
            tenant.plan = body.plan
        if body.credit_balance is not None:
            tenant.credit_balance = body.credit_balance
        return {"plan": tenant.plan, "credit_balance": tenant.credit_balance}


@router.post("/receive", status_code=201)
def receive(body: Inbound, sandbox: SandboxDep) -> dict[str, Any]:
    """Simulate an invoice arriving from outside the sandbox (fires document.received)."""
    if parse_peppol_id(body.sender_peppol_id) is None:
        raise ApiError(400, "sender_peppol_id must look like 0208:0123456789")
    with sandbox.store.lock:
        tenant = sandbox.store.tenants.get(body.tenant_id)
        if tenant is None or tenant.is_deleted:
            raise ApiError(404, "Tenant not found")
    payload = body.document.payload()
    errors = engine.errors_only(engine.validate(payload))
    if errors:
        raise ApiError(
            406,
            "Document is not valid according to Peppol BIS Billing 3.0",
            extra={"issues": errors},
        )
    doc = documents.receive_external(sandbox, tenant, payload, body.sender_peppol_id)
    with sandbox.store.lock:
        return documents.response(doc)
