"""The tenant API (invoice-api-guide.txt + tenant-api-openapi.json), authenticated by tenant key."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from sandbox import documents, engine
from sandbox.core import Sandbox, get_sandbox, require_tenant
from sandbox.directory import (
    BILLING_PROCESS,
    CREDIT_NOTE_DOCTYPE,
    DOCTYPE_SCHEME,
    INVOICE_DOCTYPE,
    KBO,
    OUTSIDE_PARTICIPANTS,
    PARTICIPANT_SCHEME,
    parse_peppol_id,
    peppol_id_from_tax_id,
)
from sandbox.errors import ApiError
from sandbox.schemas import DocumentCreate, DocumentStateL, DocumentTypeL, spec_enum
from sandbox.state import Document, Tenant, iso, new_id, now_utc

router = APIRouter(prefix="/api")
files_router = APIRouter()

TenantDep = Annotated[Tenant, Depends(require_tenant)]
SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]
SortFieldL = Literal.__getitem__(spec_enum("SortField"))  # type: ignore[attr-defined]
SortOrderL = Literal["asc", "desc"]

DOC_NOT_FOUND = "Document not found"
VALID_MESSAGE = "Invoice JSON is valid and can be converted to UBL BIS Billing 3.0"
NOT_BIS = "Document is not valid according to Peppol BIS Billing 3.0"
# Signs the download links of GET /api/documents/{id}/ubl (per process, like a signed URL).
_URL_SECRET = secrets.token_bytes(32)


def _doc(sandbox: Sandbox, tenant: Tenant, document_id: str) -> Document:
    doc = sandbox.store.documents.get(document_id)
    if doc is None or doc.tenant_id != tenant.id:
        raise ApiError(404, DOC_NOT_FOUND)
    return doc


def _issue_summary(issues: list[dict[str, Any]]) -> str:
    parts = [
        (f"[{i['rule_id']}] " if i.get("rule_id") else "")
        + (f"{i['location']}: " if i.get("location") else "")
        + i["message"]
        for i in issues[:3]
    ]
    more = f" (+{len(issues) - 3} more)" if len(issues) > 3 else ""
    return f"{NOT_BIS}: " + "; ".join(parts) + more


def _guide_errors(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The invoice guide's {"field", "message"} view of the errors."""
    return [{"field": i["location"], "message": i["message"]} for i in engine.errors_only(issues)]


# --- Validation ------------------------------------------------------------------------------


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
        answer["errors"] = _guide_errors(issues)
    return answer


def _require_peppol_id_format(peppol_id: str) -> None:
    if parse_peppol_id(peppol_id) is None:
        raise ApiError(
            422, "Invalid Peppol ID format. Expected <scheme>:<id>, e.g. 0208:1018265814"
        )


@router.get("/validate/peppol-id")
def validate_peppol_id(peppol_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    _require_peppol_id_format(peppol_id)
    participant = _participant(sandbox, peppol_id)
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
        "supported_document_types": [INVOICE_DOCTYPE, CREDIT_NOTE_DOCTYPE],
        "business_card": {
            "name": participant["name"],
            "country_code": participant["country_code"],
            "registration_date": participant["registration_date"],
        },
    }


# --- Peppol directory ------------------------------------------------------------------------


def _participant(sandbox: Sandbox, peppol_id: str) -> dict[str, Any] | None:
    outside = OUTSIDE_PARTICIPANTS.get(peppol_id)
    if outside is not None:
        return {
            "peppol_id": peppol_id,
            "name": outside.name,
            "country_code": outside.country_code,
            "city": outside.city,
            "registration_date": outside.registration_date,
        }
    tenant = sandbox.store.registered_tenant(peppol_id)
    if tenant is None:
        return None
    return {
        "peppol_id": peppol_id,
        "name": tenant.company_name or tenant.description or tenant.name,
        "country_code": tenant.company_country or _country_of(peppol_id),
        "city": tenant.company_city,
        "registration_date": tenant.registered_at.date().isoformat()
        if tenant.registered_at
        else None,
    }


def _country_of(peppol_id: str) -> str | None:
    scheme, value = parse_peppol_id(peppol_id) or ("", "")
    if scheme == "0208":
        return "BE"
    return value[:2].upper() if scheme.startswith("99") and value[:2].isalpha() else None


