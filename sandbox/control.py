"""Control endpoints under /_sandbox: no auth, and they exist only in the sandbox."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from sandbox import documents, engine
from sandbox.core import Sandbox, get_sandbox
from sandbox.directory import KBO, OUTSIDE_PARTICIPANTS, parse_peppol_id
from sandbox.errors import ApiError
from sandbox.faults import FaultConfig
from sandbox.schemas import DocumentCreate

router = APIRouter(prefix="/_sandbox")
SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


class ConfigChange(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo must not be silently ignored

    rate_per_minute: int | None = Field(default=None, ge=0)
    rate_per_hour: int | None = Field(default=None, ge=0)
    time_scale: float | None = Field(default=None, gt=0)
    send_delay: float | None = Field(default=None, ge=0)
    webhook_retry_delays: list[float] | None = None
    webhook_timeout: float | None = Field(default=None, gt=0)


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
def participants() -> dict[str, Any]:
    """The seeded Peppol participants outside the sandbox (they receive, nobody owns them)."""
    return {
        "participants": [
            {"peppol_id": p.peppol_id, "name": p.name, "country_code": p.country_code}
            for p in OUTSIDE_PARTICIPANTS.values()
        ]
    }


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
