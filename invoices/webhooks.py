"""Incoming webhook deliveries: verify, de-duplicate, apply.

Order matters: the signature is checked over the raw body before anything in it is trusted;
then the timestamp must be within the tolerance; then the event id is recorded under a unique
constraint, so a replay (or the API's own retry of a delivered event) changes nothing. Unknown
event types are recorded and ignored. Bad input of any shape gets a 4xx, never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from invoices import services, states
from invoices.models import Direction, Document, DocumentEvent, Mailbox, State, WebhookEvent
from invoices.tenant_api import TenantApi
from tenants import crypto

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
STATE_EVENTS = {"document.sent": State.SENT, "document.sent.failed": State.FAILED}


@dataclass
class Outcome:
    status: int
    message: str


def _tolerance() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "INVOICES_WEBHOOK_TOLERANCE_SECONDS", 300)))


def signature_of(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    expected = signature_of(secret, body)
    return hmac.compare_digest(expected.encode("ascii"), (header or "").strip().encode("utf-8"))


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
    if not isinstance(event, dict):
        return Outcome(400, "event is not an object")
    event_id, event_type = event.get("id"), event.get("type")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    occurred = services.parse_timestamp(event.get("timestamp"))
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
        with transaction.atomic():
            record = WebhookEvent.objects.create(
                mailbox=mailbox,
                event_id=event_id,
                event_type=event_type,
                occurred_at=occurred,
                document_remote_id=document_id[:64],
            )
    except IntegrityError:
        return Outcome(200, "duplicate ignored")

    outcome = _apply(mailbox, event_type, occurred, data, document_id)
    WebhookEvent.objects.filter(pk=record.pk).update(outcome=outcome[:200])
    return Outcome(200, outcome)


def _apply(
    mailbox: Mailbox, event_type: str, occurred, data: dict[str, Any], document_id: str
) -> str:
    tenant = mailbox.tenant
    if event_type in STATE_EVENTS:
        document = Document.objects.filter(
            tenant=tenant, direction=Direction.OUTBOUND, remote_id=document_id
        ).first()
        if document is None or not document_id:
            return "unknown document"
        new_state = STATE_EVENTS[event_type]
        reason = data.get("error") or data.get("reason") or ""
        reason = reason if isinstance(reason, str) else ""
        if new_state == State.FAILED and not reason:
            # The real service's event data is not documented: ask the document's timeline.
            reason = services.failure_reason(TenantApi(tenant), document_id)
        changed = states.advance(
            document,
            new_state,
            at=occurred,
            source=DocumentEvent.Source.WEBHOOK,
            message=reason if new_state == State.FAILED else _("Delivered to the buyer."),
            failure_reason=(reason or _("Delivery failed.")) if new_state == State.FAILED else None,
        )
        return f"{new_state.lower()}" if changed else "stale or not forward: ignored"
    if event_type == "document.received":
        if not document_id:
            return "no document id"
        document = services.receive(tenant, document_id)
        return "received" if document else "received: fetch postponed"
    return "unknown event type: ignored"
