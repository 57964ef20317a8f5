"""The life of a document the customer sends: validate, create, send, delete, and mirror its
state at the API (`refresh`, and `poll_transit` for when webhooks are lost).

Views and `invoices.tasks` call these; every remote call goes through `einvoice.tenant`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from einvoice.errors import (
    ApiError,
    KeyUnavailable,
    NotFound,
    RateLimited,
    Rejected,
    Unavailable,
)
from einvoice.tenant import PeppolCheck, TenantApi, ValidationResult
from invoices import pdf, states, timeline
from invoices.models import (
    PARTY_FIELDS,
    AllowanceCharge,
    Direction,
    Document,
    DocumentEvent,
    DocumentLine,
    State,
)
from invoices.payload import (
    ADJUSTMENT_KEYS,
    LINE_KEYS,
    EditorInput,
    build_payload,
    input_of,
    payload_of,
    totals_for,
)
from invoices.totals import Totals, money
from tenants.models import Tenant

log = logging.getLogger(__name__)
Source = DocumentEvent.Source
# Header fields stored as typed (blank when absent); the rest are set one by one below.
STORED_FIELDS = ("purchase_order", "note", "payment_term", "iban", "bic", "payment_reference")


class DuplicateNumber(Exception):
    def __init__(self, number: str) -> None:
        super().__init__(
            _("You already have a document with number %(number)s. Use a new number.")
            % {"number": number}
        )


class NotSendable(Exception):
    """The document is not (or no longer) a draft or a failed document, or is being sent."""


# Between two status checks of a document in TRANSIT: the poll interval at first, then a tenth
# of its time in transit so far (the network retries for up to 24 h), at most this.
POLL_MAX_SECONDS = 1800


def validate_remote(tenant: Tenant, data: EditorInput) -> tuple[ValidationResult, dict]:
    payload, index = build_payload(data, totals_for(data))
    return TenantApi(tenant).validate_json(payload), index


def check_peppol(tenant: Tenant, peppol_id: str, document_type: str) -> PeppolCheck:
    return TenantApi(tenant).check_peppol_id(peppol_id, document_type)


# --- Create ------------------------------------------------------------------------------------
def _store_rows(document: Document, data: EditorInput, totals: Totals) -> None:
    DocumentLine.objects.bulk_create(
        DocumentLine(
            document=document, position=i + 1, amount=amount, **{k: ln[k] for k in LINE_KEYS}
        )
        for i, (ln, amount) in enumerate(zip(data.lines, totals.line_amounts, strict=True))
    )
    AllowanceCharge.objects.bulk_create(
        AllowanceCharge(
            document=document,
            position=i + 1,
            **{**{k: a[k] for k in ADJUSTMENT_KEYS}, "amount": money(a["amount"])},
        )
        for i, a in enumerate(data.adjustments)
    )


def _create_row(
    tenant: Tenant,
    user,
    data: EditorInput,
    totals: Totals,
    *,
    claim_send: bool,
    replaces: Document | None = None,
) -> Document:
    """The local row of a new draft, with its lines; its number reserved by a unique index."""
    h = data.header
    fields = {k: h.get(k) or "" for k in (*STORED_FIELDS, *PARTY_FIELDS)}
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
                replaces=replaces,
                created_by=user,
                **fields,
            )
            _store_rows(document, data, totals)
    except IntegrityError:
        raise DuplicateNumber(h["invoice_id"]) from None
    return document


def create_draft(
    tenant: Tenant,
    user,
    data: EditorInput,
    *,
    claim_send: bool = False,
    replaces: Document | None = None,
) -> Document:
    """Reserve the number locally, then create the document at the API (once: the POST is
    never retried blindly, by us or the SDK).

    A refusal (invalid document, no key, a 429) removes the local row again and re-raises.
    When the answer is lost (or a 5xx), the draft is looked up by its number at once and
    adopted; if it is not there (yet), the row stays with no remote id and `ensure_remote`
    adopts or creates it later, so a lost answer never makes a second document.

    `claim_send`: the caller sends it next (`send(..., claimed=True)`); the row is born
    claimed, which saves the claim's own commit. `replaces`: the FAILED document this one
    sends again (same number).
    """
    totals = totals_for(data)
    payload, _index = build_payload(data, totals)
    document = _create_row(tenant, user, data, totals, claim_send=claim_send, replaces=replaces)
    api = TenantApi(tenant)
    try:
        remote = api.create_document(pdf.with_attachment(document, payload))
    except RateLimited:
        document.delete()  # refused before it was read: nothing exists there
        raise
    except Unavailable as exc:
        # No answer, or a 5xx that may come after the write: it may exist there.
        remote = _adopt_after_lost_answer(api, document)
        if remote is None:
            _record_error(document, exc, user, release=True)
            raise
    except ApiError:
        document.delete()
        raise
    _record_remote(document, remote.id, user)
    return document


def _unmirrored_drafts(api: TenantApi, document: Document) -> list:
    """The remote drafts with the document's number that no other local row mirrors."""
    found = api.find_drafts(document.invoice_id)
    mirrored = set(
        Document.objects.filter(tenant_id=document.tenant_id, remote_id__in=[d.id for d in found])
        .exclude(pk=document.pk)
        .values_list("remote_id", flat=True)
    )
    return [d for d in found if d.id not in mirrored]


