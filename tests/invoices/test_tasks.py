"""The poll task and the per-tenant setup (webhook registration, seller profile) it does."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from einvoice.errors import RateLimited
from invoices import outbound, tasks
from invoices.mailbox import ensure_setup, setup_due
from invoices.models import Document, Mailbox, State
from tests.invoices.conftest import editor_post, line

pytestmark = pytest.mark.django_db


def remote_webhooks(sandbox, key) -> list[dict]:
    with sandbox.tenant_client(key) as api:
        return api.get("/api/webhooks/").json()


def test_it_registers_one_webhook_per_tenant_with_an_encrypted_secret(
    seller, portal_on_sandbox, settings
):
    settings.PORTAL_BASE_URL = "https://portal.example"
    mailbox = ensure_setup(seller.tenant)
    ensure_setup(seller.tenant)
    hooks = remote_webhooks(portal_on_sandbox, seller.key)
    assert len(hooks) == 1
    assert hooks[0]["url"] == f"https://portal.example/invoices/webhooks/{mailbox.webhook_token}/"
    assert set(hooks[0]["events"]) == {"document.sent", "document.sent.failed", "document.received"}
    stored = Mailbox.objects.get(pk=mailbox.pk)
    assert hooks[0]["secret"] not in stored.webhook_secret_encrypted
    assert stored.reveal_secret() == hooks[0]["secret"]
    assert stored.seller_profile["company_name"] == "Bakkerij Van Damme BV"


def test_it_adopts_the_webhook_of_a_lost_answer_instead_of_registering_twice(
    seller, portal_on_sandbox, settings
):
    settings.INVOICES_SETUP_RETRY_SECONDS = 0
    portal_on_sandbox.set_faults(
        rules=[
            {"method": "POST", "path": "/api/webhooks/", "action": "drop_after_write", "times": 1}
        ]
    )
    first = ensure_setup(seller.tenant)
    assert not first.has_webhook and first.webhook_error
    second = ensure_setup(seller.tenant)
    assert second.has_webhook and second.webhook_error == ""
    hooks = remote_webhooks(portal_on_sandbox, seller.key)
    assert len(hooks) == 1 and second.reveal_secret() == hooks[0]["secret"]


def test_it_sets_up_each_tenant_whose_key_is_held_once_from_the_poll(
    seller, globex, portal_on_sandbox, settings
):
    settings.PORTAL_BASE_URL = "https://portal.example"
    # globex has no key the portal holds: nothing to set up with.
    assert setup_due() == 1
    assert setup_due() == 0  # set up: not tried again
    hooks = remote_webhooks(portal_on_sandbox, seller.key)
    assert len(hooks) == 1 and Mailbox.objects.get(tenant=seller.tenant).has_webhook
    assert not Mailbox.objects.filter(tenant=globex).exists()

    settings.PORTAL_BASE_URL = "https://moved.example"  # repaired by the next poll
    settings.INVOICES_SETUP_RETRY_SECONDS = 0
    assert setup_due() == 1
    assert remote_webhooks(portal_on_sandbox, seller.key)[0]["url"].startswith(
        "https://moved.example/"
    )


def test_no_get_handler_of_the_invoices_app_writes_to_e_invoice_be(
    client, carol, seller, buyer, portal_on_sandbox
):
    client.force_login(carol)
    client.post("/invoices/new/invoice/", editor_post([line()], action="send", invoice_id="G-1"))
    document = Document.objects.get(invoice_id="G-1")
    before = len(portal_on_sandbox.requests())
    pages = [
        "/invoices/",
        "/invoices/inbox/",
        "/invoices/new/invoice/",
        "/invoices/new/credit-note/",
        f"/invoices/new/invoice/?from={document.pk}",
        "/invoices/peppol-check/?peppol_id=0208:0123456749",
        "/invoices/participants/?q=bakkerij",
        f"/invoices/{document.pk}/",
        f"/invoices/{document.pk}/state/",
        f"/invoices/{document.pk}/ubl/",
        f"/invoices/{document.pk}/send/",
        f"/invoices/{document.pk}/delete/",
    ]
    for url in pages:
        assert client.get(url).status_code < 500, url

    writes = [
        (r["method"], r["path"])
        for r in portal_on_sandbox.requests()[before:]
        if r["method"] not in ("GET", "HEAD", "OPTIONS")
    ]
    assert writes == []


def test_it_polls_documents_in_transit_once_per_interval(
    client, carol, seller, buyer, portal_on_sandbox
):
    client.force_login(carol)
    client.post("/invoices/new/invoice/", editor_post([line()], action="send", invoice_id="INV-P1"))
    document = Document.objects.get(invoice_id="INV-P1")
    portal_on_sandbox.wait_for_state(seller.key, document.remote_id, "SENT")
    assert tasks.poll_documents()["polled"] == 1
    document.refresh_from_db()
    assert document.state == State.SENT
    # Nothing is left in TRANSIT: the next run reads nothing.
    before = len(portal_on_sandbox.requests())
    assert tasks.poll_documents()["polled"] == 0
    assert [
        r for r in portal_on_sandbox.requests()[before:] if "/api/documents/" in r["path"]
    ] == []


def test_it_skips_a_document_another_worker_just_polled(seller, acme):
    document = Document.objects.create(
        tenant=acme,
        invoice_id="INV-Q",
        remote_id="doc_q",
        state=State.TRANSIT,
        last_polled_at=timezone.now(),
        next_poll_at=timezone.now() + timedelta(seconds=50),
    )
    assert outbound.poll_transit() == 0
    document.refresh_from_db()
    assert document.state == State.TRANSIT


def test_it_keeps_polling_other_tenants_when_one_key_is_revoked(
    seller, buyer, globex, acme, portal_on_sandbox
):
    Document.objects.create(tenant=globex, invoice_id="G-1", remote_id="doc_g", state=State.TRANSIT)
    globex.api_keys.update(is_current=False, revoked_at=timezone.now())
    mine = Document.objects.create(
        tenant=acme, invoice_id="A-1", remote_id="doc_missing", state=State.TRANSIT
    )
    tasks.poll_documents()  # neither a revoked key nor an unknown document stops the run
    mine.refresh_from_db()
    assert mine.next_poll_at is not None  # tried, and due again after the interval


def in_transit(tenant, number: str, since: timedelta, **fields) -> Document:
    return Document.objects.create(
        tenant=tenant,
        invoice_id=number,
        remote_id=f"doc_{number}",
        state=State.TRANSIT,
        state_changed_at=timezone.now() - since,
        **fields,
    )


def test_it_checks_a_long_transit_less_and_less_often(acme, monkeypatch, settings):
    # The network retries for up to 24 h: a document in TRANSIT for hours is not read every
    # minute, one that just left is.
    settings.INVOICES_POLL_INTERVAL_SECONDS = 60
    read = []
    monkeypatch.setattr(
        "einvoice.tenant.TenantApi.retrieve_document",
        lambda self, remote_id: read.append(remote_id) or SimpleNamespace(state="TRANSIT"),
    )
    fresh = in_transit(acme, "NEW", timedelta(minutes=2))
    old = in_transit(acme, "OLD", timedelta(hours=5))
    ancient = in_transit(acme, "DAY", timedelta(hours=23))
    assert outbound.poll_transit() == 3
    waits = {
        d.invoice_id: (d.next_poll_at - timezone.now()).total_seconds()
        for d in Document.objects.filter(pk__in=[fresh.pk, old.pk, ancient.pk])
    }
    assert 50 <= waits["NEW"] <= 60
    assert 1700 <= waits["OLD"] <= 1800 and 1700 <= waits["DAY"] <= 1800
    read.clear()
    assert outbound.poll_transit() == 0 and read == []  # none is due again yet


def test_it_reads_at_most_a_batch_per_run_the_most_overdue_first(acme, monkeypatch):
    now = timezone.now()
    for i in range(5):
        in_transit(acme, f"T-{i}", timedelta(hours=1), next_poll_at=now - timedelta(minutes=i))
    read = []
    monkeypatch.setattr("invoices.outbound.refresh", lambda d, source: read.append(d.invoice_id))
    assert outbound.poll_transit(limit=2) == 2
    assert read == ["T-4", "T-3"]


def test_a_429_holds_the_tenants_checks_for_the_time_it_names(acme, globex, monkeypatch):
    for number in ("A-1", "A-2"):
        in_transit(acme, number, timedelta(minutes=5))
    in_transit(globex, "G-1", timedelta(minutes=5))
    read = []

    def refresh(document, source):
        read.append(document.invoice_id)
        if document.tenant_id == acme.pk:
            raise RateLimited("wait", status=429, retry_after=120)

    monkeypatch.setattr("invoices.outbound.refresh", refresh)
    outbound.poll_transit()
    assert read == ["A-1", "G-1"]  # A-2 is not tried after A-1's 429
    for document in Document.objects.filter(tenant=acme):
        assert 110 <= (document.next_poll_at - timezone.now()).total_seconds() <= 120


def test_it_moves_the_webhook_when_the_portal_moves(seller, portal_on_sandbox, settings):
    settings.INVOICES_SETUP_RETRY_SECONDS = 0
    settings.PORTAL_BASE_URL = "http://old.example"
    first = ensure_setup(seller.tenant)
    settings.PORTAL_BASE_URL = "https://portal.example"
    moved = ensure_setup(seller.tenant)
    hooks = remote_webhooks(portal_on_sandbox, seller.key)
    assert [h["url"] for h in hooks] == [
        f"https://portal.example/invoices/webhooks/{first.webhook_token}/"
    ]
    assert moved.webhook_remote_id == hooks[0]["id"] and moved.reveal_secret() == hooks[0]["secret"]
