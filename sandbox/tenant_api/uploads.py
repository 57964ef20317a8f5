"""Multipart uploads: POST /api/documents/ubl, /api/documents/pdf, /api/validate/ubl, and the
asynchronous /api/conversion/pdf (a task, its status, its result)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, UploadFile

from sandbox import documents, engine, pdf_extract, ubl_import
from sandbox.core import Sandbox
from sandbox.errors import ApiError
from sandbox.schemas import DocumentCreate
from sandbox.state import Tenant, new_id
from sandbox.tenant_api.common import SandboxDep, TenantDep, issue_summary

router = APIRouter(prefix="/api")

NOT_XML = "Unsupported file type: expected a UBL XML file (Invoice or CreditNote)"
NOT_PDF = "Unsupported file type: expected a PDF file"
TASK_NOT_FOUND = "Conversion task not found"


async def _read(file: UploadFile, sandbox: Sandbox) -> bytes:
    data = await file.read()
    if len(data) > sandbox.config.upload_max_bytes:
        raise ApiError(422, f"File too large: at most {sandbox.config.upload_max_bytes} bytes")
    return data


def _ubl_payload(data: bytes, not_xml_status: int) -> dict[str, Any]:
    """The DocumentCreate JSON of an uploaded UBL file, checked by the JSON model."""
    try:
        payload = ubl_import.to_payload(ubl_import.parse(data))
    except ubl_import.NotXml as exc:
        raise ApiError(not_xml_status, f"{NOT_XML} ({exc})") from None
    except ubl_import.NotUbl as exc:
        raise ApiError(422, str(exc)) from None
    try:
        return DocumentCreate.model_validate(payload).payload()
    except ValueError as exc:
        raise ApiError(422, f"The UBL document cannot be read: {exc}") from None


@router.post("/documents/ubl", status_code=201)
async def create_from_ubl(file: UploadFile, tenant: TenantDep, sandbox: SandboxDep) -> Any:
    data = await _read(file, sandbox)
    payload = _ubl_payload(data, 415)
    errors = engine.errors_only(engine.validate(payload))
    if errors:
        raise ApiError(422, issue_summary(errors))
    totals = documents.merged_totals(payload)
    with sandbox.store.lock:
        doc = documents.new_document(sandbox, tenant, payload, totals, source="ubl")
        doc.ubl = data.decode("utf-8", errors="replace")  # the file itself is the UBL
        sandbox.store.documents[doc.id] = doc
        return documents.response(doc)


@router.post("/validate/ubl", status_code=201)
async def validate_ubl(file: UploadFile, tenant: TenantDep, sandbox: SandboxDep) -> Any:
    data = await _read(file, sandbox)
    payload = _ubl_payload(data, 422)
    issues = engine.validate(payload)
    is_valid = not engine.errors_only(issues)
    return {
        "id": new_id("val"),
        "file_name": file.filename,
        "is_valid": is_valid,
        "issues": issues,
        "ubl_document": data.decode("utf-8", errors="replace") if is_valid else None,
    }


def from_pdf(data: bytes, vendor_tax_id: str | None, customer_tax_id: str | None) -> Any:
    """The DocumentCreateFromPdf answer: what could be read, and a UBL when it is enough."""
    found = pdf_extract.extract(data)
    for name, given in (("vendor_tax_id", vendor_tax_id), ("customer_tax_id", customer_tax_id)):
        if given:
            found[name] = given
    try:
        payload = DocumentCreate.model_validate(found).payload()
    except ValueError:
        payload = DocumentCreate.model_validate({}).payload() | {"items": []}
    complete = bool(payload.get("items")) and not engine.errors_only(engine.validate(payload))
    answer = {k: v for k, v in payload.items() if k not in ("items", "attachments")}
    if payload.get("items"):
        answer["items"] = [documents.line_view(i) for i in payload["items"]]
    answer["success"] = complete
    answer["ubl_document"] = engine.to_ubl(payload, new_id("pdf")) if complete else None
    return answer


@router.post("/documents/pdf", status_code=201)
async def create_from_pdf(
    file: UploadFile,
    tenant: TenantDep,
    sandbox: SandboxDep,
    vendor_tax_id: str | None = None,
    customer_tax_id: str | None = None,
) -> Any:
    data = await _read(file, sandbox)
    if not pdf_extract.is_pdf(data):
        raise ApiError(415, NOT_PDF)
    return from_pdf(data, vendor_tax_id, customer_tax_id)


# --- Asynchronous conversion -----------------------------------------------------------------


def _finish(sandbox: Sandbox, generation: int, task_id: str) -> None:
    with sandbox.store.lock:
        task = sandbox.store.conversions.get(task_id)
        if sandbox.store.generation != generation or task is None:
            return
        try:
            task["result"] = from_pdf(task.pop("data"), None, None)
            task["status"] = "completed"
        except Exception:  # noqa: BLE001 - a failed conversion is a task state, not a 500
            task["status"] = "failed"


def _task(sandbox: Sandbox, tenant: Tenant, task_id: str) -> dict[str, Any]:
    task = sandbox.store.conversions.get(task_id)
    if task is None or task["tenant_id"] != tenant.id:
        raise ApiError(404, TASK_NOT_FOUND)
    return task


@router.post("/conversion/pdf", status_code=201)
async def convert_pdf(file: UploadFile, tenant: TenantDep, sandbox: SandboxDep) -> Any:
    data = await _read(file, sandbox)
    task_id = new_id("task")
    status = "pending" if pdf_extract.is_pdf(data) else "failed"
    with sandbox.store.lock:
        sandbox.store.conversions[task_id] = {
            "tenant_id": tenant.id,
            "status": status,
            "data": data,
        }
        if status == "pending":
            sandbox.network.call_later(
                sandbox.config.conversion_delay, _finish, sandbox, sandbox.store.generation, task_id
            )
    return {"task_id": task_id, "status": status}


@router.get("/conversion/pdf/{task_id}")
def conversion_status(task_id: str, tenant: TenantDep, sandbox: SandboxDep) -> Any:
    with sandbox.store.lock:
        return {"task_id": task_id, "status": _task(sandbox, tenant, task_id)["status"]}


@router.get("/conversion/pdf/{task_id}/result")
def conversion_result(task_id: str, tenant: TenantDep, sandbox: SandboxDep) -> Any:
    with sandbox.store.lock:
        task = _task(sandbox, tenant, task_id)
        if task["status"] != "completed":
            raise ApiError(404, f"Conversion task result not available (status: {task['status']})")
        return task["result"]