def _adopt_after_lost_answer(api: TenantApi, document: Document):
    """The create may have happened although its answer was lost: the draft, if it is there."""
    try:
        found = _unmirrored_drafts(api, document)
    except ApiError:
        return None
    return found[0] if found else None


def _record_remote(document: Document, remote_id: str, user) -> None:
    """The API created (or we adopted) the document: keep its id, with a timeline line."""
    with transaction.atomic():
        document.remote_id = remote_id
        document.last_error = ""
        document.save(update_fields=["remote_id", "last_error", "updated_at"])
        states.note(document, code=timeline.CREATED_REMOTE, source=Source.PORTAL, actor=user)


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
    found = _unmirrored_drafts(api, document)
    remote = (
        found[0]
        if found
        else api.create_document(pdf.with_attachment(document, payload_of(document)))
    )
    _record_remote(document, remote.id, user)
    return document


# --- Send, delete ------------------------------------------------------------------------------
def _claim_send(document: Document) -> bool:
    stale = timezone.now() - timedelta(seconds=settings.INVOICES_SEND_CLAIM_SECONDS)
    return bool(
        Document.objects.filter(
            pk=document.pk,
            direction=Direction.OUTBOUND,
            state=State.DRAFT,
        )
        .filter(Q(sending_since__isnull=True) | Q(sending_since__lt=stale))
        .update(sending_since=timezone.now())
    )


def _send_remote(document: Document, user) -> str | None:
    """Ask the API to send; the state it answers, or None when the outcome is unknown but
    the mirror shows it is no longer sendable (then it moved on already)."""
    try:
        return TenantApi(document.tenant).send_document(document.remote_id).state
    except Rejected as exc:
        if exc.status == 405:  # no longer a draft there: take the API's word for its state
            refresh(document, source=Source.PORTAL)
            raise NotSendable(_("This document was already sent.")) from None
        _record_error(document, exc, user)
        raise
    except Unavailable as exc:
        # The send may or may not have happened: look once, else the user tries again.
        try:
            refresh(document, source=Source.PORTAL)
        except ApiError:
            pass
        if document.state in (State.DRAFT, State.FAILED):
            _record_error(document, exc, user)
            raise
        return None


