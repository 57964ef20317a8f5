"""Validation: POST /api/validate/json, /api/validate/ubl, GET /api/validate/peppol-id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sandbox import engine
from sandbox.schemas import DocumentCreate
from sandbox.state import new_id
from sandbox.tenant_api.common import (
    SandboxDep,
    TenantDep,
    guide_errors,
    require_peppol_id_format,
)
from sandbox.tenant_api.lookup import find_participant

router = APIRouter(prefix="/api")

VALID_MESSAGE = "Invoice JSON is valid and can be converted to UBL BIS Billing 3.0"


@router.post("/validate/json", status_code=201)
def validate_json(body: DocumentCreate, tenant: TenantDep) -> dict[str, Any]:
    payload = body.payload()
    issues = engine.validate(payload)
    is_valid = not engine.errors_only(issues)
    validation_id = new_id("val")
    answer: dict[str, Any] = {
        "id": validation_id,
        "file_name": None,
        "is_valid": is_valid,
        "issues": issues,
        "ubl_document": engine.to_ubl(payload, validation_id) if is_valid else None,
        # The guide's shape, alongside the spec's.
        "valid": is_valid,
    }
    if is_valid:
        answer["message"] = VALID_MESSAGE
    else:
        answer["errors"] = guide_errors(issues)
    return answer


@router.get("/validate/peppol-id")
def validate_peppol_id(peppol_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    require_peppol_id_format(peppol_id)
    participant = find_participant(sandbox, peppol_id)
    if participant is None:
        return {
            "is_valid": False,
            "dns_valid": False,
            "business_card_valid": False,
            "supported_document_types": [],
            "business_card": None,
        }
    return {
        "is_valid": True,
        "dns_valid": True,
        "business_card_valid": True,
        "supported_document_types": list(participant["document_types"]),
        "business_card": {
            "name": participant["name"],
            "country_code": participant["country_code"],
            "registration_date": participant["registration_date"],
        },
    }
