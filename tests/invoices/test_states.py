"""States only move forward, and an older event never moves a document back."""

from datetime import timedelta

import pytest
from django.utils import timezone

from invoices.models import Document, DocumentEvent, State
from invoices.states import advance


@pytest.fixture
def draft(acme) -> Document:
    created = timezone.now() - timedelta(days=1)
    return Document.objects.create(
        tenant=acme, invoice_id="INV-1", remote_id="doc_1", state_changed_at=created
    )


def test_it_moves_a_draft_through_transit_to_sent_with_a_timeline(draft):
    t0 = timezone.now()
    assert advance(draft, State.TRANSIT, at=t0, source="portal")
    assert advance(draft, State.SENT, at=t0 + timedelta(seconds=2), source="webhook")
    draft.refresh_from_db()
    assert draft.state == State.SENT
    assert [e.state for e in DocumentEvent.objects.filter(document=draft)] == ["TRANSIT", "SENT"]


@pytest.mark.parametrize("later", [State.DRAFT, State.TRANSIT, State.FAILED])
def test_it_never_leaves_sent(draft, later):
    t0 = timezone.now()
    advance(draft, State.SENT, at=t0, source="webhook")
    assert not advance(draft, later, at=t0 + timedelta(minutes=5), source="webhook")
    draft.refresh_from_db()
    assert draft.state == State.SENT


def test_it_ignores_a_late_failure_from_before_a_resend(draft):
    t0 = timezone.now() - timedelta(minutes=10)
    advance(draft, State.TRANSIT, at=t0, source="portal")
    advance(
        draft, State.FAILED, at=t0 + timedelta(minutes=1), source="webhook", failure_reason="no"
    )
    # The customer sends again; the first failure's notification is delivered again, late.
    assert advance(draft, State.TRANSIT, at=t0 + timedelta(minutes=5), source="portal", resend=True)
    assert not advance(
        draft, State.FAILED, at=t0 + timedelta(minutes=1), source="webhook", failure_reason="old"
    )
    draft.refresh_from_db()
    assert draft.state == State.TRANSIT and draft.failure_reason == ""


def test_it_only_moves_failed_to_transit_on_a_resend(draft):
    t0 = timezone.now()
    advance(draft, State.FAILED, at=t0, source="poll", failure_reason="receiver unknown")
    assert not advance(draft, State.TRANSIT, at=t0 + timedelta(minutes=1), source="poll")
    assert advance(draft, State.TRANSIT, at=t0 + timedelta(minutes=1), source="portal", resend=True)


def test_it_accepts_a_success_after_a_failure_only_when_it_is_newer(draft):
    t0 = timezone.now() - timedelta(minutes=10)
    advance(draft, State.FAILED, at=t0, source="webhook", failure_reason="x")
    assert not advance(draft, State.SENT, at=t0 - timedelta(minutes=5), source="webhook")
    assert advance(draft, State.SENT, at=t0 + timedelta(minutes=5), source="webhook")


def test_it_keeps_the_newest_state_time_when_an_event_arrives_within_the_clock_skew(draft):
    t0 = timezone.now()
    advance(draft, State.TRANSIT, at=t0, source="portal")
    # The API's clock says the delivery happened a few milliseconds "before" our send returned.
    assert advance(draft, State.SENT, at=t0 - timedelta(milliseconds=5), source="webhook")
    draft.refresh_from_db()
    assert draft.state == State.SENT and draft.state_changed_at == t0
