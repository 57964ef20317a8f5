"""What the invoice screens and the poll task do: build, validate, create, send, mirror.

Views parse the forms and call these functions; `invoices.tasks` calls the same ones. Every
remote call goes through `invoices.tenant_api.TenantApi`.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from invoices import states
from invoices.models import (
    PARTY_FIELDS,
    AllowanceCharge,
    Direction,
    Document,
    DocumentEvent,
    DocumentLine,
    DocumentType,
    Mailbox,
    State,
)
from invoices.tenant_api import (
    KeyUnavailable,
    NotFound,
    PeppolCheck,
    Rejected,
    RetryableError,
    TenantApi,
    TenantApiError,
    ValidationResult,
)
from invoices.totals import (
    AllowanceChargeInput,
    LineInput,
    Totals,
    compute,
    money,
    rate_text,
    tax_category,
    to_decimal,
)
from tenants.models import Tenant

log = logging.getLogger(__name__)
Source = DocumentEvent.Source


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


# --- Editor input → totals → API payload -------------------------------------------------------
@dataclass
class EditorInput:
    """The editor's cleaned data: header fields, lines and allowances/charges, in form order."""

    document_type: str
    header: dict[str, Any]
    lines: list[dict[str, Any]]
    adjustments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def corrects(self) -> Document | None:
        return self.header.get("corrects")


def totals_for(data: EditorInput) -> Totals:
    return compute(
        [LineInput(ln["quantity"], ln["unit_price"], ln["tax_rate"]) for ln in data.lines],
        [
            AllowanceChargeInput(
                a["kind"] == AllowanceCharge.Kind.CHARGE, a["amount"], a["tax_rate"]
            )
            for a in data.adjustments
        ],
    )


def preview_totals(lines: list[dict[str, Any]], adjustments: list[dict[str, Any]]) -> Totals:
    """Live totals from raw (possibly half-typed) rows: rows that do not parse are left out."""
    parsed_lines = []
    for row in lines:
        quantity, price = to_decimal(row.get("quantity")), to_decimal(row.get("unit_price"))
        rate = to_decimal(row.get("tax_rate"), percent=True)
        if quantity is None or price is None or rate is None or not (0 <= rate <= 100):
            continue
        if abs(quantity) > Decimal("1e9") or abs(price) > Decimal("1e9"):
            continue
        parsed_lines.append(LineInput(quantity, price, rate))
    parsed_adjustments = []
    for row in adjustments:
        amount = to_decimal(row.get("amount"))
        rate = to_decimal(row.get("tax_rate"), percent=True)
        if amount is None or rate is None or not (0 <= rate <= 100) or abs(amount) > Decimal("1e9"):
            continue
        is_charge = row.get("kind") == AllowanceCharge.Kind.CHARGE
        parsed_adjustments.append(AllowanceChargeInput(is_charge, amount, rate))
    return compute(parsed_lines, parsed_adjustments)


