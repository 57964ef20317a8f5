"""Attachments of a document: list, read, delete (and add, multipart)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import Response

from sandbox import documents
from sandbox.errors import ApiError
from sandbox.tenant_api.common import (
    SandboxDep,
    TenantDep,
    find_document,
)

router = APIRouter(prefix="/api")
files_router = APIRouter()
# Signs the download links of attachments (per process, like a signed URL).
_URL_SECRET = secrets.token_bytes(32)
ATTACHMENT_NOT_FOUND = "Attachment not found"

# The attachment types Peppol BIS Billing 3.0 allows (BT-125 MIME codes).
ALLOWED_TYPES = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "text/csv": (".csv",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
}
_MAGIC = {b"%PDF-": "application/pdf", b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def sniff_type(name: str, data: bytes) -> str | None:
    """The allowed MIME type of an upload, from its first bytes or (csv, xlsx, ods) its name."""
    for magic, mime in _MAGIC.items():
        if data.startswith(magic):
            return mime
    lowered = name.lower()
    for mime, endings in ALLOWED_TYPES.items():
        if mime not in _MAGIC.values() and lowered.endswith(endings):
            zipped = mime != "text/csv"
            if zipped == data.startswith(b"PK\x03\x04"):
                return mime
    return None


@router.post("/documents/{document_id}/attachments", status_code=201)
async def add_attachment(
    document_id: str, file: UploadFile, tenant: TenantDep, sandbox: SandboxDep
) -> dict[str, Any]:
    """Stored with the document only; not added to its UBL (as the file says)."""
    data = await file.read()
    name = file.filename or "attachment"
    with sandbox.store.lock:
        doc = find_document(sandbox, tenant, document_id)
        limit = sandbox.config.attachment_max_bytes
    if len(data) > limit:
        raise ApiError(422, f"Attachment too large: at most {limit} bytes")
    mime = sniff_type(name, data)
    if mime is None:
        allowed = ", ".join(ALLOWED_TYPES)
        raise ApiError(422, f"Unsupported attachment type; allowed: {allowed}")
    attachment = documents.new_attachment(name, mime, data)
    with sandbox.store.lock:
        doc.attachments.append(attachment)
    return documents.attachment_view(attachment)


@router.get("/documents/{document_id}/attachments")
def list_attachments(
    document_id: str, tenant: TenantDep, sandbox: SandboxDep
) -> list[dict[str, Any]]:
    with sandbox.store.lock:
        doc = find_document(sandbox, tenant, document_id)
        return [documents.attachment_view(a) for a in doc.attachments]


def _url_signature(document_id: str, attachment_id: str) -> str:
    message = f"{document_id}/{attachment_id}".encode()
    return hmac.new(_URL_SECRET, message, hashlib.sha256).hexdigest()[:32]


@router.get("/documents/{document_id}/attachments/{attachment_id}")
def get_attachment(
    document_id: str, attachment_id: str, tenant: TenantDep, sandbox: SandboxDep, request: Request
) -> dict[str, Any]:
    """The details with a link to the file (signed, as the file says; no API key needed)."""
    with sandbox.store.lock:
        doc = find_document(sandbox, tenant, document_id)
        for attachment in doc.attachments:
            if attachment["id"] == attachment_id:
                view = documents.attachment_view(attachment)
                if attachment.get("data"):
                    url = request.url_for(
                        "download_attachment", document_id=doc.id, attachment_id=attachment_id
                    )
                    signature = _url_signature(doc.id, attachment_id)
                    view["file_url"] = f"{url}?signature={signature}"
                return view
        raise ApiError(404, ATTACHMENT_NOT_FOUND)


@files_router.get("/files/attachments/{document_id}/{attachment_id}", name="download_attachment")
def download_attachment(
    document_id: str, attachment_id: str, signature: str, sandbox: SandboxDep
) -> Response:
    """The target of ``file_url``: the signature is the credential."""
    if not hmac.compare_digest(signature, _url_signature(document_id, attachment_id)):
        raise ApiError(403, "Invalid signature")
    with sandbox.store.lock:
        doc = sandbox.store.documents.get(document_id)
        found = [a for a in (doc.attachments if doc else []) if a["id"] == attachment_id]
        raw = documents.attachment_bytes(found[0]) if found else None
        if raw is None:
            raise ApiError(404, ATTACHMENT_NOT_FOUND)
        return Response(raw, media_type=found[0]["file_type"])


@router.delete("/documents/{document_id}/attachments/{attachment_id}")
def delete_attachment(
    document_id: str, attachment_id: str, tenant: TenantDep, sandbox: SandboxDep
) -> dict[str, bool]:
    with sandbox.store.lock:
        doc = find_document(sandbox, tenant, document_id)
        kept = [a for a in doc.attachments if a["id"] != attachment_id]
        if len(kept) == len(doc.attachments):
            raise ApiError(404, ATTACHMENT_NOT_FOUND)
        if doc.state != "DRAFT":
            raise ApiError(400, "Document is not in draft state")
        doc.attachments = kept
        return {"is_deleted": True}
