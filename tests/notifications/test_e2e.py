"""Done-when, end to end: a delivery that fails and a document that arrives, through the
sandbox and its signed webhooks to a live portal, each tell the right people once by email
(in Dutch for a Dutch user) and the reseller's own system once by a signed webhook.

Carol (seller, tenant acme) reads Dutch; Bob (buyer, tenant globex) English. Alice (admin)
asked for both events at once; Otto (operator) keeps the defaults (failed deliveries in his
daily digest, received documents not at all).
"""

from datetime import date

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from invoices.mailbox import setup_due
from notifications import preferences
from notifications.models import DigestItem, Event
from tests.invoices.conftest import NOT_ON_PEPPOL, editor_post, line
from tests.invoices.test_e2e import delivered, wait_for
from tests.notifications.conftest import drive

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def patient_webhooks(sandbox):
    # As in tests/invoices/test_e2e.py: a delivery that meets a busy database is retried.
    sandbox.configure(webhook_retry_delays=[0.2, 0.5, 1.0, 2.0])


@pytest.fixture
def alice_hears_at_once(alice):
    preferences.save(alice, {"document.failed": "immediate", "document.received": "immediate"})
    return alice


def mails_to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address]]


def test_it_tells_the_seller_and_the_staff_once_when_a_delivery_fails(
    client, seller, carol, alice_hears_at_once, otto, portal_url, sandbox, endpoint, receiver
):
    User.objects.filter(pk=carol.pk).update(language="nl")
    setup_due()  # the poll registers the tenant's webhook at the sandbox
    client.force_login(carol)
    body = editor_post(
        [line()],
        action="send",
        invoice_id="INV-NOTE-F",
        customer_name=NOT_ON_PEPPOL["company_name"],
        customer_tax_id=NOT_ON_PEPPOL["company_tax_id"],
        invoice_date=date.today().isoformat(),
    )
    assert client.post(reverse("invoices:new_invoice"), body).status_code == 302
    assert wait_for(lambda: delivered(sandbox, seller.key, "document.sent.failed", "INV-NOTE-F"))

    drive()
    drive()  # a second worker pass changes nothing
    assert sorted(m.to[0] for m in mail.outbox) == sorted([carol.email, alice_hears_at_once.email])
    [dutch] = mails_to(carol.email)
    assert "Een document kon niet worden afgeleverd" in dutch.subject, dutch.subject
    assert "INV-NOTE-F" in dutch.body and "kon niet worden afgeleverd" in dutch.body
    assert "not registered on the Peppol network" in dutch.body  # the reason, as the API said
    assert "/invoices/" in dutch.body
    [english] = mails_to(alice_hears_at_once.email)
    assert "A document could not be delivered" in english.subject
    assert f"/invoices/tenant/{seller.tenant.pk}/" in english.body  # the staff's view of it
    assert DigestItem.objects.filter(user=otto, event__kind="document.failed").count() == 1

    [hook] = receiver.received
    assert hook.verified, hook.headers
    assert hook.headers["X-Portal-Event"] == "document.failed"
    sent = hook.event
    assert sent["type"] == "document.failed" and sent["data"]["document"]["number"] == "INV-NOTE-F"
    assert sent["data"]["tenant"]["name"] == seller.tenant.name
    assert seller.key not in hook.body.decode()
    assert Event.objects.filter(kind="document.failed").count() == 1


def test_it_tells_the_buyer_and_the_staff_once_when_a_document_arrives(
    client, seller, buyer, carol, bob, alice_hears_at_once, otto, portal_url, sandbox, endpoint,
    receiver,
):  # fmt: skip
    setup_due()
    client.force_login(carol)
    body = editor_post([line()], action="send", invoice_id="INV-NOTE-R")
    assert client.post(reverse("invoices:new_invoice"), body).status_code == 302
    assert wait_for(lambda: delivered(sandbox, buyer.key, "document.received", "INV-NOTE-R"))
    assert wait_for(lambda: delivered(sandbox, seller.key, "document.sent", "INV-NOTE-R"))

    drive()
    drive()
    # Bob (the buyer's user) and Alice; not Carol (her document was sent, not received), not
    # Otto (received documents are off by default for staff).
    assert sorted(m.to[0] for m in mail.outbox) == sorted([bob.email, alice_hears_at_once.email])
    [to_bob] = mails_to(bob.email)
    assert "A document was received" in to_bob.subject
    assert "INV-NOTE-R" in to_bob.body and "Bakkerij Van Damme BV" in to_bob.body
    assert not DigestItem.objects.filter(user=otto).exists()

    [hook] = receiver.received
    assert hook.verified
    assert hook.event["type"] == "document.received"
    assert hook.event["data"]["document"]["number"] == "INV-NOTE-R"
    assert hook.event["data"]["tenant"]["name"] == buyer.tenant.name
    assert buyer.key not in hook.body.decode() and seller.key not in hook.body.decode()