def _all_participants(sandbox: Sandbox) -> list[dict[str, Any]]:
    with sandbox.store.lock:
        ids = list(OUTSIDE_PARTICIPANTS) + [
            t.registered_peppol_id for t in sandbox.store.tenants.values() if t.registered
        ]
        return [p for p in (_participant(sandbox, i) for i in ids if i) if p is not None]


def _doc_types() -> list[dict[str, str]]:
    return [
        {"scheme": DOCTYPE_SCHEME, "value": INVOICE_DOCTYPE},
        {"scheme": DOCTYPE_SCHEME, "value": CREDIT_NOTE_DOCTYPE},
    ]


@router.get("/lookup")
def lookup(peppol_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    _require_peppol_id_format(peppol_id)
    participant = _participant(sandbox, peppol_id)
    found = participant is not None
    sml = "edelivery.tech.ec.europa.eu"
    meta = {
        "identifierScheme": PARTICIPANT_SCHEME,
        "identifierValue": peppol_id,
        "smlDomain": sml,
        "timestamp": iso(now_utc()),
        "version": "sandbox-1",
    }
    endpoint = {
        "status": "success",
        "url": "https://sandbox.e-invoice.invalid/smp",
        "documentTypes": _doc_types(),
        "processes": [
            {
                "processId": {"scheme": "cenbii-procid-ubl", "value": BILLING_PROCESS},
                "endpoints": [
                    {
                        "transportProfile": "peppol-transport-as4-v2_0",
                        "address": "https://sandbox.e-invoice.invalid/as4",
                        "serviceDescription": "e-invoice.be sandbox access point",
                        "certificate": None,
                    }
                ],
            }
        ],
        "error": None,
    }
    return {
        "queryMetadata": meta,
        "status": "success" if found else "error",
        "errors": [] if found else [f"Participant {peppol_id} not found in the Peppol network"],
        "dnsInfo": {
            "status": "success" if found else "error",
            "smpHostname": "smp.sandbox.e-invoice.invalid" if found else None,
            "smlHostname": sml,
            "dnsRecords": [{"ip": "192.0.2.10"}] if found else [],
            "error": None if found else "NXDOMAIN",
            "lookupMethod": "naptr",
        },
        "serviceMetadata": {
            "status": "success" if found else "error",
            "queryTimeMs": 1.0,
            "endpoints": [endpoint] if found else [],
            "error": None if found else "No service metadata",
        },
        "businessCard": {
            "status": "success" if found else "error",
            "entities": [
                {
                    "name": participant["name"],
                    "countryCode": participant["country_code"],
                    "registrationDate": participant["registration_date"],
                    "additionalInformation": [],
                }
            ]
            if participant
            else [],
            "queryTimeMs": 1.0,
            "error": None if found else "No business card",
        },
        "certificates": [],
        "executionTimeMs": 2.0,
    }


@router.get("/lookup/participants")
def lookup_participants(
    tenant: TenantDep,
    sandbox: SandboxDep,
    query: Annotated[str, Query(min_length=1)],
    country_code: str | None = None,
) -> dict[str, Any]:
    needle = query.strip().casefold()
    hits = [
        p
        for p in _all_participants(sandbox)
        if (needle in (p["name"] or "").casefold() or needle in p["peppol_id"].casefold())
        and (not country_code or (p["country_code"] or "").upper() == country_code.upper())
    ]
    participants = [
        {
            "peppol_id": p["peppol_id"],
            "peppol_scheme": PARTICIPANT_SCHEME,
            "entities": [
                {
                    "name": p["name"],
                    "country_code": p["country_code"],
                    "website": None,
                    "geo_info": p["city"],
                    "additional_info": None,
                    "registration_date": p["registration_date"],
                    "identifiers": [
                        {
                            "scheme": p["peppol_id"].split(":")[0],
                            "value": p["peppol_id"].split(":", 1)[1],
                        }
                    ],
                }
            ],
            "document_types": _doc_types(),
        }
        for p in hits
    ]
    return {
        "total_count": len(participants),
        "used_count": len(participants),
        "participants": participants,
        "query_terms": query,
        "search_date": iso(now_utc()),
    }


# --- Me and stats ----------------------------------------------------------------------------


@router.get("/me/")
def me(tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    with sandbox.store.lock:
        kbo = KBO.get(tenant.company_number or "")
        return {
            "name": tenant.name,
            "description": tenant.description,
            "plan": "enterprise",
            "credit_balance": 999_999_999,
            "peppol_ids": list(tenant.peppol_ids),
            "ibans": None,
            "company_number": tenant.company_number,
            "company_tax_id": tenant.company_tax_id,
            "company_name": tenant.company_name or (kbo.name if kbo else None),
            "company_address": tenant.company_address,
            "company_zip": tenant.company_zip,
            "company_city": tenant.company_city,
            "company_country": tenant.company_country,
            "company_email": None,
            "smp_registration": tenant.registered,
            "smp_registration_date": iso(tenant.registered_at) if tenant.registered else None,
            "bcc_recipient_email": None,
        }


def _period_start(day: date, aggregation: str) -> date:
    if aggregation == "WEEK":
        return day - timedelta(days=day.weekday())
    if aggregation == "MONTH":
        return day.replace(day=1)
    return day


@router.get("/stats")
def stats(
    tenant: TenantDep,
    sandbox: SandboxDep,
    start_date: date | None = None,
    end_date: date | None = None,
    aggregation: Literal["DAY", "WEEK", "MONTH"] | None = "DAY",
) -> dict[str, Any]:
    aggregation = aggregation or "DAY"
    if start_date and end_date and start_date > end_date:
        raise ApiError(400, "start_date must not be after end_date")
    with sandbox.store.lock:
        actions = [(a, when.date()) for t, a, when in sandbox.store.actions if t == tenant.id]
    today = now_utc().date()
    start = start_date or min((d for _, d in actions), default=today)
    end = end_date or max((d for _, d in actions), default=today)
    counts: dict[tuple[str, date], int] = {}
    for action, day in actions:
        if start <= day <= end:
            bucket = (action, _period_start(day, aggregation))
            counts[bucket] = counts.get(bucket, 0) + 1
    total_days = max(1, (end - start).days + 1)
    average = sum(counts.values()) / total_days
    return {
        "tenant_id": tenant.id,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "aggregation": aggregation,
        "actions": [
            {"action": action, "stat_date": day.isoformat(), "count": count}
            for (action, day), count in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        ],
        "total_days": total_days,
        "average_daily_usage": average,
        "budget_estimation_days": (999_999_999 / average) if average else 0.0,
    }


# --- Documents -------------------------------------------------------------------------------


@router.post("/documents/", status_code=201)
def create_document(body: DocumentCreate, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    payload = body.payload()
    issues = engine.validate(payload)
    errors = engine.errors_only(issues)
    if errors:
        raise ApiError(
            406, _issue_summary(errors), extra={"issues": issues, "errors": _guide_errors(issues)}
        )
    totals = documents.merged_totals(payload)
    with sandbox.store.lock:
        doc = documents.new_document(sandbox, tenant, payload, totals)
        sandbox.store.documents[doc.id] = doc
        return documents.response(doc)


@router.get("/documents/{document_id}")
def get_document(document_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    with sandbox.store.lock:
        return documents.response(_doc(sandbox, tenant, document_id))


@router.delete("/documents/{document_id}")
def delete_document(document_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, bool]:
    with sandbox.store.lock:
        doc = _doc(sandbox, tenant, document_id)
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
        doc = _doc(sandbox, tenant, document_id)
        # FAILED may be sent again (FAILED -> TRANSIT); anything else that is not a draft: 405.
        if doc.direction != "OUTBOUND" or doc.state not in ("DRAFT", "FAILED"):
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
            raise ApiError(406, _issue_summary(errors), extra={"issues": errors})
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
        doc.add_event("send_attempted", details)
        documents.schedule_delivery(sandbox, doc)
        return {**documents.response(doc), "message": "Document queued for transmission"}


@router.post("/documents/{document_id}/validate")
def validate_document(document_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    with sandbox.store.lock:
        doc = _doc(sandbox, tenant, document_id)
        payload, ubl = doc.payload, doc.ubl
    issues = engine.validate(payload)
    if engine.errors_only(issues):
        raise ApiError(400, _issue_summary(engine.errors_only(issues)), extra={"issues": issues})
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
        doc = _doc(sandbox, tenant, document_id)
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
        doc = _doc(sandbox, tenant, document_id)
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


@router.get("/documents/{document_id}/attachments")
def list_attachments(
    document_id: str, tenant: TenantDep, sandbox: SandboxDep
) -> list[dict[str, Any]]:
    with sandbox.store.lock:
        doc = _doc(sandbox, tenant, document_id)
        return [documents.attachment_view(a) for a in doc.attachments]


@router.get("/documents/{document_id}/attachments/{attachment_id}")
def get_attachment(
    document_id: str, attachment_id: str, tenant: TenantDep, sandbox: SandboxDep
) -> dict[str, Any]:
    with sandbox.store.lock:
        doc = _doc(sandbox, tenant, document_id)
        for attachment in doc.attachments:
            if attachment["id"] == attachment_id:
                return documents.attachment_view(attachment)
        raise ApiError(404, "Attachment not found")


@router.delete("/documents/{document_id}/attachments/{attachment_id}")
def delete_attachment(
    document_id: str, attachment_id: str, tenant: TenantDep, sandbox: SandboxDep
) -> dict[str, bool]:
    with sandbox.store.lock:
        doc = _doc(sandbox, tenant, document_id)
        kept = [a for a in doc.attachments if a["id"] != attachment_id]
        if len(kept) == len(doc.attachments):
            raise ApiError(404, "Attachment not found")
        if doc.state != "DRAFT":
            raise ApiError(400, "Document is not in draft state")
        doc.attachments = kept
        return {"is_deleted": True}


# --- Listings --------------------------------------------------------------------------------


def _sort_value(doc: Document, field: str) -> Any:
    if field == "created_at":
        return doc.seq
    if field == "invoice_total":
        return engine.as_decimal(doc.totals.get("invoice_total"))
    value = doc.payload.get(field)
    return value.casefold() if isinstance(value, str) and field.endswith("name") else value


def _matches(text: str | None, *values: Any) -> bool:
    if not text:
        return True
    needle = text.casefold()
    return any(needle in str(v).casefold() for v in values if v is not None)


def _in_dates(doc: Document, date_from: datetime | None, date_to: datetime | None) -> bool:
    if date_from is None and date_to is None:
        return True
    issued = doc.payload.get("invoice_date")
    if not issued:
        return False
    day = date.fromisoformat(issued)
    return (date_from is None or day >= date_from.date()) and (
        date_to is None or day <= date_to.date()
    )


def _page(
    docs: list[Document], page: int, page_size: int, sort_by: str, sort_order: str
) -> dict[str, Any]:
    keyed = [(_sort_value(d, sort_by), d) for d in docs]  # each document's sort key, once
    present = [(value, d) for value, d in keyed if value is not None]
    missing = [d for value, d in keyed if value is None]
    present.sort(key=lambda pair: pair[0], reverse=sort_order == "desc")
    ordered = [d for _, d in present] + sorted(
        missing, key=lambda d: d.seq, reverse=sort_order == "desc"
    )
    total = len(ordered)
    pages = math.ceil(total / page_size)
    chunk = ordered[(page - 1) * page_size : page * page_size]
    return {
        "items": [documents.response(d) for d in chunk],
        "total": total,
        "page": page,
        "page_size": page_size,
        "pages": pages,
        "has_next_page": page < pages,
    }


Page = Annotated[int, Query(ge=1, description="Page number")]
PageSize = Annotated[int, Query(ge=1, le=100, description="Number of items per page")]


# The free-text filters of the listings, and the payload fields each one searches.
SEARCH_FIELDS = ("invoice_id", "vendor_name", "customer_name")
SENDER_FIELDS = ("vendor_name", "vendor_email", "vendor_tax_id", "vendor_company_id")
RECEIVER_FIELDS = (
    "customer_name",
    "customer_email",
    "customer_tax_id",
    "customer_company_id",
    "customer_id",
)
DRAFT_STATES = frozenset({"DRAFT", "TRANSIT", "FAILED"})


def _listing(
    sandbox: Sandbox,
    tenant: Tenant,
    paging: tuple[int, int, str, str],
    *,
    direction: str,
    states: Collection[str] | None = None,
    doc_type: str | None = None,
    party: str | None = None,
    party_fields: tuple[str, ...] = (),
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    search: str | None = None,
) -> dict[str, Any]:
    """One page (page, page_size, sort_by, sort_order) of the tenant's documents of one
    direction that pass every filter given (None = not filtered)."""
    with sandbox.store.lock:
        docs = [
            d
            for d in sandbox.store.documents.values()
            if d.tenant_id == tenant.id
            and d.direction == direction
            and (states is None or d.state in states)
            and (doc_type is None or d.payload.get("document_type") == doc_type)
            and _matches(party, *(d.payload.get(f) for f in party_fields))
            and _in_dates(d, date_from, date_to)
            and _matches(search, *(d.payload.get(f) for f in SEARCH_FIELDS))
        ]
        return _page(docs, *paging)


@router.get("/inbox/")
def inbox(
    tenant: TenantDep,
    sandbox: SandboxDep,
    page: Page = 1,
    page_size: PageSize = 20,
    type: DocumentTypeL | None = None,  # noqa: A002 - the API's parameter name
    sender: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    search: str | None = None,
    sort_by: SortFieldL = "created_at",
    sort_order: SortOrderL = "desc",
) -> dict[str, Any]:
    return _listing(
        sandbox,
        tenant,
        (page, page_size, sort_by, sort_order),
        direction="INBOUND",
        doc_type=type,
        party=sender,
        party_fields=SENDER_FIELDS,
        date_from=date_from,
        date_to=date_to,
        search=search,
    )


@router.get("/inbox/invoices")
def inbox_invoices(
    tenant: TenantDep,
    sandbox: SandboxDep,
    page: Page = 1,
    page_size: PageSize = 20,
    sort_by: SortFieldL = "created_at",
    sort_order: SortOrderL = "desc",
) -> dict[str, Any]:
    paging = (page, page_size, sort_by, sort_order)
    return _listing(sandbox, tenant, paging, direction="INBOUND", doc_type="INVOICE")


@router.get("/inbox/credit-notes")
def inbox_credit_notes(
    tenant: TenantDep,
    sandbox: SandboxDep,
    page: Page = 1,
    page_size: PageSize = 20,
    sort_by: SortFieldL = "created_at",
    sort_order: SortOrderL = "desc",
) -> dict[str, Any]:
    paging = (page, page_size, sort_by, sort_order)
    return _listing(sandbox, tenant, paging, direction="INBOUND", doc_type="CREDIT_NOTE")


@router.get("/outbox/")
def outbox(
    tenant: TenantDep,
    sandbox: SandboxDep,
    page: Page = 1,
    page_size: PageSize = 20,
    type: DocumentTypeL | None = None,  # noqa: A002
    sender: str | None = None,  # deprecated in the spec; accepted and ignored
    receiver: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    search: str | None = None,
    sort_by: SortFieldL = "created_at",
    sort_order: SortOrderL = "desc",
) -> dict[str, Any]:
    """Sent documents: outbound and delivered (state SENT)."""
    return _listing(
        sandbox,
        tenant,
        (page, page_size, sort_by, sort_order),
        direction="OUTBOUND",
        states={"SENT"},
        doc_type=type,
        party=receiver,
        party_fields=RECEIVER_FIELDS,
        date_from=date_from,
        date_to=date_to,
        search=search,
    )


@router.get("/outbox/drafts")
def outbox_drafts(
    tenant: TenantDep,
    sandbox: SandboxDep,
    page: Page = 1,
    page_size: PageSize = 20,
    state: DocumentStateL | None = None,
    type: DocumentTypeL | None = None,  # noqa: A002
    search: str | None = None,
    sort_by: SortFieldL = "created_at",
    sort_order: SortOrderL = "desc",
) -> dict[str, Any]:
    """The same listing as /drafts/, without its date filters."""
    return drafts(
        tenant,
        sandbox,
        page=page,
        page_size=page_size,
        state=state,
        type=type,
        search=search,
        sort_by=sort_by,
        sort_order=sort_order,
    )


@router.get("/drafts/")
def drafts(
    tenant: TenantDep,
    sandbox: SandboxDep,
    page: Page = 1,
    page_size: PageSize = 20,
    state: DocumentStateL | None = None,
    type: DocumentTypeL | None = None,  # noqa: A002
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    search: str | None = None,
    sort_by: SortFieldL = "created_at",
    sort_order: SortOrderL = "desc",
) -> dict[str, Any]:
    """Not (yet) delivered outbound documents: DRAFT, TRANSIT and FAILED by default."""
    return _listing(
        sandbox,
        tenant,
        (page, page_size, sort_by, sort_order),
        direction="OUTBOUND",
        states={state} if state else DRAFT_STATES,
        doc_type=type,
        date_from=date_from,
        date_to=date_to,
        search=search,
    )
