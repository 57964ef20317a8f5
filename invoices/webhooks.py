"""Incoming webhook deliveries: verify, de-duplicate, apply.

Order matters: the signature is checked before anything in the body is trusted, over the raw
body or over the canonical form e-invoice.be's documentation signs (`json.dumps(event,
sort_keys=True)`: default separators, non-ASCII as \\uXXXX), so that a body re-serialised on
the way still verifies; then the timestamp must be within the tolerance; then the event id is
recorded under a unique constraint, so a replay (or the API's own retry of a delivered event)
changes nothing. Unknown event types (the documented "document receive failed" among them)
are recorded and ignored. Bad input of any shape gets a 4xx, never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from core import crypto
from einvoice.tenant import TenantApi
from invoices import inbound, outbound, states, timeline
from invoices.models import Direction, Document, DocumentEvent, Mailbox, State, WebhookEvent

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
# The API's events are a few levels deep; a deeper body is refused before anything walks it
# (json.loads itself raises RecursionError on a thousand nested brackets).
MAX_JSON_DEPTH = 32
STATE_EVENTS = {"document.sent": State.SENT, "document.sent.failed": State.FAILED}


@dataclass
class Outcome:
    status: int
    message: str


def _tolerance() -> timedelta:
    return timedelta(seconds=settings.INVOICES_WEBHOOK_TOLERANCE_SECONDS)


def signature_of(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def canonical(event: Any) -> bytes:
    """The event as e-invoice.be's documentation serialises it for the signature."""
    return json.dumps(event, sort_keys=True).encode("utf-8")


def _matches(secret: str, body: bytes, given: bytes) -> bool:
    return hmac.compare_digest(signature_of(secret, body).encode("ascii"), given)


def verify(secret: str, body: bytes, header: str) -> bool:
    """The signature over the raw body, or over the documented canonical JSON of it."""
    given = (header or "").strip().encode("utf-8")
    if _matches(secret, body, given):
        return True
    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return _matches(secret, canonical(event), given)


def parse_timestamp(value: Any) -> datetime | None:
    """An event's timestamp: epoch seconds or ISO 8601 (naive means UTC); None otherwise."""
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


def _too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a parsed JSON value nests deeper than limit (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def handle(token: str, body: bytes, signature: str) -> Outcome:
    mailbox = Mailbox.objects.select_related("tenant").filter(webhook_token=token).first()
    if mailbox is None or not mailbox.webhook_secret_encrypted:
        return Outcome(404, "unknown endpoint")
    if len(body) > MAX_BODY_BYTES:
        return Outcome(413, "body too large")
    try:
        secret = mailbox.reveal_secret()
    except crypto.SecretUnreadable:
        log.error("webhook secret of tenant %s cannot be decrypted", mailbox.tenant_id)
        return Outcome(503, "secret unreadable")
    if not verify(secret, body, signature):
        return Outcome(401, "bad signature")

    # Signed by the API: now the body may be parsed (still defensively).
    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return Outcome(400, "body is not JSON")
    except RecursionError:
        return Outcome(400, "body nested too deeply")
    if _too_deep(event):
        return Outcome(400, "body nested too deeply")
    if not isinstance(event, dict):
        return Outcome(400, "event is not an object")
    event_id, event_type = event.get("id"), event.get("type")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    occurred = parse_timestamp(event.get("timestamp"))
    if not isinstance(event_id, str) or not event_id or len(event_id) > 100:
        return Outcome(400, "event id missing")
    if not isinstance(event_type, str) or len(event_type) > 64:
        return Outcome(400, "event type missing")
    if occurred is None:
        return Outcome(400, "timestamp missing")
    now = timezone.now()
    if abs(now - occurred) > _tolerance():
        return Outcome(400, "timestamp outside tolerance")

    document_id = data.get("document_id") if isinstance(data.get("document_id"), str) else ""
    try:
        return _record_and_apply(mailbox, event_id, event_type, occurred, data, document_id[:64])
    except DatabaseError:
        # Busy database (e.g. SQLite locked): nothing was committed; the API retries later.
        log.warning("webhook %s of tenant %s postponed: database busy", event_id, mailbox.tenant_id)
        return Outcome(503, "busy, retry later")


def _record_and_apply(
    mailbox: Mailbox,
    event_id: str,
    event_type: str,
    occurred,
    data: dict[str, Any],
    document_id: str,
) -> Outcome:
    """Record the event id and apply its effect in one transaction: either both or neither.

    Remote reads (a received document, a failure reason) happen before the transaction, so no
    lock is held during an API call; a replay is recognised before any remote read.
    """
    if WebhookEvent.objects.filter(mailbox=mailbox, event_id=event_id).exists():
        return Outcome(200, "duplicate ignored")
    tenant = mailbox.tenant
    remote = None
    reason = data.get("error") or data.get("reason") or ""
    reason = reason if isinstance(reason, str) else ""
    if event_type == "document.received" and document_id:
        remote = inbound.fetch_received(tenant, document_id)
    elif event_type == "document.sent.failed" and document_id and not reason:
        # The real service's event data is not documented: ask the document's timeline.
        reason = outbound.failure_reason(TenantApi(tenant), document_id)
    try:
        with transaction.atomic():
            outcome = _apply(tenant, event_type, occurred, document_id, reason, remote)[:200]
            WebhookEvent.objects.create(
                mailbox=mailbox,
                event_id=event_id,
                event_type=event_type,
                occurred_at=occurred,
                document_remote_id=document_id,
                outcome=outcome,
            )
    except IntegrityError:
        return Outcome(200, "duplicate ignored")
    return Outcome(200, outcome)


def _apply(tenant, event_type: str, occurred, document_id: str, reason: str, remote) -> str:
    if event_type in STATE_EVENTS:
        document = Document.objects.filter(
            tenant=tenant, direction=Direction.OUTBOUND, remote_id=document_id
        ).first()
        if document is None or not document_id:
            return "unknown document"
        new_state = STATE_EVENTS[event_type]
        failed = new_state == State.FAILED
        changed = states.advance(
            document,
            new_state,
            at=occurred,
            source=DocumentEvent.Source.WEBHOOK,
            code=timeline.DELIVERY_FAILED if failed else timeline.DELIVERED,
            params={"reason": reason} if failed and reason else None,
            failure_reason=(reason or _("Delivery failed.")) if failed else None,
        )
        return f"{new_state.lower()}" if changed else "stale or not forward: ignored"
    if event_type == "document.received":
        if not document_id:
            return "no document id"
        if remote is None:
            if Document.objects.filter(tenant=tenant, remote_id=document_id).exists():
                return "already received"
            Mailbox.objects.filter(tenant=tenant).update(inbox_synced_at=None)
            return "received: fetch postponed to the next inbox pull"
        inbound.upsert_inbound(tenant, remote)
        return "received"
    return "unknown event type: ignored"
