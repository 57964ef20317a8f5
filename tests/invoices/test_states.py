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


@pytest.mark.parametrize("later", [State.DRAFT, State.TRANSIT, State.SENT])
def test_it_never_leaves_failed(draft, later):
    # FAILED is final at e-invoice.be: sending again makes a new document.
    t0 = timezone.now() - timedelta(minutes=10)
    advance(draft, State.FAILED, at=t0, source="webhook", failure_reason="receiver unknown")
    assert not advance(draft, later, at=t0 + timedelta(minutes=5), source="portal")
    draft.refresh_from_db()
    assert draft.state == State.FAILED and draft.failure_reason == "receiver unknown"


def test_it_keeps_the_newest_state_time_when_an_event_arrives_within_the_clock_skew(draft):
    t0 = timezone.now()
    advance(draft, State.TRANSIT, at=t0, source="portal")
    # The API's clock says the delivery happened a few milliseconds "before" our send returned.
    assert advance(draft, State.SENT, at=t0 - timedelta(milliseconds=5), source="webhook")
    draft.refresh_from_db()
    assert draft.state == State.SENT and draft.state_changed_at == t0
