"""`manage.py seed_demo` against the sandbox: each demo customer starts with documents in every
state, made through e-invoice.be (the sandbox) like a customer's, and a second run adds none."""

import pytest
from django.core.management import call_command

from accounts.models import User
from invoices.models import Direction, Document, DocumentType, State

pytestmark = pytest.mark.django_db(transaction=True)


def states_of(user: User) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for doc in Document.objects.filter(tenant=user.tenant):
        key = (doc.state, doc.document_type)
        found[key] = found.get(key, 0) + 1
    return found


def test_seed_demo_gives_each_customer_documents_in_every_state(portal_on_sandbox, sandbox):
    call_command("seed_demo")
    for username in ("customer", "customer2"):
        user = User.objects.get(username=username)
        found = states_of(user)
        for state in (State.DRAFT, State.SENT, State.FAILED, State.RECEIVED):
            assert any(s == state for s, _t in found), (username, found)
        assert found.get((State.SENT, DocumentType.CREDIT_NOTE)) == 1, found
        assert found.get((State.RECEIVED, DocumentType.CREDIT_NOTE)) == 1, found
        # The mirror holds what e-invoice.be holds: every document made there is mirrored.
        key = user.tenant.current_key().reveal_value()
        with sandbox.tenant_client(key) as api:
            outbox = api.get("/api/outbox/", params={"page_size": 100}).json()["items"]
            inbox = api.get("/api/inbox/", params={"page_size": 100}).json()["items"]
        mine = Document.objects.filter(tenant=user.tenant)
        outbound = mine.filter(direction=Direction.OUTBOUND).exclude(remote_id="")
        assert {d["id"] for d in outbox} <= set(outbound.values_list("remote_id", flat=True))
        with sandbox.tenant_client(key) as api:
            for doc in outbound:
                assert api.get(f"/api/documents/{doc.remote_id}").json()["state"] == doc.state
        assert {d["id"] for d in inbox} == set(
            mine.filter(direction=Direction.INBOUND).values_list("remote_id", flat=True)
        )
        draft = mine.get(state=State.DRAFT)
        assert draft.remote_id == "" and draft.is_complete  # kept here, ready to send

    before = Document.objects.count()
    call_command("seed_demo")
    assert Document.objects.count() == before
