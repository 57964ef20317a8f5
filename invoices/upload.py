"""A document the customer's own software made: a UBL file (or a PDF e-invoice.be can read)
checked, created and sent, and mirrored like one made in the editor.

UBL: read locally first (root, number, lines: what the issues are placed on, and the number's
uniqueness), then `POST /api/validate/ubl` — its issues are placed as the editor places them
(`invoices.issues`) and nothing is created while there is an error — then
`POST /api/documents/ubl` (the file itself becomes the document's UBL), mirrored locally as an
outbound draft, and sent with `invoices.outbound.send`.

PDF: `POST /api/conversion/pdf` starts an asynchronous conversion whose task the upload page
follows; once done, its result says what could be read and, when e-invoice.be could make a
valid UBL of it (`ubl_document`), the customer checks it and sends it the UBL way.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET  # noqa: S405 - DTDs and entities refused before parsing
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from einvoice.errors import ApiError, NotFound, Unavailable
from einvoice.tenant import TenantApi
from invoices import attachments, inbound, outbound, states, timeline
from invoices.forms import DocumentForm, LineForm
from invoices.issues import Message, Placement, place
from invoices.models import Direction, Document, DocumentEvent, DocumentType, State
from tenants.models import Tenant

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024  # the API's upload limit (the sandbox's; the file names none)
NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
ROOTS = {
    "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice": DocumentType.INVOICE,
    "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote": (
        DocumentType.CREDIT_NOTE
    ),
}
TASK_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


@dataclass
class UblFile:
    """What the portal reads of an uploaded UBL file itself."""

    name: str
    content: bytes
    document_type: str
    invoice_id: str
    line_count: int
    # (allowances|charges, n) → position among the document-level AllowanceCharge elements
    adjustment_index: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def adjustment_count(self) -> int:
        return len(self.adjustment_index)


@dataclass
class Outcome:
    document: Document | None = None
    placement: Placement | None = None


class Refused(Exception):
    """The upload cannot go on; the message says why (shown at the file input)."""


def kind_of(content: bytes) -> str:
    """ "pdf" or "ubl" by the file's first bytes."""
    head = content[:1024].lstrip()
    return "pdf" if head.startswith(b"%PDF-") else "ubl"


def check_size(name: str, size: int | None) -> None:
    if size is not None and size > MAX_BYTES:
        raise ValidationError(
            _("%(name)s is %(size)s; a file can be at most %(limit)s.")
            % {"name": name, "size": filesizeformat(size), "limit": filesizeformat(MAX_BYTES)}
        )


def read_ubl(name: str, content: bytes) -> UblFile:
    """The file as a UBL Invoice or CreditNote, or a ValidationError in plain words."""
    not_ubl = _("%(name)s is not a UBL invoice or credit note (Peppol BIS Billing 3.0 XML).") % {
        "name": name
    }
    if b"<!DOCTYPE" in content[:4096] or b"<!ENTITY" in content:
        raise ValidationError(not_ubl)
    try:
        root = ET.fromstring(content)  # noqa: S314 - DTDs and entities refused above
    except ET.ParseError:
        raise ValidationError(not_ubl) from None
    document_type = ROOTS.get(root.tag)
    if document_type is None:
        raise ValidationError(not_ubl)
    number = (root.findtext("cbc:ID", "", NS) or "").strip()
    line_tag = "InvoiceLine" if document_type == DocumentType.INVOICE else "CreditNoteLine"
    index: dict[tuple[str, int], int] = {}
    counts = {"allowances": 0, "charges": 0}
    for position, node in enumerate(root.findall("cac:AllowanceCharge", NS)):
        key = (
            "charges"
            if node.findtext("cbc:ChargeIndicator", "", NS).strip() == "true"
            else "allowances"
        )
        index[(key, counts[key])] = position
        counts[key] += 1
    return UblFile(
        name=attachments.safe_name(name, "document.xml"),
        content=content,
        document_type=document_type,
        invoice_id=number[:64],
        line_count=len(root.findall(f"cac:{line_tag}", NS)),
        adjustment_index=index,
    )


def labels() -> dict[str, str]:
    """The inputs' names as the editor shows them, for the placed issues."""
    found = {name: str(f.label) for name, f in DocumentForm.base_fields.items()}
    found.update({name: str(f.label) for name, f in LineForm.base_fields.items()})
    found.update(
        {"items": _("lines"), "swift": _("BIC"), "billing_reference": _("Corrected invoice")}
    )
    return found


def placed(file: UblFile, issues: list[dict[str, Any]]) -> Placement:
    return place(
        issues,
        line_count=file.line_count,
        adjustment_index=file.adjustment_index,
        adjustment_count=file.adjustment_count,
        labels=labels(),
    )


def places(placement: Placement) -> list[tuple[str, str, list[Message]]]:
    """The placed issues as (key, where in the document, messages), in the document's order."""
    names = labels()
    names.update({"lines": _("Lines"), "adjustments": _("Discounts and surcharges")})
    out: list[tuple[str, str, list[Message]]] = []
    for name, messages in placement.fields.items():
        out.append((f"field-{name}", capfirst(names.get(name, name)), messages))
    for row, by_field in sorted(placement.lines.items()):
        for name, messages in by_field.items():
            where = _("Line %(number)s") % {"number": row + 1}
            if name in names:
                where = f"{where} · {names[name]}"
            out.append((f"line-{row}-{name}", where, messages))
    for row, by_field in sorted(placement.adjustments.items()):
        for name, messages in by_field.items():
            where = _("Discount or surcharge %(number)s") % {"number": row + 1}
            out.append((f"adjustment-{row}-{name}", where, messages))
    if placement.totals:
        out.append(("totals", _("Totals"), placement.totals))
    if placement.general:
        out.append(("general", _("The document as a whole"), placement.general))
    return out


