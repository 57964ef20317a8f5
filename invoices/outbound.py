"""The life of a document the customer sends: validate, create, send, delete, and mirror its
state at the API (`refresh`, and `poll_transit` for when webhooks are lost).

Views and `invoices.tasks` call these; every remote call goes through `einvoice.tenant`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, prefetch_related_objects
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
from einvoice.tenant import Pending, PeppolCheck, TenantApi, ValidationResult
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


def render_pdf_ahead(tenant: Tenant, data: EditorInput) -> None:
    """While a check of `data` waits for e-invoice.be: the PDF that a send of this content
    attaches, rendered meanwhile in the renderer process (`pdf.render_ahead`) instead of before
    the create call (nothing when no PDF is attached or it is there already)."""
    totals = totals_for(data)
    document = Document(
        tenant=tenant,
        direction=Direction.OUTBOUND,
        state=State.DRAFT,
        **_columns(data.document_type, data.header, totals),
    )
    pdf.render_ahead(document, _rows(document, data, totals))


def validate_remote(tenant: Tenant, data: EditorInput) -> tuple[ValidationResult, dict]:
    pending, index = start_validate(tenant, data)
    return pending.result(), index


def start_validate(tenant: Tenant, data: EditorInput) -> tuple[Pending[ValidationResult], dict]:
    """e-invoice.be's validation of `data`, under way while the caller goes on (its answer:
    `pending.result()`), and where each adjustment went in the payload (`place` needs it)."""
    payload, index = build_payload(data, totals_for(data))
    return TenantApi(tenant).start(lambda api: api.validate_json(payload)), index


def check_peppol(tenant: Tenant, peppol_id: str, document_type: str) -> PeppolCheck:
    return TenantApi(tenant).check_peppol_id(peppol_id, document_type)


# --- Create ------------------------------------------------------------------------------------
def digest(payload: dict) -> str:
    """The content of a document as sent to the create call, as a short fingerprint."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _rows(document: Document, data: EditorInput, totals: Totals) -> pdf.Rows:
    """The document's lines and allowances/charges for `data`, not saved."""
    lines = [
        DocumentLine(
            document=document, position=i + 1, amount=amount, **{k: ln[k] for k in LINE_KEYS}
        )
        for i, (ln, amount) in enumerate(zip(data.lines, totals.line_amounts, strict=True))
    ]
    adjustments = [
        AllowanceCharge(
            document=document,
            position=i + 1,
            **{**{k: a[k] for k in ADJUSTMENT_KEYS}, "amount": money(a["amount"])},
        )
        for i, a in enumerate(data.adjustments)
    ]
    return lines, adjustments


def _store_rows(document: Document, data: EditorInput, totals: Totals) -> None:
    lines, adjustments = _rows(document, data, totals)
    DocumentLine.objects.bulk_create(lines)
    AllowanceCharge.objects.bulk_create(adjustments)


def _columns(document_type: str, header: dict, totals: Totals) -> dict:
    """A document's header and total columns from the editor's (cleaned or best-read) header."""
    corrects = header.get("corrects")
    return {
        "document_type": document_type,
        "invoice_id": header["invoice_id"],
        "invoice_date": header.get("invoice_date"),
        "due_date": header.get("due_date"),
        "currency": header.get("currency") or "EUR",
        "corrects": corrects,
        "billing_reference": corrects.invoice_id if corrects else "",
        **{k: header.get(k) or "" for k in (*STORED_FIELDS, *PARTY_FIELDS)},
        "line_total": totals.line_total,
        "allowance_total": totals.allowance_total,
        "charge_total": totals.charge_total,
        "subtotal": totals.tax_exclusive,
        "total_tax": totals.total_tax,
        "total": totals.tax_inclusive,
        "tax_breakdown": totals.breakdown(),
    }


