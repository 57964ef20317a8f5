"""Shared pieces of the tenant API routers: auth dependencies, document lookup, error texts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from sandbox import engine
from sandbox.core import Sandbox, get_sandbox, require_tenant
from sandbox.directory import parse_peppol_id
from sandbox.errors import ApiError
from sandbox.state import Document, Tenant

TenantDep = Annotated[Tenant, Depends(require_tenant)]
SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]

DOC_NOT_FOUND = "Document not found"
NOT_BIS = "Document is not valid according to Peppol BIS Billing 3.0"


def error_extras(sandbox: Sandbox, extra: dict[str, Any]) -> dict[str, Any]:
    """Keys beside ``detail`` in an error body: the file promises none (ErrorResponse), so they
    are only sent when the ``error_extras`` setting asks for the sandbox's old bodies."""
    return extra if sandbox.config.error_extras else {}


def find_document(sandbox: Sandbox, tenant: Tenant, document_id: str) -> Document:
    doc = sandbox.store.documents.get(document_id)
    if doc is None or doc.tenant_id != tenant.id:
        raise ApiError(404, DOC_NOT_FOUND)
    return doc


def issue_summary(issues: list[dict[str, Any]]) -> str:
    parts = [
        (f"[{i['rule_id']}] " if i.get("rule_id") else "")
        + (f"{i['location']}: " if i.get("location") else "")
        + i["message"]
        for i in issues[:3]
    ]
    more = f" (+{len(issues) - 3} more)" if len(issues) > 3 else ""
    return f"{NOT_BIS}: " + "; ".join(parts) + more


def guide_errors(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The invoice guide's {"field", "message"} view of the errors."""
    return [{"field": i["location"], "message": i["message"]} for i in engine.errors_only(issues)]


def require_peppol_id_format(peppol_id: str) -> None:
    if parse_peppol_id(peppol_id) is None:
        raise ApiError(
            422, "Invalid Peppol ID format. Expected <scheme>:<id>, e.g. 0208:1018265814"
        )
