"""Done-when for drafts, end to end against the sandbox with real, signed webhooks: Carol saves
an incomplete draft (only its number), edits it twice, a first send stops at the send step
(its draft then exists at e-invoice.be), she changes a price, and the send that follows
replaces the stale remote draft unnoticed: the invoice reaches SENT, one document here and one
there."""

import re

import pytest
from django.urls import reverse

from invoices.mailbox import setup_due
from invoices.models import Document, State
from tests.invoices.conftest import editor_post, line
from tests.invoices.test_documents import remote_documents
from tests.invoices.test_e2e import delivered, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def patient_webhooks(sandbox):
    sandbox.configure(webhook_retry_delays=[0.2, 0.5, 1.0, 2.0])


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def only_a_number() -> dict[str, str]:
    """What a customer has typed when interrupted: a number and half a line."""
    body = editor_post([line("Sourdough bread", "10", "", "6")], action="save")
    for name in ("customer_name", "customer_tax_id", "customer_address", "payment_term"):
        body[name] = ""
    body["invoice_id"] = "INV-DRAFT-1"
    body["iban"] = "BE68 5390"  # half typed
    return body


def test_an_incomplete_draft_is_edited_twice_then_sent_as_one_document(
    client, seller, buyer, carol, portal_url, sandbox
):
    setup_due()  # the poll registers the webhooks
    client.force_login(carol)
    before = len(sandbox.requests())

    # 1. Saved with almost nothing in it: kept here, no call to e-invoice.be.
    response = client.post(reverse("invoices:new_invoice"), only_a_number())
    assert response.status_code == 302
    draft = Document.objects.get(tenant=seller.tenant, invoice_id="INV-DRAFT-1")
    assert draft.state == State.DRAFT and not draft.is_complete and not draft.remote_id
    assert len(sandbox.requests()) == before
    listing = text(client.get(reverse("invoices:documents")))
    assert "INV-DRAFT-1" in listing and "incomplete" in listing

    # 2. Opened again: exactly as typed, the half IBAN too.
    edit = reverse("invoices:edit", args=[draft.pk])
    page = client.get(edit).content.decode()
    assert 'value="BE68 5390"' in page and 'value="Sourdough bread"' in page
    assert "Invoice INV-DRAFT-1 (draft)" in page

    # 3. First edit: the buyer and the price; still saved as a draft.
    first = editor_post([line("Sourdough bread", "10", "4.50", "6")], action="save")
    first["invoice_id"] = "INV-DRAFT-1"
    assert client.post(edit, first).status_code == 302
    draft.refresh_from_db()
    assert draft.is_complete and str(draft.total) == "47.70" and not draft.remote_id

    # 4. Check, any number of times: nothing is created there.
    for _ in range(2):
        assert (
            'id="validated"' in client.post(edit, {**first, "action": "validate"}).content.decode()
        )
    assert Document.objects.filter(tenant=seller.tenant).count() == 1

    # 5. A send that stops at the send step (the network is down for that one call): the
    # draft now exists at e-invoice.be, with this content.
    sandbox.set_faults(rules=[{"method": "POST", "path": "/api/documents/*/send", "status": 503}])
    response = client.post(edit, {**first, "action": "send"})
    assert response.status_code == 302
    sandbox.clear_faults()
    draft.refresh_from_db()
    assert draft.state == State.DRAFT and draft.remote_id and draft.can_edit
    stale = draft.remote_id

    # 6. Second edit: a price changes. Then send: the remote draft is replaced and sent.
    second = editor_post([line("Sourdough bread", "10", "4.80", "6")], action="send")
    second["invoice_id"] = "INV-DRAFT-1"
    response = client.post(edit, second)
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:detail", args=[draft.pk])
    assert wait_for(lambda: delivered(sandbox, seller.key, "document.sent", "INV-DRAFT-1"))
    assert wait_for(lambda: delivered(sandbox, buyer.key, "document.received", "INV-DRAFT-1"))

    mine = Document.objects.filter(tenant=seller.tenant, invoice_id="INV-DRAFT-1")
    assert mine.count() == 1
    sent = mine.get()
    assert sent.pk == draft.pk and sent.state == State.SENT and str(sent.total) == "50.88"
    assert sent.remote_id != stale
    assert remote_documents(sandbox, seller.key, "INV-DRAFT-1") == {sent.remote_id}
    with sandbox.tenant_client(seller.key) as api:
        assert api.get(f"/api/documents/{stale}").status_code == 404
    received = Document.objects.get(tenant=buyer.tenant, invoice_id="INV-DRAFT-1")
    assert str(received.total) == "50.88"
    # Once sent it is no longer a draft: its editor sends the customer back to its page.
    assert client.get(edit)["Location"] == reverse("invoices:detail", args=[draft.pk])