def send(document: Document, user=None, *, claimed: bool = False) -> Document:
    """Send a draft. Runs once even on a double click.

    `claimed`: the document was created claimed by this caller (`create_draft(claim_send=True)`).
    """
    if not document.can_send:
        raise NotSendable(_("Only drafts can be sent."))
    if not claimed and not _claim_send(document):
        raise NotSendable(_("This document is already being sent."))
    at = timezone.now()  # before the call: the API's own events come after it
    holding = True  # the claim, released below unless a state change released it
    try:
        ensure_remote(document, user)
        remote_state = _send_remote(document, user)
        if remote_state is None:
            return document
        new_state = (
            remote_state if remote_state in (State.TRANSIT, State.SENT, State.FAILED) else None
        )
        changed = states.advance(
            document,
            new_state or State.TRANSIT,
            at=at,
            source=Source.PORTAL,
            code=timeline.SENT,
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


def send_again(document: Document, user=None) -> Document:
    """ "Send again" of a FAILED document: a new document with the same number and content,
    sent; the failed one is never sent again (e-invoice.be answers 405 for a non-draft, and
    FAILED is final there). Both timelines link to the other. Returns the new document.
    """
    if not document.can_resend:
        raise NotSendable(_("Only a failed document can be sent again, and only once."))
    try:
        new = create_draft(
            document.tenant, user, input_of(document), claim_send=True, replaces=document
        )
    except DuplicateNumber:  # a second click: the one-to-one link is taken
        raise NotSendable(_("This document was already sent again.")) from None
    except Unavailable:
        # No answer: the new row stays unconfirmed; its page offers to send it.
        if (unconfirmed := Document.objects.filter(replaces=document).first()) is not None:
            _link_replacement(document, unconfirmed, user)
        raise
    _link_replacement(document, new, user)
    send(new, user, claimed=True)
    return new


def _link_replacement(failed: Document, new: Document, user) -> None:
    with transaction.atomic():
        states.note(
            failed,
            code=timeline.SENT_AGAIN,
            source=Source.PORTAL,
            actor=user,
            link=new,
        )
        states.note(
            new,
            code=timeline.SENDS_AGAIN,
            source=Source.PORTAL,
            actor=user,
            link=failed,
        )


def _delete_remote(api: TenantApi, remote_id: str) -> None:
    try:
        api.delete_document(remote_id)
    except NotFound:
        pass  # already gone there


def delete_draft(document: Document, user=None) -> None:
    if not document.can_delete:
        raise NotSendable(_("Only drafts can be deleted."))
    api = TenantApi(document.tenant)
    if document.remote_id:
        try:
            _delete_remote(api, document.remote_id)
        except Rejected:
            refresh(document, source=Source.PORTAL)
            raise NotSendable(
                _("This document is no longer a draft and cannot be deleted.")
            ) from None
    elif document.create_attempted_at:
        # A create may have happened without an answer: remove that draft too.
        for remote in _unmirrored_drafts(api, document):
            _delete_remote(api, remote.id)
    document.delete()


# --- Mirroring the remote state ----------------------------------------------------------------
def failure_reason(api: TenantApi, remote_id: str) -> str:
    try:
        events = api.timeline(remote_id)
    except ApiError:
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
    now = timezone.now()
    Document.objects.filter(pk=document.pk).update(
        last_polled_at=now, next_poll_at=now + poll_delay(now - document.state_changed_at)
    )
    if remote.state == State.FAILED:
        reason = failure_reason(api, document.remote_id)
        states.advance(
            document,
            State.FAILED,
            at=at,
            source=source,
            code=timeline.DELIVERY_FAILED,
            params={"reason": reason} if reason else None,
            failure_reason=reason or _("Delivery failed."),
        )
    elif remote.state in (State.TRANSIT, State.SENT):
        code = timeline.DELIVERED if remote.state == State.SENT else ""
        states.advance(document, remote.state, at=at, source=source, code=code)
    return document


def poll_delay(in_transit: timedelta) -> timedelta:
    """Until the next status check of a document that has been in TRANSIT this long."""
    every = settings.INVOICES_POLL_INTERVAL_SECONDS
    seconds = min(max(every, in_transit.total_seconds() / 10), max(every, POLL_MAX_SECONDS))
    return timedelta(seconds=seconds)


def hold_tenant(tenant_id: int, seconds: float) -> None:
    """The tenant API said 429: none of this tenant's documents is checked before then."""
    Document.objects.filter(
        tenant_id=tenant_id, direction=Direction.OUTBOUND, state=State.TRANSIT
    ).update(next_poll_at=timezone.now() + timedelta(seconds=seconds))


def poll_transit(limit: int = 200) -> int:
    """Refresh documents left in TRANSIT (webhooks may be lost), the most overdue first, at
    most `limit` per run; each one less often the longer it lasts. Returns how many were read.
    """
    now = timezone.now()
    due = list(
        Document.objects.filter(direction=Direction.OUTBOUND, state=State.TRANSIT)
        .exclude(remote_id="")
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .select_related("tenant")
        .order_by(F("next_poll_at").asc(nulls_first=True), "pk")[:limit]
    )
    claim_until = now + timedelta(seconds=settings.INVOICES_POLL_INTERVAL_SECONDS)
    done = 0
    skipped: set[int] = set()  # tenants without a key, or rate-limited: not this run
    for document in due:
        if document.tenant_id in skipped:
            continue
        # Claimed with a conditional UPDATE so two workers never poll the same document.
        claimed = Document.objects.filter(
            pk=document.pk, next_poll_at=document.next_poll_at
        ).update(next_poll_at=claim_until)
        if not claimed:
            continue
        try:
            refresh(document, source=Source.POLL)
            done += 1
        except KeyUnavailable:
            skipped.add(document.tenant_id)
        except RateLimited as exc:
            skipped.add(document.tenant_id)
            hold_tenant(document.tenant_id, exc.retry_after or 60)
        except ApiError as exc:
            log.warning("poll of document %s failed: %s", document.pk, exc)
    return done
