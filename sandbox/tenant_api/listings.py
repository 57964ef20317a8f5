"""The listings: inbox, outbox, drafts (filters, sorting, paging)."""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from sandbox import documents, engine
from sandbox.core import Sandbox
from sandbox.schemas import DocumentStateL, DocumentTypeL, spec_enum
from sandbox.state import Document, Tenant
from sandbox.tenant_api.common import (
    SandboxDep,
    TenantDep,
)

router = APIRouter(prefix="/api")

SortFieldL = Literal.__getitem__(spec_enum("SortField"))  # type: ignore[attr-defined]
SortOrderL = Literal["asc", "desc"]


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
