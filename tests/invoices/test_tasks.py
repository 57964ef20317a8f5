"""The poll task and the lazy per-tenant setup (webhook registration, seller profile)."""

import pytest
from django.utils import timezone

from invoices import services, tasks
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
    mailbox = services.ensure_setup(seller.tenant)
    services.ensure_setup(seller.tenant)
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
    first = services.ensure_setup(seller.tenant)
    assert not first.has_webhook and first.webhook_error
    second = services.ensure_setup(seller.tenant)
    assert second.has_webhook and second.webhook_error == ""
    hooks = remote_webhooks(portal_on_sandbox, seller.key)
    assert len(hooks) == 1 and second.reveal_secret() == hooks[0]["secret"]


def test_it_postpones_setup_without_a_key_and_the_screens_still_open(
    client, carol, acme, monkeypatch
):
    client.force_login(carol)
    page = client.get("/invoices/").content.decode()
    assert "Ask your reseller to issue a new key" in page
    assert "no API key" in Mailbox.objects.get(tenant=acme).webhook_error
    # Within the retry window, further page loads do not try again.
    tries = []
    monkeypatch.setattr("invoices.tenant_api.TenantApi.list_webhooks", lambda self: tries.append(1))
    client.get("/invoices/")
    client.get("/invoices/new/invoice/")
    assert tries == []


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
    )
    assert services.poll_transit() == 0
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
    assert mine.last_polled_at is not None


def test_it_moves_the_webhook_when_the_portal_moves(seller, portal_on_sandbox, settings):
    settings.INVOICES_SETUP_RETRY_SECONDS = 0
    settings.PORTAL_BASE_URL = "http://old.example"
    first = services.ensure_setup(seller.tenant)
    settings.PORTAL_BASE_URL = "https://portal.example"
    moved = services.ensure_setup(seller.tenant)
    hooks = remote_webhooks(portal_on_sandbox, seller.key)
    assert [h["url"] for h in hooks] == [
        f"https://portal.example/invoices/webhooks/{first.webhook_token}/"
    ]
    assert moved.webhook_remote_id == hooks[0]["id"] and moved.reveal_secret() == hooks[0]["secret"]
