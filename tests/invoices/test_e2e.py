"""Done-when, end to end against the sandbox with real, signed webhooks to a live portal.

Carol (tenant A) validates an invoice (errors first, then fixed), sends it to Bob's tenant B:
it reaches SENT on A's list and RECEIVED in B's inbox through notifications alone; a credit
note follows the same path; a send to a buyer who is not on Peppol ends FAILED and says why,
and once the buyer registers, "Send again" delivers a new document linked to the failed one.
"""

import re
import time
from datetime import date

import pytest
from django.urls import reverse

from invoices.mailbox import setup_due
from invoices.models import Direction, Document, DocumentType, Mailbox, State, WebhookEvent
from tests.invoices.conftest import NOT_ON_PEPPOL, editor_post, line
from tests.invoices.test_editor import blocks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def patient_webhooks(sandbox):
    # The live test server shares one in-memory SQLite connection between threads; a delivery
    # that meets a busy database gets a 503 and is retried.
    sandbox.configure(webhook_retry_delays=[0.2, 0.5, 1.0, 2.0])


def delivered(sandbox, key: str, event_type: str, invoice_id: str) -> bool:
    """The sandbox's delivery history, read over HTTP so the test thread leaves the DB alone."""
    with sandbox.tenant_client(key) as api:
        for hook in api.get("/api/webhooks/").json():
            for d in api.get(f"/api/webhooks/{hook['id']}/history").json()["history"]:
                data = d["payload"]["data"]
                if d["event_type"] == event_type and data.get("invoice_id") == invoice_id:
                    if d["status"] == "delivered":
                        return True
    return False


def wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_it_validates_sends_and_delivers_an_invoice_and_a_credit_note(
    client, seller, buyer, carol, bob, portal_url, sandbox
):
    # The poll (beat) registers both tenants' webhooks: the portal holds their keys.
    setup_due()
    assert Mailbox.objects.get(tenant=buyer.tenant).has_webhook
    assert Mailbox.objects.get(tenant=seller.tenant).has_webhook
    client.force_login(carol)
    new = reverse("invoices:new_invoice")
    lines = [line("Sourdough bread", "10", "4.50", "6"), line("Birthday cake", "1", "35", "21")]

    # 1. Check: the API finds problems; each one shows next to its input, nothing typed is lost.
    wrong = editor_post(
        lines,
        action="validate",
        invoice_id="INV-E2E-1",
        payment_term="",
        payment_reference="+++010/8068/17184+++",
    )
    shown = blocks(client.post(new, wrong))
    assert "give a due date" in shown["field-due_date"]
    assert "check digits" in shown["field-payment_reference"]
    assert "2 problems" in shown["issue-count"]

    # 2. Fixed: valid.
    fixed = editor_post(
        lines, action="validate", invoice_id="INV-E2E-1", payment_reference="+++010/8068/17183+++"
    )
    assert "ready to send" in blocks(client.post(new, fixed))["validated"]

    # 3. Send. The test reads the database only once the notifications are delivered: the
    # live server shares the test's SQLite connection.
    response = client.post(new, {**fixed, "action": "send"})
    assert response.status_code == 302
    assert wait_for(lambda: delivered(sandbox, seller.key, "document.sent", "INV-E2E-1"))
    assert wait_for(lambda: delivered(sandbox, buyer.key, "document.received", "INV-E2E-1"))
    invoice = Document.objects.get(tenant=seller.tenant, invoice_id="INV-E2E-1")
    assert invoice.state == State.SENT
    assert WebhookEvent.objects.filter(
        mailbox__tenant=seller.tenant, event_type="document.sent"
    ).exists()
    listing = text(client.get(reverse("invoices:documents")))
    assert 'data-document="INV-E2E-1"' in listing and 'data-state="SENT"' in listing

    # 4. B received it by notification, before Bob even looks.
    received = Document.objects.get(tenant=buyer.tenant, invoice_id="INV-E2E-1")
    assert received.state == State.RECEIVED and received.direction == Direction.INBOUND
    assert received.total == invoice.total
    client.force_login(bob)
    inbox = text(client.get(reverse("invoices:inbox")))
    assert 'data-document="INV-E2E-1"' in inbox and 'data-state="RECEIVED"' in inbox

    # 5. A credit note for part of it, the same way.
    client.force_login(carol)
    credit = editor_post(
        [line("Birthday cake (returned)", "1", "35", "21")],
        action="send",
        invoice_id="CN-E2E-1",
        corrects=str(invoice.pk),
    )
    assert client.post(reverse("invoices:new_credit_note"), credit).status_code == 302
    assert wait_for(lambda: delivered(sandbox, seller.key, "document.sent", "CN-E2E-1"))
    assert wait_for(lambda: delivered(sandbox, buyer.key, "document.received", "CN-E2E-1"))
    note = Document.objects.get(tenant=seller.tenant, invoice_id="CN-E2E-1")
    assert note.document_type == DocumentType.CREDIT_NOTE and note.state == State.SENT
    got = Document.objects.get(tenant=buyer.tenant, invoice_id="CN-E2E-1")
    assert got.document_type == DocumentType.CREDIT_NOTE and str(got.total) == "42.35"