def _create_row(
    tenant: Tenant,
    user,
    data: EditorInput,
    totals: Totals,
    *,
    claim_send: bool,
    replaces: Document | None = None,
    remote_digest: str = "",
) -> Document:
    """The local row of a new draft, with its lines; its number reserved by a unique index."""
    try:
        with transaction.atomic():
            document = Document.objects.create(
                tenant=tenant,
                direction=Direction.OUTBOUND,
                state=State.DRAFT,
                create_attempted_at=timezone.now(),
                remote_digest=remote_digest,
                sending_since=timezone.now() if claim_send else None,
                replaces=replaces,
                created_by=user,
                **_columns(data.document_type, data.header, totals),
            )
            _store_rows(document, data, totals)
    except IntegrityError:
        raise DuplicateNumber(data.header["invoice_id"]) from None
    return document


def save_draft(
    tenant: Tenant,
    user,
    *,
    document_type: str,
    header: dict,
    totals: Totals,
    typed: dict,
    data: EditorInput | None = None,
    document: Document | None = None,
    claim_send: bool = False,
) -> Document:
    """Keep a draft here, complete or not; no call to e-invoice.be (a send creates it there).

    `header`: the header as far as it could be read (only the number is required); `typed`:
    everything as typed, to open it again so; `data`: the cleaned input when the editor found
    nothing wrong (its lines are stored and it can be sent), else None. `document`: the draft
    being edited (it stays the one document: same row, same number unless changed).
    `claim_send`: the caller sends it next (`send(..., claimed=True)`).
    """
    values = {
        **_columns(document_type, header, totals),
        "draft_input": typed,
        "is_complete": data is not None,
        "last_error": "",  # about the content before this change (its timeline keeps it)
    }
    if claim_send:
        values["sending_since"] = timezone.now()
    try:
        with transaction.atomic():
            if document is None:
                document = Document.objects.create(
                    tenant=tenant,
                    direction=Direction.OUTBOUND,
                    state=State.DRAFT,
                    created_by=user,
                    **values,
                )
                code = timeline.DRAFT_SAVED
            else:
                document = _editable(document)
                if document.remote_id and not document.remote_digest:
                    values["remote_digest"] = "?"  # its content there is no longer known
                for name, value in values.items():
                    setattr(document, name, value)
                document.save()
                document.lines.all().delete()
                document.allowances_charges.all().delete()
                code = timeline.DRAFT_EDITED
            if data is not None:
                _store_rows(document, data, totals)
            # Noted before a send too: a send that is refused or fails keeps the draft.
            states.note(document, code=code, source=Source.PORTAL, actor=user)
    except IntegrityError:
        raise DuplicateNumber(header["invoice_id"]) from None
    return document


def _editable(document: Document) -> Document:
    """The draft's row, locked for the change; refused once it is sent or being sent."""
    stale = timezone.now() - timedelta(seconds=settings.INVOICES_SEND_CLAIM_SECONDS)
    row = (
        Document.objects.select_for_update()
        .filter(pk=document.pk, direction=Direction.OUTBOUND, state=State.DRAFT)
        .filter(Q(sending_since__isnull=True) | Q(sending_since__lt=stale))
        .first()
    )
    if row is None:
        raise NotSendable(
            _("This document is no longer a draft (or is being sent): it was not changed.")
        )
    return row