def _mirror(tenant: Tenant, remote: Any, user, origin: str) -> Document:
    """The created document as a local outbound draft, with its rows and embedded files."""
    with transaction.atomic():
        document = inbound.store_remote(
            tenant,
            remote,
            direction=Direction.OUTBOUND,
            state=State.DRAFT,
            origin=origin,
            created_by=user,
        )
        attachments.mirror_received(document, remote)
    return document


def _duplicate(tenant: Tenant, number: str) -> bool:
    return Document.objects.filter(
        tenant=tenant, direction=Direction.OUTBOUND, invoice_id=number, replaces__isnull=True
    ).exists()


def create_and_send(
    tenant: Tenant, user, file: UblFile, *, origin: str = Document.Origin.UBL
) -> Outcome:
    """Validate, create and send an uploaded UBL file. Issues with an error: nothing is
    created (the placement says where). API errors are raised; a refused send leaves the
    created draft, whose page offers to send it again."""
    if file.invoice_id and _duplicate(tenant, file.invoice_id):
        raise Refused(str(outbound.DuplicateNumber(file.invoice_id)))
    api = TenantApi(tenant)
    result = api.validate_ubl(file.name, file.content)
    placement = placed(file, result.issues)
    if not result.is_valid or placement.has_errors:
        if not placement.count:  # not valid, and not a word why: say so at least
            placement.general.append(Message(_("e-invoice.be refused this file.")))
        return Outcome(placement=placement)
    try:
        remote = api.create_from_ubl(file.name, file.content)
    except Unavailable:
        remote = _created_after_all(api, tenant, file)
        if remote is None:
            raise
    try:
        document = _mirror(tenant, remote, user, origin)
    except IntegrityError:  # the same number was uploaded at the same moment
        _delete_quietly(api, remote.id)
        raise Refused(str(outbound.DuplicateNumber(file.invoice_id))) from None
    states.note(
        document,
        source=DocumentEvent.Source.PORTAL,
        code=timeline.UPLOADED,
        params={"name": file.name},
        actor=user,
    )
    outbound.send(document, user)
    return Outcome(document=document, placement=placement)


def _created_after_all(api: TenantApi, tenant: Tenant, file: UblFile) -> Any | None:
    """A create without an answer may have happened: its draft, by number, if it is there."""
    if not file.invoice_id:
        return None
    try:
        found = api.find_drafts(file.invoice_id)
        mirrored = set(
            Document.objects.filter(tenant=tenant, remote_id__in=[d.id for d in found]).values_list(
                "remote_id", flat=True
            )
        )
        fresh = [d for d in found if d.id not in mirrored]
        return api.retrieve_document(fresh[0].id) if fresh else None
    except ApiError:
        return None


def _delete_quietly(api: TenantApi, remote_id: str) -> None:
    try:
        api.delete_document(remote_id)
    except ApiError as exc:
        log.warning("uploaded draft %s not deleted: %s", remote_id, exc)


# --- PDF ---------------------------------------------------------------------------------------
@dataclass
class Conversion:
    task_id: str
    status: str  # pending | completed | failed
    result: Any = None

    @property
    def done(self) -> bool:
        return self.status != "pending"

    @property
    def ubl(self) -> str:
        return (getattr(self.result, "ubl_document", None) or "") if self.result else ""

    def found(self) -> list[tuple[str, str]]:
        """What e-invoice.be read from the PDF, as (label, value), for the customer to check."""
        if self.result is None:
            return []
        names = labels()
        shown = []
        for name in (
            "invoice_id",
            "invoice_date",
            "due_date",
            "vendor_name",
            "vendor_tax_id",
            "customer_name",
            "customer_tax_id",
            "invoice_total",
        ):
            value = getattr(self.result, name, None)
            if value not in (None, ""):
                label = names.get(name) or (_("Total") if name == "invoice_total" else name)
                shown.append((capfirst(str(label)), str(value)))
        return shown


def start_conversion(tenant: Tenant, name: str, content: bytes) -> str:
    task = TenantApi(tenant).convert_pdf(attachments.safe_name(name, "document.pdf"), content)
    return str(task.task_id)


def conversion(tenant: Tenant, task_id: str) -> Conversion:
    """The task's state; its result once completed. NotFound: no such task of this tenant."""
    if not TASK_ID.match(task_id):
        raise NotFound(_("This conversion does not exist (any more)."))
    api = TenantApi(tenant)
    status = str(api.conversion_status(task_id).status or "pending")
    if status != "completed":
        return Conversion(task_id, status)
    return Conversion(task_id, status, api.conversion_result(task_id))


def send_converted(tenant: Tenant, user, task_id: str) -> Outcome:
    """The converted PDF's UBL, checked, created and sent as an uploaded UBL file would be."""
    done = conversion(tenant, task_id)
    if not done.ubl:
        raise Refused(_("e-invoice.be could not make a complete e-invoice of this PDF."))
    file = read_ubl(f"{task_id}.xml", done.ubl.encode("utf-8"))
    return create_and_send(tenant, user, file, origin=Document.Origin.PDF)
