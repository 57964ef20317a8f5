"""Files that travel with a document: checked, kept, put into the create payload, downloaded.

A customer adds files (a PDF copy, a timesheet) to a draft before sending. e-invoice.be
embeds the files of `POST /api/documents/` in the document's UBL, so they reach the buyer
over Peppol; its `POST /api/documents/{id}/attachments` does not (the OpenAPI file says the
files are then only stored at e-invoice.be), so the portal never uses it. The files are part of
a draft's content: a draft that exists there already is replaced at the send by one with them.

The types are those Peppol BIS Billing 3.0 allows for an attached document (BT-125 MIME
codes). e-invoice.be's OpenAPI file and guide give no size limit; the sandbox refuses more
than 10 MiB per file, and so do we, with at most `MAX_FILES` files per document.

Received documents' files are listed from e-invoice.be with the document; their content is
read through the attachment's signed link on the first download, then kept here.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from einvoice.errors import NotFound
from einvoice.tenant import TenantApi
from invoices import states, timeline
from invoices.models import Attachment, Document, DocumentEvent

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 10
# BIS 3.0's attachment MIME codes and the file names each is known by.
ALLOWED_TYPES = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "text/csv": (".csv",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
}
_MAGIC = {b"%PDF-": "application/pdf", b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg"}
_ZIPPED = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.spreadsheet",
}


@dataclass
class CheckedFile:
    name: str
    mime: str
    content: bytes


def safe_name(name: str, fallback: str = "attachment") -> str:
    """A file name for a header and a ZIP: no path, no quotes or control characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = re.sub(r"[^\w.\- ()]", "_", base).strip(" .")[:150]
    return cleaned or fallback


def sniff(name: str, content: bytes) -> str | None:
    """The allowed type of a file: from its first bytes (PDF, PNG, JPEG), else from its name
    when the bytes agree (spreadsheets are ZIP files, a CSV is text)."""
    for magic, mime in _MAGIC.items():
        if content.startswith(magic):
            return mime if name.lower().endswith(ALLOWED_TYPES[mime]) else None
    lowered = name.lower()
    for mime, endings in ALLOWED_TYPES.items():
        if mime in _MAGIC.values() or not lowered.endswith(endings):
            continue
        if mime in _ZIPPED:
            return mime if content.startswith(b"PK\x03\x04") else None
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return mime if b"\x00" not in content else None
    return None


def allowed_endings() -> str:
    return ", ".join(e for endings in ALLOWED_TYPES.values() for e in endings)


def check(upload: UploadedFile | None, document: Document) -> CheckedFile:
    """The file, or a ValidationError saying what is wrong with it (nothing is stored)."""
    if upload is None:
        raise ValidationError(_("Choose a file."), code="required")
    if upload.size is not None and upload.size > MAX_BYTES:
        raise ValidationError(
            _("%(name)s is %(size)s; a file can be at most %(limit)s.")
            % {
                "name": upload.name,
                "size": filesizeformat(upload.size),
                "limit": filesizeformat(MAX_BYTES),
            },
            code="too_large",
        )
    content = upload.read(MAX_BYTES + 1)
    if not content:
        raise ValidationError(_("%(name)s is empty.") % {"name": upload.name}, code="empty")
    if len(content) > MAX_BYTES:
        raise ValidationError(
            _("A file can be at most %(limit)s.") % {"limit": filesizeformat(MAX_BYTES)},
            code="too_large",
        )
    name = safe_name(upload.name or "")
    mime = sniff(name, content)
    if mime is None:
        raise ValidationError(
            _(
                "%(name)s cannot be attached: Peppol accepts PDF, PNG, JPEG, CSV, XLSX and ODS "
                "files (%(endings)s), and the file must really be one."
            )
            % {"name": name, "endings": allowed_endings()},
            code="type",
        )
    if document.attachments.count() >= MAX_FILES:
        raise ValidationError(
            _("A document can carry at most %(count)s files.") % {"count": MAX_FILES},
            code="too_many",
        )
    return CheckedFile(name=name, mime=mime, content=content)


def can_change(document: Document) -> bool:
    """Files can be added or removed while the document is a draft made in the portal (an
    uploaded UBL file carries its own)."""
    return document.can_send and document.origin == Document.Origin.EDITOR


def payload_entries(document: Document) -> list[dict[str, Any]]:
    """The document's files as `attachments` of POST /api/documents/ (embedded in its UBL)."""
    return [
        {
            "file_name": a.file_name,
            "file_type": a.file_type,
            "file_size": a.file_size,
            "file_data": base64.b64encode(bytes(a.content)).decode("ascii"),
        }
        for a in document.attachments.exclude(content=None)
    ]


def add(document: Document, checked: CheckedFile, user=None) -> Attachment:
    """Keep the file with the draft. Nothing is asked of e-invoice.be: the send creates the
    document with its files (a draft there of an older content is replaced then, see
    `outbound.ensure_remote`: the files are part of the content)."""
    attachment = Attachment.objects.create(
        document=document,
        file_name=checked.name,
        file_type=checked.mime,
        file_size=len(checked.content),
        sha256=hashlib.sha256(checked.content).hexdigest(),
        content=checked.content,
    )
    states.note(
        document,
        source=DocumentEvent.Source.PORTAL,
        code=timeline.FILE_ATTACHED,
        params={"name": checked.name},
        actor=user,
    )
    return attachment


def remove(document: Document, attachment: Attachment, user=None) -> None:
    """Take a file off a draft (the send then creates the document without it)."""
    attachment.delete()
    states.note(
        document,
        source=DocumentEvent.Source.PORTAL,
        code=timeline.FILE_REMOVED,
        params={"name": attachment.file_name},
        actor=user,
    )


def mirror_received(document: Document, remote: Any) -> None:
    """A received document's files, as e-invoice.be lists them (content read on download)."""
    Attachment.objects.bulk_create(
        [
            Attachment(
                document=document,
                remote_id=str(a.id),
                file_name=safe_name(a.file_name or ""),
                file_type=(a.file_type or "application/octet-stream")[:100],
                file_size=max(int(a.file_size or 0), 0),
            )
            for a in (getattr(remote, "attachments", None) or [])
            if a.id
        ],
        ignore_conflicts=True,
    )


def content_of(attachment: Attachment) -> bytes:
    """The file's bytes: kept here, or (a received file) read from e-invoice.be once.
    Raises einvoice errors when it cannot be read now."""
    if attachment.content is not None:
        return bytes(attachment.content)
    document = attachment.document
    if not (attachment.remote_id and document.remote_id):
        raise NotFound(_("This file is not available."))
    content = TenantApi(document.tenant).attachment_content(
        document.remote_id, attachment.remote_id
    )
    attachment.content = content
    attachment.sha256 = hashlib.sha256(content).hexdigest()
    attachment.file_size = len(content)
    attachment.save(update_fields=["content", "sha256", "file_size"])
    return content


def download_type(attachment: Attachment) -> str:
    """The Content-Type of a download: an allowed type as is, anything else as bytes."""
    return (
        attachment.file_type
        if attachment.file_type in ALLOWED_TYPES
        else "application/octet-stream"
    )