def create_draft(
    tenant: Tenant,
    user,
    data: EditorInput,
    *,
    claim_send: bool = False,
    replaces: Document | None = None,
) -> Document:
    """Reserve the number locally, then create the document at the API (once: the POST is
    never retried blindly, by us or the SDK). Used by "send again" of a failed document.

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
    document = _create_row(
        tenant,
        user,
        data,
        totals,
        claim_send=claim_send,
        replaces=replaces,
        remote_digest=digest(payload),
    )
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


def _record_remote(document: Document, remote_id: str, user, *, replaced: bool = False) -> None:
    """The API created (or we adopted) the document: keep its id, with a timeline line."""
    with transaction.atomic():
        document.remote_id = remote_id
        document.last_error = ""
        document.save(update_fields=["remote_id", "last_error", "updated_at"])
        code = timeline.REPLACED_REMOTE if replaced else timeline.CREATED_REMOTE
        states.note(document, code=code, source=Source.PORTAL, actor=user)


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


def _set_remote(document: Document, **values) -> None:
    Document.objects.filter(pk=document.pk).update(**values)
    for name, value in values.items():
        setattr(document, name, value)


def _drop_stale_remote(api: TenantApi, document: Document) -> None:
    """The draft there holds an older version: delete it (the edited one is created next)."""
    _delete_remote_draft(
        api,
        document,
        _("This document is no longer a draft at e-invoice.be: the changes were not sent."),
    )
    _set_remote(document, remote_id="", remote_digest="", create_attempted_at=None)


def ensure_remote(document: Document, user=None) -> Document:
    """Make e-invoice.be hold exactly the document's current content as a draft, before a send.

    Up to date already → nothing. A remote draft of an older version (the customer edited it
    since) → deleted and created again, unnoticed by the customer; the mirror stays one
    document. No remote id after a create whose answer was lost → adopt that draft by number if
    it holds this content, else delete it and create. Raises `NotSendable` when the remote
    draft was sent meanwhile.
    """
    # Its rows read once: the payload and the PDF attached to the create both show them.
    prefetch_related_objects([document], "lines", "allowances_charges")
    payload = payload_of(document)
    current = digest(payload)
    if document.remote_id and document.remote_digest in (current, ""):
        if not document.remote_digest:  # created before digests were kept, not edited since
            _set_remote(document, remote_digest=current)
        return document
    api = TenantApi(document.tenant)
    replacing = bool(document.remote_id)
    if replacing:
        _drop_stale_remote(api, document)
    elif document.create_attempted_at:
        found = _unmirrored_drafts(api, document)
        if found and document.remote_digest == current:
            _record_remote(document, found[0].id, user)
            return document
        for stale in found:
            _delete_remote(api, stale.id)
    _set_remote(document, create_attempted_at=timezone.now(), remote_digest=current)
    try:
        remote = api.create_document(pdf.with_attachment(document, payload))
    except (RateLimited, Rejected, KeyUnavailable) as exc:
        _set_remote(document, create_attempted_at=None, remote_digest="")  # nothing made there
        if isinstance(exc, Rejected):  # its timeline and page say why it was not sent
            _record_error(document, exc, user)
        raise
    except Unavailable as exc:
        remote = _adopt_after_lost_answer(api, document)
        if remote is None:
            _record_error(document, exc, user)
            raise
    _record_remote(document, remote.id, user, replaced=replacing)
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
    if not document.is_complete:
        raise NotSendable(
            _("This draft is not complete yet: open it in the editor, complete it and send it.")
        )
    if not claimed and not _claim_send(document):
        raise NotSendable(_("This document is already being sent."))
    holding = True  # the claim, released below unless a state change released it
    try:
        ensure_remote(document, user)
        at = timezone.now()  # before the send call: the API's own events come after it
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


def _delete_remote_draft(api: TenantApi, document: Document, refused: str) -> None:
    """Delete the document's draft at e-invoice.be (already gone there is fine). e-invoice.be
    refuses when it is no longer a draft there (sent meanwhile): the mirror reads its state
    again and NotSendable says `refused`. Shared by the replacement of a stale draft and the
    delete of a draft."""
    try:
        _delete_remote(api, document.remote_id)
    except Rejected:
        refresh(document, source=Source.PORTAL)
        raise NotSendable(refused) from None


def delete_draft(document: Document, user=None) -> None:
    if not document.can_delete:
        raise NotSendable(_("Only drafts can be deleted."))
    api = TenantApi(document.tenant)
    if document.remote_id:
        _delete_remote_draft(
            api, document, _("This document is no longer a draft and cannot be deleted.")
        )
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
