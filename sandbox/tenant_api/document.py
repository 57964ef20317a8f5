"""One document: create, read, delete, send, validate, timeline, UBL."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox import delivery, documents, engine
from sandbox.directory import (
    parse_peppol_id,
    peppol_id_from_tax_id,
)
from sandbox.errors import ApiError
from sandbox.schemas import DocumentCreate
from sandbox.state import Document, Tenant, iso, now_utc
from sandbox.tenant_api.common import (
    DOC_NOT_FOUND,
    SandboxDep,
    TenantDep,
    error_extras,
    find_document,
    guide_errors,
    issue_summary,
)

router = APIRouter(prefix="/api")

files_router = APIRouter()
# Signs the download links of GET /api/documents/{id}/ubl (per process, like a signed URL).
_URL_SECRET = secrets.token_bytes(32)


@router.post("/documents/", status_code=201)
def create_document(
    body: DocumentCreate, tenant: TenantDep, sandbox: SandboxDep, construct_pdf: bool = False
) -> dict[str, Any]:
    payload = body.payload()
    issues = engine.validate(payload)
    errors = engine.errors_only(issues)
    if errors:
        extra = {"issues": issues, "errors": guide_errors(issues)}
        raise ApiError(406, issue_summary(errors), extra=error_extras(sandbox, extra))
    totals = documents.merged_totals(payload)
    with sandbox.store.lock:
        doc = documents.new_document(sandbox, tenant, payload, totals)
        if construct_pdf:
            documents.attach_constructed_pdf(doc)
        sandbox.store.documents[doc.id] = doc
        return documents.response(doc)


@router.get("/documents/{document_id}")
def get_document(document_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    with sandbox.store.lock:
        return documents.response(find_document(sandbox, tenant, document_id))


@router.delete("/documents/{document_id}")
def delete_document(document_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, bool]:
    with sandbox.store.lock:
        doc = find_document(sandbox, tenant, document_id)
        if doc.state != "DRAFT":
            raise ApiError(400, f"Document is not in draft state (state: {doc.state})")
        del sandbox.store.documents[doc.id]
        return {"is_deleted": True}


def _query_party(scheme: str | None, ident: str | None, role: str) -> str | None:
    """Join the send endpoint's *_peppol_scheme / *_peppol_id query parameters into one ID.

    Accepted: scheme "0208" + id "0123456789", or a full "0208:0123456789" id (with no scheme
    or the participant scheme "iso6523-actorid-upis").
    """
    if not ident:
        if scheme:
            raise ApiError(400, f"{role}_peppol_id is required when {role}_peppol_scheme is given")
        return None
    if ":" in ident:
        full = ident
    elif scheme and re.fullmatch(r"\d{4}", scheme):
        full = f"{scheme}:{ident}"
    else:
        raise ApiError(
            400,
            f"Invalid {role} Peppol ID: give {role}_peppol_scheme (e.g. 0208) and "
            f"{role}_peppol_id (e.g. 0123456789)",
        )
    if parse_peppol_id(full) is None:
        raise ApiError(400, f"Invalid {role} Peppol ID {full!r}: expected <scheme>:<id>")
    return full


def _derive_sender(doc: Document, tenant: Tenant) -> str | None:
    return peppol_id_from_tax_id(doc.payload.get("vendor_tax_id")) or (
        tenant.peppol_ids[0] if tenant.peppol_ids else None
    )


def _derive_receiver(doc: Document) -> str | None:
    given = doc.payload.get("customer_peppol_id")
    if given and parse_peppol_id(given):
        return given
    return peppol_id_from_tax_id(doc.payload.get("customer_tax_id"))


@router.post("/documents/{document_id}/send")
def send_document(
    document_id: str,
    tenant: TenantDep,
    sandbox: SandboxDep,
    sender_peppol_scheme: str | None = None,
    sender_peppol_id: str | None = None,
    receiver_peppol_scheme: str | None = None,
    receiver_peppol_id: str | None = None,
    email: str | None = None,
) -> dict[str, Any]:
    store = sandbox.store
    with store.lock:
        doc = find_document(sandbox, tenant, document_id)
        # Only a draft is sent (the file: 405 otherwise; FAILED is final). `resend_failed` keeps
        # the sandbox's old FAILED -> TRANSIT for the portal's tests until they stop needing it.
        sendable = ("DRAFT", "FAILED") if sandbox.config.resend_failed else ("DRAFT",)
        if doc.direction != "OUTBOUND" or doc.state not in sendable:
            raise ApiError(405, f"Document is not in draft state (state: {doc.state})")
        sender = _query_party(sender_peppol_scheme, sender_peppol_id, "sender") or _derive_sender(
            doc, tenant
        )
        receiver = _query_party(
            receiver_peppol_scheme, receiver_peppol_id, "receiver"
        ) or _derive_receiver(doc)
        if sender is None:
            raise ApiError(
                400,
                "Missing Peppol information: cannot derive the sender Peppol ID (set vendor_tax_id "
                "or sender_peppol_scheme/sender_peppol_id)",
            )
        if receiver is None:
            raise ApiError(
                400,
                "Missing Peppol information: cannot derive the receiver Peppol ID (set "
                "customer_tax_id or receiver_peppol_scheme/receiver_peppol_id)",
            )
        errors = engine.errors_only(engine.validate(doc.payload))
        if errors:
            raise ApiError(
                406, issue_summary(errors), extra=error_extras(sandbox, {"issues": errors})
            )
        if sender not in tenant.peppol_ids:
            raise ApiError(
                409,
                f"Document is not allowed to be sent from Peppol ID {sender}: it is not this "
                "tenant's Peppol ID",
            )
        doc.sender_peppol_id = sender
        doc.receiver_peppol_id = receiver
        doc.state = "TRANSIT"
        doc.updated_at = now_utc()
        details: dict[str, Any] = {"sender_peppol_id": sender, "receiver_peppol_id": receiver}
        if email:
            details["email"] = email
        details.update(delivery.schedule_delivery(sandbox, doc))
        doc.add_event("send_attempted", details)
        return {**documents.response(doc), "message": "Document queued for transmission"}


@router.post("/documents/{document_id}/validate")
def validate_document(document_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    with sandbox.store.lock:
        doc = find_document(sandbox, tenant, document_id)
        payload, ubl = doc.payload, doc.ubl
    issues = engine.validate(payload)
    if engine.errors_only(issues):
        raise ApiError(
            400,
            issue_summary(engine.errors_only(issues)),
            extra=error_extras(sandbox, {"issues": issues}),
        )
    with sandbox.store.lock:
        doc.validated_at = now_utc()
    return {
        "id": doc.id,
        "file_name": f"{doc.id}.xml",
        "is_valid": True,
        "issues": issues,
        "ubl_document": ubl,
    }


@router.get("/documents/{document_id}/timeline")
def document_timeline(document_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    with sandbox.store.lock:
        doc = find_document(sandbox, tenant, document_id)
        return {"document_id": doc.id, "events": [dict(e) for e in doc.events]}


def _split(peppol_id: str | None) -> tuple[str | None, str | None]:
    parsed = parse_peppol_id(peppol_id)
    return parsed if parsed else (None, None)


def _url_signature(doc_id: str) -> str:
    return hmac.new(_URL_SECRET, doc_id.encode(), hashlib.sha256).hexdigest()[:32]


@router.get("/documents/{document_id}/ubl")
def document_ubl(
    document_id: str, tenant: TenantDep, sandbox: SandboxDep, request: Request
) -> dict[str, Any]:
    with sandbox.store.lock:
        doc = find_document(sandbox, tenant, document_id)
        xml = (doc.ubl or "").encode("utf-8")
        sender = doc.sender_peppol_id or _derive_sender(doc, tenant)
        receiver = doc.receiver_peppol_id or _derive_receiver(doc)
        sender_scheme, sender_id = _split(sender)
        receiver_scheme, receiver_id = _split(receiver)
        signed_url = str(request.url_for("download_ubl", document_id=doc.id))
        return {
            "id": doc.id,
            "file_name": f"{doc.payload.get('invoice_id') or doc.id}.xml",
            "file_size": len(xml),
            "signed_url": f"{signed_url}?signature={_url_signature(doc.id)}",
            "sender_peppol_scheme": sender_scheme,
            "sender_peppol_id": sender_id,
            "receiver_peppol_scheme": receiver_scheme,
            "receiver_peppol_id": receiver_id,
            "file_hash": hashlib.sha256(xml).hexdigest(),
            "validated_at": iso(doc.validated_at),
        }


@files_router.get("/files/ubl/{document_id}.xml", name="download_ubl")
def download_ubl(document_id: str, signature: str, sandbox: SandboxDep) -> Response:
    """The target of ``signed_url``: no API key, the signature is the credential."""
    if not hmac.compare_digest(signature, _url_signature(document_id)):
        raise ApiError(403, "Invalid signature")
    with sandbox.store.lock:
        doc = sandbox.store.documents.get(document_id)
        if doc is None:
            raise ApiError(404, DOC_NOT_FOUND)
        return Response(doc.ubl or "", media_type="application/xml")
