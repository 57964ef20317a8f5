"""Document states only move forward: DRAFT → TRANSIT → SENT/FAILED; SENT and FAILED are final.

FAILED is final at e-invoice.be too (it retries delivery itself for up to 24 h first): "send
again" makes a new document (`outbound.send_again`), it never moves a FAILED one.

Every change is one conditional UPDATE (the allowed previous states and "not older than the
current state" are in the WHERE clause), so concurrent webhooks, polls and clicks cannot move a
document back, and an older event that arrives late changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from invoices.models import Document, DocumentEvent, State
from notifications import emit as notify

# Which states each state may be reached from.
_FROM: dict[str, tuple[str, ...]] = {
    State.DRAFT: (),
    State.TRANSIT: (State.DRAFT,),
    State.SENT: (State.DRAFT, State.TRANSIT),
    State.FAILED: (State.DRAFT, State.TRANSIT),
    State.RECEIVED: (),
}


def clock_skew() -> timedelta:
    """Tolerance between the API's clock (millisecond timestamps) and ours."""
    return timedelta(seconds=settings.INVOICES_CLOCK_SKEW_SECONDS)


def allowed_from(new_state: str) -> tuple[str, ...]:
    return _FROM.get(new_state, ())


def advance(
    document: Document,
    new_state: str,
    *,
    at: datetime,
    source: str,
    code: str = "",
    params: dict | None = None,
    message: str = "",
    failure_reason: str | None = None,
    actor=None,
) -> bool:
    """Move `document` to `new_state` if that is forward and `at` is not older than its state.

    Returns True when the state changed (and a timeline event was written). Refreshes the
    instance's state fields either way.
    """
    if new_state == document.state and not failure_reason:
        return False
    previous = allowed_from(new_state)
    if not previous:
        return False
    updates: dict[str, object] = {
        "state": new_state,
        "state_changed_at": Greatest(F("state_changed_at"), Value(at)),
        "updated_at": timezone.now(),
    }
    if source == DocumentEvent.Source.PORTAL:
        updates["sending_since"] = None  # our own send finished: release its claim here
    if failure_reason is not None:
        updates["failure_reason"] = failure_reason[:2000]
    elif new_state == State.TRANSIT:
        updates["failure_reason"] = ""
    with transaction.atomic():
        changed = Document.objects.filter(
            pk=document.pk, state__in=previous, state_changed_at__lte=at + clock_skew()
        ).update(**updates)
        if changed:
            DocumentEvent.objects.create(
                document_id=document.pk,
                at=at,
                source=source,
                state=new_state,
                code=code,
                params=params or {},
                message=message[:2000],
                actor=actor,
            )
            if new_state == State.FAILED:
                # With the change, in its transaction: the staff and the customer hear once.
                document.state = new_state
                document.failure_reason = updates.get("failure_reason", document.failure_reason)
                notify.document("document.failed", document)
    if changed:
        # The UPDATE's values, known here: no need to read the row back.
        document.state = new_state
        document.state_changed_at = max(document.state_changed_at, at)
        if "failure_reason" in updates:
            document.failure_reason = updates["failure_reason"]
        if "sending_since" in updates:
            document.sending_since = None
        return True
    fresh = Document.objects.filter(pk=document.pk).values(
        "state", "state_changed_at", "failure_reason"
    )
    for field, value in (fresh.first() or {}).items():
        setattr(document, field, value)
    return False


def note(
    document: Document,
    message: str = "",
    *,
    source: str,
    code: str = "",
    params: dict | None = None,
    actor=None,
    link: Document | None = None,
) -> None:
    """A timeline line that does not change the state: a code of `invoices.timeline` (worded
    when shown), or a free-text `message` (e.g. an error the user should see); `link`: another
    document it is about, linked from the line."""
    DocumentEvent.objects.create(
        document_id=document.pk,
        source=source,
        state=document.state,
        code=code,
        params=params or {},
        message=message[:2000],
        actor=actor,
        link=link,
    )