def test_it_ends_failed_and_says_why_when_the_buyer_is_not_on_peppol(
    client, seller, carol, portal_url, sandbox
):
    setup_due()  # the poll registers the webhook
    client.force_login(carol)
    body = editor_post(
        [line()],
        action="send",
        invoice_id="INV-E2E-F",
        customer_name=NOT_ON_PEPPOL["company_name"],
        customer_tax_id=NOT_ON_PEPPOL["company_tax_id"],
        invoice_date=date.today().isoformat(),
    )
    # The Peppol check warns before sending.
    check = client.get(
        reverse("invoices:peppol_check"),
        {"customer_tax_id": NOT_ON_PEPPOL["company_tax_id"], "kind": "invoice"},
    )
    assert "is not registered on Peppol: sending will fail" in text(check)

    assert client.post(reverse("invoices:new_invoice"), body).status_code == 302
    assert wait_for(lambda: delivered(sandbox, seller.key, "document.sent.failed", "INV-E2E-F"))
    document = Document.objects.get(tenant=seller.tenant, invoice_id="INV-E2E-F")
    assert document.state == State.FAILED
    page = text(client.get(reverse("invoices:detail", args=[document.pk])))
    assert (
        "Delivery failed: Receiver 0208:1286602456 is not registered on the Peppol network" in page
    )

    # The buyer registers; "Send again" makes a new document that reaches SENT by notification
    # (signed as e-invoice.be documents it); the failed one stays FAILED, never sent again.
    remote, _key = sandbox.create_tenant_with_key(
        "atelier", company_number="1286602456", peppol_ids=["0208:1286602456"]
    )
    sandbox.register(remote["id"], "0208:1286602456")
    response = client.post(reverse("invoices:send", args=[document.pk]))
    assert response.status_code == 302
    assert wait_for(lambda: delivered(sandbox, seller.key, "document.sent", "INV-E2E-F"))
    new = Document.objects.get(replaces=document)
    assert response["Location"] == reverse("invoices:detail", args=[new.pk])
    assert new.state == State.SENT and new.invoice_id == "INV-E2E-F"
    document.refresh_from_db()
    assert document.state == State.FAILED
    with sandbox.tenant_client(seller.key) as api:
        assert api.get(f"/api/documents/{document.remote_id}").json()["state"] == "FAILED"
    old_page = text(client.get(reverse("invoices:detail", args=[document.pk])))
    new_page = text(client.get(reverse("invoices:detail", args=[new.pk])))
    assert f'href="{reverse("invoices:detail", args=[new.pk])}" class="event-link"' in old_page
    assert f'href="{reverse("invoices:detail", args=[document.pk])}" class="event-link"' in new_page