def _number(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros: 10, 2.5, 0.1234."""
    text = format(value.normalize(), "f")
    return text if text not in ("-0",) else "0"


_VAT_SCHEMES = {
    "AT": "9914", "BE": "9925", "BG": "9926", "CY": "9928", "CZ": "9929", "DE": "9930",
    "DK": "0198", "EE": "9931", "EL": "9933", "ES": "9920", "FR": "9957", "GB": "9932",
    "GR": "9933", "HR": "9934", "HU": "9910", "IE": "9935", "IT": "9906", "LT": "9937",
    "LU": "9938", "LV": "9939", "MT": "9943", "NL": "9944", "PL": "9945", "PT": "9946",
    "RO": "9947", "SE": "9955", "SI": "9949", "SK": "9950",
}  # fmt: skip


def peppol_id_for(tax_id: str, given: str = "") -> str:
    """The buyer's Peppol ID: the one given, else derived from the VAT number as the API does
    (BE → 0208:<enterprise number>, other countries → their VAT scheme)."""
    if given:
        return given.strip()
    compact = re.sub(r"[\s.\-]", "", tax_id or "").upper()
    if re.fullmatch(r"BE[01]\d{9}", compact):
        return f"0208:{compact[2:]}"
    scheme = _VAT_SCHEMES.get(compact[:2])
    return f"{scheme}:{compact}" if scheme and len(compact) > 4 and compact[:2] != "BE" else ""


def build_payload(
    data: EditorInput, totals: Totals
) -> tuple[dict[str, Any], dict[tuple[str, int], int]]:
    """The API's JSON, and where each allowances[i]/charges[j] came from in the form."""
    h = data.header
    payload: dict[str, Any] = {"document_type": data.document_type}
    for key in ("invoice_id", "currency", "purchase_order", "note", "payment_term", *PARTY_FIELDS):
        value = h.get(key)
        if value not in (None, ""):
            payload[key] = value
    for key in ("invoice_date", "due_date"):
        if isinstance(h.get(key), date):
            payload[key] = h[key].isoformat()
    if data.corrects is not None:
        payload["billing_reference"] = data.corrects.invoice_id
    rates = {ln["tax_rate"] for ln in data.lines} | {a["tax_rate"] for a in data.adjustments}
    payload["tax_code"] = "S" if any(r > 0 for r in rates) else "Z"
    payload["items"] = [
        {
            "description": ln["description"],
            "quantity": _number(ln["quantity"]),
            "unit": ln["unit"],
            "unit_price": _number(ln["unit_price"]),
            "amount": str(amount),
            "tax_rate": rate_text(ln["tax_rate"]),
        }
        for ln, amount in zip(data.lines, totals.line_amounts, strict=True)
    ]
    index: dict[tuple[str, int], int] = {}
    for kind, key in ((AllowanceCharge.Kind.ALLOWANCE, "allowances"), ("charge", "charges")):
        rows = []
        for position, adj in enumerate(data.adjustments):
            if adj["kind"] != kind:
                continue
            index[(key, len(rows))] = position
            rows.append(
                {
                    "amount": str(money(adj["amount"])),
                    "reason": adj["reason"],
                    "tax_code": tax_category(adj["tax_rate"]),
                    "tax_rate": rate_text(adj["tax_rate"]),
                }
            )
        if rows:
            payload[key] = rows
    payload["tax_details"] = [{"rate": g["rate"], "amount": g["tax"]} for g in totals.breakdown()]
    payload["subtotal"] = str(totals.tax_exclusive)
    payload["total_tax"] = str(totals.total_tax)
    payload["invoice_total"] = str(totals.tax_inclusive)
    payload["amount_due"] = str(totals.tax_inclusive)
    if h.get("iban") or h.get("payment_reference"):
        details = {
            "iban": h.get("iban") or None,
            "swift": h.get("bic") or None,
            "payment_reference": h.get("payment_reference") or None,
        }
        payload["payment_details"] = [{k: v for k, v in details.items() if v}]
    return payload, index


# --- Validate, create, send -------------------------------------------------------------------
class DuplicateNumber(Exception):
    def __init__(self, number: str) -> None:
        super().__init__(
            _("You already have a document with number %(number)s. Use a new number.")
            % {"number": number}
        )


class NotSendable(Exception):
    """The document is not (or no longer) a draft or a failed document, or is being sent."""


def validate_remote(tenant: Tenant, data: EditorInput) -> tuple[ValidationResult, dict]:
    payload, index = build_payload(data, totals_for(data))
    return TenantApi(tenant).validate_json(payload), index


def check_peppol(tenant: Tenant, peppol_id: str, document_type: str) -> PeppolCheck:
    return TenantApi(tenant).check_peppol_id(peppol_id, document_type)


def _store_rows(document: Document, data: EditorInput, totals: Totals) -> None:
    DocumentLine.objects.bulk_create(
        DocumentLine(
            document=document,
            position=i + 1,
            description=ln["description"],
            quantity=ln["quantity"],
            unit=ln["unit"],
            unit_price=ln["unit_price"],
            tax_rate=ln["tax_rate"],
            amount=amount,
        )
        for i, (ln, amount) in enumerate(zip(data.lines, totals.line_amounts, strict=True))
    )
    AllowanceCharge.objects.bulk_create(
        AllowanceCharge(
            document=document,
            position=i + 1,
            kind=a["kind"],
            reason=a["reason"],
            amount=money(a["amount"]),
            tax_rate=a["tax_rate"],
        )
        for i, a in enumerate(data.adjustments)
    )


def create_draft(tenant: Tenant, user, data: EditorInput, *, claim_send: bool = False) -> Document:
    """Reserve the number locally, then create the document at the API.

    A refusal (invalid document, no key) removes the local row again and re-raises. When the
    API does not answer, the row stays with no remote id: `ensure_remote` adopts the document
    by its number later, so a lost answer never makes a second one.

    `claim_send`: the caller sends it next (`send(..., claimed=True)`); the row is born
    claimed, which saves the claim's own commit.
    """
    totals = totals_for(data)
    payload, _index = build_payload(data, totals)
    h = data.header
    fields = {
        k: h.get(k) or ""
        for k in (
            "purchase_order",
            "note",
            "payment_term",
            "iban",
            "bic",
            "payment_reference",
            *PARTY_FIELDS,
        )
    }
    try:
        with transaction.atomic():
            document = Document.objects.create(
                tenant=tenant,
                direction=Direction.OUTBOUND,
                document_type=data.document_type,
                state=State.DRAFT,
                invoice_id=h["invoice_id"],
                invoice_date=h.get("invoice_date"),
                due_date=h.get("due_date"),
                currency=h.get("currency") or "EUR",
                corrects=data.corrects,
                billing_reference=data.corrects.invoice_id if data.corrects else "",
                line_total=totals.line_total,
                allowance_total=totals.allowance_total,
                charge_total=totals.charge_total,
                subtotal=totals.tax_exclusive,
                total_tax=totals.total_tax,
                total=totals.tax_inclusive,
                tax_breakdown=totals.breakdown(),
                create_attempted_at=timezone.now(),
                sending_since=timezone.now() if claim_send else None,
                created_by=user,
                **fields,
            )
            _store_rows(document, data, totals)
    except IntegrityError:
        raise DuplicateNumber(h["invoice_id"]) from None
    try:
        remote = TenantApi(tenant).create_document(payload)
    except RetryableError as exc:
        _record_error(document, exc, user, release=True)
        raise
    except TenantApiError:
        document.delete()
        raise
    _record_remote(document, remote.id, user)
    return document


def _record_remote(document: Document, remote_id: str, user) -> None:
    """The API created (or we adopted) the document: keep its id, with a timeline line."""
    with transaction.atomic():
        document.remote_id = remote_id
        document.last_error = ""
        document.save(update_fields=["remote_id", "last_error", "updated_at"])
        states.note(
            document, _("Created at e-invoice.be as a draft."), source=Source.PORTAL, actor=user
        )


def _record_error(document: Document, exc: Exception, user, *, release: bool = False) -> None:
    """A call about the document failed: say so on its page and in its timeline."""
    with transaction.atomic():
        document.last_error = str(exc)
        fields = ["last_error", "updated_at"]
        if release:
            document.sending_since = None  # not sent: a click on its page may send it
            fields.append("sending_since")
        document.save(update_fields=fields)
        states.note(document, str(exc), source=Source.PORTAL, actor=user)


def ensure_remote(document: Document, user=None) -> Document:
    """Give a document whose create got no answer its remote id: adopt by number, or create."""
    if document.remote_id:
        return document
    api = TenantApi(document.tenant)
    found = api.find_drafts(document.invoice_id)
    remote = found[0] if found else api.create_document(payload_of(document))
    _record_remote(document, remote.id, user)
    return document


def line_rows(document: Document) -> list[dict[str, str]]:
    """A stored document's lines as the editor's rows (plain text, as a customer types them)."""
    return [
        {
            "description": ln.description,
            "quantity": _number(ln.quantity),
            "unit": ln.unit,
            "unit_price": _number(ln.unit_price),
            "tax_rate": _number(ln.tax_rate),
        }
        for ln in document.lines.all()
    ]


def adjustment_rows(document: Document) -> list[dict[str, str]]:
    return [
        {
            "kind": a.kind,
            "reason": a.reason,
            "amount": str(a.amount),
            "tax_rate": _number(a.tax_rate),
        }
        for a in document.allowances_charges.all()
    ]


def payload_of(document: Document) -> dict[str, Any]:
    """Rebuild the API payload of a stored outbound document."""
    header = {
        f.name: getattr(document, f.name)
        for f in Document._meta.get_fields()
        if hasattr(f, "attname") and not f.is_relation
    }
    header["corrects"] = document.corrects
    data = EditorInput(
        document_type=document.document_type,
        header=header,
        lines=[
            {
                "description": ln.description,
                "quantity": ln.quantity,
                "unit": ln.unit,
                "unit_price": ln.unit_price,
                "tax_rate": ln.tax_rate,
            }
            for ln in document.lines.all()
        ],
        adjustments=[
            {"kind": a.kind, "reason": a.reason, "amount": a.amount, "tax_rate": a.tax_rate}
            for a in document.allowances_charges.all()
        ],
    )
    payload, _index = build_payload(data, totals_for(data))
    return payload


def _claim_send(document: Document) -> bool:
    stale = timezone.now() - timedelta(seconds=_setting("INVOICES_SEND_CLAIM_SECONDS", 120))
    return bool(
        Document.objects.filter(
            pk=document.pk,
            direction=Direction.OUTBOUND,
            state__in=(State.DRAFT, State.FAILED),
        )
        .filter(Q(sending_since__isnull=True) | Q(sending_since__lt=stale))
        .update(sending_since=timezone.now())
    )


def send(document: Document, user=None, *, claimed: bool = False) -> Document:
    """Send a draft, or resend a failed document. Runs once even on a double click.

    `claimed`: the document was created claimed by this caller (`create_draft(claim_send=True)`).
    """
    if not (document.can_send or document.can_resend):
        raise NotSendable(_("Only drafts and failed documents can be sent."))
    if not claimed and not _claim_send(document):
        raise NotSendable(_("This document is already being sent."))
    resend = document.state == State.FAILED
    at = timezone.now()  # before the call: the API's own events come after it
    holding = True  # the claim, released below unless a state change released it
    try:
        ensure_remote(document, user)
        api = TenantApi(document.tenant)
        try:
            remote = api.send_document(document.remote_id)
        except Rejected as exc:
            if exc.status == 405:  # no longer a draft there: take the API's word for its state
                refresh(document, source=Source.PORTAL)
                raise NotSendable(_("This document was already sent.")) from None
            _record_error(document, exc, user)
            raise
        except RetryableError as exc:
            # The send may or may not have happened: look once, else the user tries again.
            try:
                refresh(document, source=Source.PORTAL)
            except TenantApiError:
                pass
            if document.state in (State.DRAFT, State.FAILED):
                _record_error(document, exc, user)
                raise
            return document
        new_state = (
            remote.state if remote.state in (State.TRANSIT, State.SENT, State.FAILED) else None
        )
        changed = states.advance(
            document,
            new_state or State.TRANSIT,
            at=at,
            source=Source.PORTAL,
            message=_("Sent again via Peppol.") if resend else _("Sent via Peppol."),
            resend=resend,
            actor=user,
        )
        if document.last_error:
            document.last_error = ""
            document.save(update_fields=["last_error", "updated_at"])
        holding = not changed  # a change released the claim in the same UPDATE
        return document
    finally:
        if holding:
            Document.objects.filter(pk=document.pk).update(sending_since=None)


def delete_draft(document: Document, user=None) -> None:
    if not document.can_delete:
        raise NotSendable(_("Only drafts can be deleted."))
    if document.remote_id:
        try:
            TenantApi(document.tenant).delete_document(document.remote_id)
        except NotFound:
            pass  # already gone there
        except Rejected:
            refresh(document, source=Source.PORTAL)
            raise NotSendable(
                _("This document is no longer a draft and cannot be deleted.")
            ) from None
    elif document.create_attempted_at:
        # A create may have happened without an answer: remove that draft too.
        api = TenantApi(document.tenant)
        for remote in api.find_drafts(document.invoice_id):
            try:
                api.delete_document(remote.id)
            except NotFound:
                pass
    document.delete()


# --- Mirroring remote state --------------------------------------------------------------------
def failure_reason(api: TenantApi, remote_id: str) -> str:
    try:
        events = api.timeline(remote_id)
    except TenantApiError:
        return ""
    for event in reversed(events):
        if event.event_type == "send_failed":
            details = event.details or {}
            return str(
                details.get("reason") or details.get("error") or details.get("message") or ""
            )
    return ""


def refresh(document: Document, *, source: str = Source.POLL) -> Document:
    """Read the document's state at the API and move the mirror forward if it moved."""
    if not document.remote_id or document.direction != Direction.OUTBOUND:
        return document
    at = timezone.now()  # before the read: a newer local change wins over this answer
    api = TenantApi(document.tenant)
    remote = api.retrieve_document(document.remote_id)
    Document.objects.filter(pk=document.pk).update(last_polled_at=timezone.now())
    if remote.state == State.FAILED:
        reason = failure_reason(api, document.remote_id)
        states.advance(
            document,
            State.FAILED,
            at=at,
            source=source,
            message=reason or _("Delivery failed."),
            failure_reason=reason or _("Delivery failed."),
        )
    elif remote.state in (State.TRANSIT, State.SENT):
        message = _("Delivered to the buyer.") if remote.state == State.SENT else ""
        states.advance(document, remote.state, at=at, source=source, message=message)
    return document


def poll_transit(limit: int = 200) -> int:
    """Refresh documents left in TRANSIT (webhooks may be lost). Returns how many were read."""
    now = timezone.now()
    every = timedelta(seconds=_setting("INVOICES_POLL_INTERVAL_SECONDS", 30))
    due = list(
        Document.objects.filter(direction=Direction.OUTBOUND, state=State.TRANSIT)
        .exclude(remote_id="")
        .filter(Q(last_polled_at__isnull=True) | Q(last_polled_at__lt=now - every))
        .select_related("tenant")
        .order_by("last_polled_at")[:limit]
    )
    done = 0
    dead_tenants: set[int] = set()
    for document in due:
        if document.tenant_id in dead_tenants:
            continue
        # Claimed with a conditional UPDATE so two workers never poll the same document.
        claimed = Document.objects.filter(
            pk=document.pk, last_polled_at=document.last_polled_at
        ).update(last_polled_at=now)
        if not claimed:
            continue
        try:
            refresh(document, source=Source.POLL)
            done += 1
        except KeyUnavailable:
            dead_tenants.add(document.tenant_id)
        except TenantApiError as exc:
            log.warning("poll of document %s failed: %s", document.pk, exc)
    return done


def _dec(value: Any) -> Decimal:
    number = to_decimal(value)
    return money(number) if number is not None else Decimal("0.00")


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    return parse_date(str(value)) if value else None


def upsert_inbound(tenant: Tenant, remote: Any) -> tuple[Document, bool]:
    """Mirror one received document (idempotent by remote id)."""
    existing = Document.objects.filter(tenant=tenant, remote_id=remote.id).first()
    if existing is not None:
        return existing, False
    doc_type = remote.document_type if remote.document_type in DocumentType.values else "INVOICE"
    fields = {
        name: (getattr(remote, name, None) or "")[:limit]
        for name, limit in (
            ("invoice_id", 64),
            ("currency", 3),
            ("purchase_order", 100),
            ("note", 2000),
            ("payment_term", 200),
            ("vendor_name", 200),
            ("vendor_tax_id", 32),
            ("vendor_company_id", 32),
            ("vendor_address", 2000),
            ("vendor_email", 254),
            ("customer_name", 200),
            ("customer_tax_id", 32),
            ("customer_address", 2000),
            ("customer_email", 254),
            ("customer_peppol_id", 64),
        )
    }
    payment = (remote.payment_details or [None])[0]
    received_at = remote.created_at if isinstance(remote.created_at, datetime) else timezone.now()
    try:
        with transaction.atomic():
            document = Document.objects.create(
                tenant=tenant,
                direction=Direction.INBOUND,
                document_type=doc_type,
                state=State.RECEIVED,
                remote_id=remote.id,
                invoice_date=_date(remote.invoice_date),
                due_date=_date(remote.due_date),
                iban=(payment.iban or "")[:34] if payment else "",
                bic=(payment.swift or "")[:11] if payment else "",
                payment_reference=(payment.payment_reference or "")[:100] if payment else "",
                subtotal=_dec(remote.subtotal),
                total_tax=_dec(remote.total_tax),
                total=_dec(remote.invoice_total),
                tax_breakdown=[
                    {"rate": t.rate or "", "tax": t.amount or "", "category": "", "taxable": ""}
                    for t in (remote.tax_details or [])
                ],
                state_changed_at=received_at,
                **{k: v or ("EUR" if k == "currency" else "") for k, v in fields.items()},
            )
            lines = []
            for i, item in enumerate(remote.items or []):
                lines.append(
                    DocumentLine(
                        document=document,
                        position=i + 1,
                        description=(item.description or "")[:500],
                        quantity=to_decimal(item.quantity) or Decimal(0),
                        unit=(item.unit or "C62")[:3],
                        unit_price=to_decimal(item.unit_price) or Decimal(0),
                        tax_rate=to_decimal(item.tax_rate) or Decimal(0),
                        amount=_dec(item.amount),
                    )
                )
            DocumentLine.objects.bulk_create(lines)
            adjustments = _inbound_adjustments(document, remote)
            AllowanceCharge.objects.bulk_create(adjustments)
            document.line_total = sum((ln.amount for ln in lines), Decimal("0.00"))
            for kind, total in (("allowance", "allowance_total"), ("charge", "charge_total")):
                amounts = (a.amount for a in adjustments if a.kind == kind)
                setattr(document, total, sum(amounts, Decimal("0.00")))
            document.save(update_fields=["line_total", "allowance_total", "charge_total"])
            DocumentEvent.objects.create(
                document=document,
                at=received_at,
                source=Source.WEBHOOK,
                state=State.RECEIVED,
                message=_("Received from %(sender)s.") % {"sender": document.vendor_name or "?"},
            )
    except IntegrityError:
        # A concurrent webhook and inbox pull mirrored it first.
        return Document.objects.get(tenant=tenant, remote_id=remote.id), False
    return document, True


def _inbound_adjustments(document: Document, remote: Any) -> list[AllowanceCharge]:
    """A received document's discounts and surcharges: without them its lines would not add
    up to its total on the detail page."""
    rows = []
    for kind, items in (
        (AllowanceCharge.Kind.ALLOWANCE, getattr(remote, "allowances", None) or []),
        (AllowanceCharge.Kind.CHARGE, getattr(remote, "charges", None) or []),
    ):
        for item in items:
            rows.append(
                AllowanceCharge(
                    document=document,
                    position=len(rows) + 1,
                    kind=kind,
                    reason=(item.reason or getattr(item, "reason_code", None) or "")[:200],
                    amount=_dec(item.amount),
                    tax_rate=to_decimal(getattr(item, "tax_rate", None)) or Decimal(0),
                )
            )
    return rows


def sync_inbox(tenant: Tenant, *, force: bool = False, max_pages: int = 5) -> int:
    """Pull received documents when the local copy is stale. Returns how many are new."""
    mailbox = mailbox_for(tenant)
    now = timezone.now()
    stale = now - timedelta(seconds=_setting("INVOICES_INBOX_STALE_SECONDS", 120))
    claim = Mailbox.objects.filter(pk=mailbox.pk)
    if not force:
        claim = claim.filter(Q(inbox_synced_at__isnull=True) | Q(inbox_synced_at__lt=stale))
    if not claim.update(inbox_synced_at=now):
        return 0
    api = TenantApi(tenant)
    new = 0
    try:
        for page_number in range(1, max_pages + 1):
            page = api.inbox(page=page_number, page_size=50)
            fresh = 0
            for remote in page.items:
                _doc, created = upsert_inbound(tenant, remote)
                fresh += int(created)
            new += fresh
            # Newest first: a page with nothing new means the rest is known already.
            if not page.has_next or fresh == 0:
                break
    except TenantApiError:
        Mailbox.objects.filter(pk=mailbox.pk).update(inbox_synced_at=mailbox.inbox_synced_at)
        raise
    return new


def fetch_received(tenant: Tenant, remote_id: str) -> Any | None:
    """A document.received notification: read that document (None: the next pull gets it)."""
    if Document.objects.filter(tenant=tenant, remote_id=remote_id).exists():
        return None
    try:
        return TenantApi(tenant).retrieve_document(remote_id)
    except TenantApiError as exc:
        log.info("received document %s not fetched yet: %s", remote_id, exc)
        return None


# --- Per-tenant setup: webhook and seller profile ------------------------------------------------
def mailbox_for(tenant: Tenant) -> Mailbox:
    mailbox = Mailbox.objects.filter(tenant=tenant).first()
    if mailbox is None:
        try:
            with transaction.atomic():
                mailbox = Mailbox.objects.create(
                    tenant=tenant, webhook_token=secrets.token_urlsafe(32)
                )
        except IntegrityError:
            mailbox = Mailbox.objects.get(tenant=tenant)
    return mailbox


def webhook_url(mailbox: Mailbox) -> str:
    path = reverse("invoices:webhook", kwargs={"token": mailbox.webhook_token})
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def ensure_setup(tenant: Tenant) -> Mailbox:
    """Lazily, on first use of the screens: register our webhook and read the seller profile.

    The webhook URL is chosen before the call, so a retry after a lost answer finds the
    webhook by URL and adopts its secret instead of registering a second one. Failures are
    recorded and retried at most every INVOICES_SETUP_RETRY_SECONDS; polling covers meanwhile.
    """
    mailbox = mailbox_for(tenant)
    url = webhook_url(mailbox)
    if mailbox.has_webhook and mailbox.webhook_url == url and mailbox.profile_synced_at:
        return mailbox
    now = timezone.now()
    retry = now - timedelta(seconds=_setting("INVOICES_SETUP_RETRY_SECONDS", 60))
    claimed = (
        Mailbox.objects.filter(pk=mailbox.pk)
        .filter(Q(webhook_attempted_at__isnull=True) | Q(webhook_attempted_at__lt=retry))
        .update(webhook_attempted_at=now)
    )
    if not claimed:
        return mailbox
    mailbox.webhook_attempted_at = now  # kept by the save below: the retry throttle
    api = TenantApi(tenant)
    try:
        if not mailbox.has_webhook or mailbox.webhook_url != url:
            hooks = api.list_webhooks()
            hook = next((w for w in hooks if w.url == url), None)
            if hook is None:
                hook = api.create_webhook(url)
            stale = mailbox.webhook_remote_id if mailbox.webhook_remote_id != hook.id else ""
            mailbox.webhook_remote_id = hook.id
            mailbox.webhook_url = url
            mailbox.set_secret(hook.secret)
            mailbox.webhook_registered_at = timezone.now()
            if stale and any(w.id == stale for w in hooks):
                # The portal moved (PORTAL_BASE_URL changed): stop deliveries to the old URL.
                try:
                    api.delete_webhook(stale)
                except TenantApiError as exc:
                    log.info("old webhook %s of tenant %s kept: %s", stale, tenant.pk, exc)
        if not mailbox.profile_synced_at:
            me = api.me()
            mailbox.seller_profile = {
                k: getattr(me, k, None)
                for k in (
                    "company_name",
                    "company_number",
                    "company_tax_id",
                    "company_address",
                    "company_zip",
                    "company_city",
                    "company_country",
                    "company_email",
                )
                if getattr(me, k, None)
            }
            mailbox.profile_synced_at = timezone.now()
        mailbox.webhook_error = ""
    except TenantApiError as exc:
        mailbox.webhook_error = str(exc)[:1000]
        log.info("setup of tenant %s postponed: %s", tenant.pk, exc)
    mailbox.save()
    return mailbox


def parse_timestamp(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            moment = parse_datetime(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment, UTC)
        return moment
    return None
