"""Saving, sending, the document list and detail, the inbox, against the sandbox.

Webhooks are not reachable here (no live server): the poll task and the state partial bring
documents from TRANSIT to their final state, as they do when notifications are lost.
"""

import html
import re
import time
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from invoices import inbound, outbound, tasks
from invoices.models import Direction, Document, DocumentType, State
from tests.invoices.conftest import BUYER, NOT_ON_PEPPOL, editor_post, line
from tests.invoices.test_editor import blocks

NEW = reverse("invoices:new_invoice")


@pytest.fixture
def carol_client(client, carol):
    client.force_login(carol)
    return client


def send_invoice(client, number: str, action: str = "send", **changes) -> Document:
    response = client.post(
        NEW,
        editor_post(
            [line(), line("Cake", "1", "20", "21")], action=action, invoice_id=number, **changes
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    return Document.objects.get(invoice_id=number, direction=Direction.OUTBOUND)


def settle(sandbox, key, document: Document) -> Document:
    """Wait for the sandbox's network, then run the poll task as beat would."""
    sandbox.wait_for_state(key, document.remote_id, {"SENT", "FAILED"})
    Document.objects.filter(pk=document.pk).update(last_polled_at=None)
    tasks.poll_documents()
    document.refresh_from_db()
    return document


def test_it_saves_a_draft_then_sends_it_from_its_page(
    carol_client, seller, buyer, portal_on_sandbox
):
    before = len(portal_on_sandbox.requests())
    document = send_invoice(carol_client, "INV-D1", action="save")
    # A draft is kept here; nothing is asked of e-invoice.be before it is sent.
    assert document.state == State.DRAFT and not document.remote_id and document.is_complete
    assert len(portal_on_sandbox.requests()) == before
    page = carol_client.get(reverse("invoices:detail", args=[document.pk])).content.decode()
    assert 'id="send-document"' in page and 'id="delete-document"' in page
    assert 'id="edit-document"' in page

    carol_client.post(reverse("invoices:send", args=[document.pk]))
    document.refresh_from_db()
    assert document.state == State.TRANSIT and document.remote_id
    assert settle(portal_on_sandbox, seller.key, document).state == State.SENT
    # A second click on an old page changes nothing and calls nothing.
    before = len(portal_on_sandbox.requests())
    carol_client.post(reverse("invoices:send", args=[document.pk]))
    assert len(portal_on_sandbox.requests()) == before


def test_it_sends_straight_away_and_the_poll_task_records_delivery(
    carol_client, seller, buyer, portal_on_sandbox
):
    document = send_invoice(carol_client, "INV-S1")
    assert document.state == State.TRANSIT
    document = settle(portal_on_sandbox, seller.key, document)
    assert document.state == State.SENT
    timeline = [e.state for e in document.events.all()]
    assert timeline[-2:] == [State.TRANSIT, State.SENT]
    listing = carol_client.get(reverse("invoices:documents")).content.decode()
    assert 'data-document="INV-S1"' in listing and 'data-state="SENT"' in listing


def test_it_says_why_a_send_to_a_buyer_not_on_peppol_failed_and_resends(
    carol_client, seller, portal_on_sandbox
):
    document = send_invoice(
        carol_client,
        "INV-F1",
        customer_name=NOT_ON_PEPPOL["company_name"],
        customer_tax_id=NOT_ON_PEPPOL["company_tax_id"],
    )
    document = settle(portal_on_sandbox, seller.key, document)
    assert document.state == State.FAILED
    assert "0208:1286602456 is not registered on the Peppol network" in document.failure_reason
    page = carol_client.get(reverse("invoices:detail", args=[document.pk])).content.decode()
    assert "Delivery failed:" in page and "not registered on the Peppol network" in page
    assert 'id="resend-document"' in page and 'id="delete-document"' not in page

    # The buyer joins Peppol. "Send again" makes a new document with the same number and
    # content and sends that; the failed one is never sent again (the API says 405 for it).
    remote, _key = portal_on_sandbox.create_tenant_with_key(
        "atelier", company_number="1286602456", peppol_ids=["0208:1286602456"]
    )
    portal_on_sandbox.register(remote["id"], "0208:1286602456")
    before = len(portal_on_sandbox.requests())
    response = carol_client.post(reverse("invoices:send", args=[document.pk]))
    new = Document.objects.get(replaces=document)
    assert response["Location"] == reverse("invoices:detail", args=[new.pk])
    calls = [(r["method"], r["path"]) for r in portal_on_sandbox.requests()[before:]]
    assert ("POST", f"/api/documents/{document.remote_id}/send") not in calls
    assert ("POST", f"/api/documents/{new.remote_id}/send") in calls
    assert (new.invoice_id, new.total, new.lines.count()) == ("INV-F1", document.total, 2)
    assert new.remote_id not in ("", document.remote_id)
    assert settle(portal_on_sandbox, seller.key, new).state == State.SENT
    document.refresh_from_db()
    assert document.state == State.FAILED

    # Each page and each timeline links to the other; the failed one offers no second resend.
    old_page = carol_client.get(reverse("invoices:detail", args=[document.pk])).content.decode()
    new_page = carol_client.get(reverse("invoices:detail", args=[new.pk])).content.decode()
    new_url, old_url = (reverse("invoices:detail", args=[d.pk]) for d in (new, document))
    assert f'href="{new_url}" id="replacement-link"' in old_page
    assert f'href="{old_url}" id="replaces-link"' in new_page
    assert "Sent again as a new document." in old_page and 'id="resend-document"' not in old_page
    assert "Sends again a document whose delivery failed." in new_page
    assert [e.link for e in document.events.exclude(link=None)] == [new]
    assert [e.link for e in new.events.exclude(link=None)] == [document]
    carol_client.post(reverse("invoices:send", args=[document.pk]))
    assert Document.objects.filter(invoice_id="INV-F1").count() == 2


def test_it_deletes_a_draft_here_and_at_the_api(carol_client, seller, portal_on_sandbox):
    document = send_invoice(carol_client, "INV-X1", action="save")
    outbound.ensure_remote(document)  # e.g. a send that e-invoice.be refused at the send step
    assert document.remote_id
    response = carol_client.post(reverse("invoices:delete", args=[document.pk]))
    assert response.status_code == 302
    assert not Document.objects.filter(pk=document.pk).exists()
    with portal_on_sandbox.tenant_client(seller.key) as api:
        assert api.get(f"/api/documents/{document.remote_id}").status_code == 404


def test_it_downloads_the_ubl(carol_client, seller, buyer):
    document = send_invoice(carol_client, "INV-U1")
    response = carol_client.get(reverse("invoices:ubl", args=[document.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="INV-U1.xml"'
    assert b"<cbc:ID>INV-U1</cbc:ID>" in response.content


def test_it_keeps_a_credit_note_a_credit_note_with_positive_amounts(
    carol_client, seller, buyer, portal_on_sandbox
):
    invoice = settle(portal_on_sandbox, seller.key, send_invoice(carol_client, "INV-C1"))
    body = editor_post(
        [line("Returned bread", "2", "4.50", "6")],
        action="send",
        invoice_id="CN-C1",
        corrects=str(invoice.pk),
    )
    response = carol_client.post(reverse("invoices:new_credit_note"), body)
    assert response.status_code == 302, response.content.decode()[:2000]
    credit = Document.objects.get(invoice_id="CN-C1")
    assert credit.document_type == DocumentType.CREDIT_NOTE and credit.corrects == invoice
    assert credit.total == credit.subtotal + credit.total_tax > 0
    with portal_on_sandbox.tenant_client(seller.key) as api:
        remote = api.get(f"/api/documents/{credit.remote_id}").json()
    assert remote["document_type"] == "CREDIT_NOTE" and remote["invoice_total"] == "9.54"


def test_it_offers_only_sent_invoices_of_the_tenant_to_correct(carol_client, acme, globex):
    mine = Document.objects.create(
        tenant=acme, invoice_id="INV-1", state=State.SENT, remote_id="d1"
    )
    Document.objects.create(tenant=acme, invoice_id="DRAFT-2", state=State.DRAFT, remote_id="d2")
    other = Document.objects.create(
        tenant=globex, invoice_id="GLOBEX-9", state=State.SENT, remote_id="d9"
    )
    page = carol_client.get(reverse("invoices:new_credit_note")).content.decode()
    assert f'<option value="{mine.pk}">INV-1' in page
    assert "DRAFT-2" not in page and "GLOBEX-9" not in page
    body = editor_post([line()], action="validate", invoice_id="CN-1", corrects=str(other.pk))
    response = carol_client.post(reverse("invoices:new_credit_note"), body)
    assert "Choose one of your sent invoices from the list." in response.content.decode()


def test_it_filters_searches_and_pages_the_list(carol_client, acme):
    today = date.today()
    for i in range(30):
        Document.objects.create(
            tenant=acme,
            invoice_id=f"INV-{i:03}",
            remote_id=f"doc{i}",
            customer_name="Dijle Software BV" if i % 2 else "Kust Logistiek NV",
            state=State.SENT if i % 3 else State.FAILED,
            invoice_date=today - timedelta(days=i),
        )
    url = reverse("invoices:documents")
    first = carol_client.get(url).content.decode()
    assert first.count("data-document=") == 25 and 'rel="next"' in first
    next_url = html.unescape(re.search(r'<a href="([^"]*)" rel="next"', first)[1])
    second = carol_client.get(url + next_url).content.decode()
    assert second.count("data-document=") == 5 and 'rel="next"' not in second
    assert "INV-000" in second and "INV-000" not in first  # oldest last, none twice
    # The last page is the oldest 25; before it come the 5 newest, and that is the start.
    last = carol_client.get(url, {"page": "last"}).content.decode()
    assert last.count("data-document=") == 25 and "INV-000" in last and 'rel="next"' not in last
    previous_url = html.unescape(re.search(r'<a href="([^"]*)" rel="prev"', last)[1])
    newest = carol_client.get(url + previous_url).content.decode()
    assert newest.count("data-document=") == 5 and 'rel="prev"' not in newest

    failed = carol_client.get(url, {"state": "FAILED"}).content.decode()
    assert failed.count("data-document=") == 10 and 'data-state="SENT"' not in failed
    kust = carol_client.get(url, {"party": "kust"}).content.decode()
    assert kust.count("data-document=") == 15
    recent = carol_client.get(
        url, {"date_from": (today - timedelta(days=4)).isoformat(), "date_to": today.isoformat()}
    )
    assert recent.content.decode().count("data-document=") == 5
    search = carol_client.get(
        url, {"q": "INV-007"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    )
    assert (
        search.content.decode().count("data-document=") == 1
        and "<html" not in search.content.decode()
    )
    junk = carol_client.get(url, {"date_from": "2025-13-45", "page": "x", "state": "NOPE"})
    assert junk.status_code == 200


def test_it_pulls_the_inbox_when_stale(client, bob, seller, buyer, portal_on_sandbox):
    with portal_on_sandbox.tenant_client(seller.key) as api:
        payload = {
            "document_type": "INVOICE",
            "invoice_id": "IN-77",
            "invoice_date": date.today().isoformat(),
            "vendor_name": "Bakkerij Van Damme BV",
            "vendor_tax_id": "BE0706165839",
            "customer_name": BUYER["company_name"],
            "customer_tax_id": BUYER["company_tax_id"],
            "payment_term": "Net 30",
            "items": [
                {"description": "Bread", "quantity": "3", "unit_price": "2.00", "tax_rate": "6.00"}
            ],
        }
        created = api.post("/api/documents/", json=payload).json()
        api.post(f"/api/documents/{created['id']}/send")
    portal_on_sandbox.wait_for_state(seller.key, created["id"], "SENT")
    client.force_login(bob)
    page = client.get(reverse("invoices:inbox")).content.decode()
    assert 'data-document="IN-77"' in page and 'data-state="RECEIVED"' in page
    received = Document.objects.get(tenant=buyer.tenant, invoice_id="IN-77")
    assert (
        received.direction == Direction.INBOUND and received.vendor_name == "Bakkerij Van Damme BV"
    )
    assert received.total == inbound._dec("6.36") and received.lines.count() == 1
    detail = client.get(reverse("invoices:detail", args=[received.pk])).content.decode()
    assert "Bread" in detail and 'id="send-document"' not in detail
    # A second page load within the staleness window does not call the API again.
    before = len(portal_on_sandbox.requests())
    client.get(reverse("invoices:inbox"))
    assert [
        r for r in portal_on_sandbox.requests()[before:] if r["path"].startswith("/api/inbox")
    ] == []


def remote_documents(sandbox, key: str, number: str) -> set[str]:
    """The ids of the documents with this number at the API: drafts and outbox together (a
    document may move from one to the other while it is listed)."""
    with sandbox.tenant_client(key) as api:
        return {
            d["id"]
            for listing in ("/api/drafts/", "/api/outbox/")
            for d in api.get(listing, params={"search": number}).json()["items"]
        }


def creates(sandbox, since: int) -> int:
    return sum(
        1
        for r in sandbox.requests()[since:]
        if (r["method"], r["path"]) == ("POST", "/api/documents/")
    )


def test_it_adopts_the_document_of_a_lost_create_answer_instead_of_making_two(
    carol_client, seller, buyer, portal_on_sandbox
):
    # The create is done at the API but its answer never arrives: the portal neither retries
    # the POST nor gives up, it finds the draft by its number and sends that one.
    portal_on_sandbox.set_faults(
        rules=[
            {"method": "POST", "path": "/api/documents/", "action": "drop_after_write", "times": 1}
        ]
    )
    before = len(portal_on_sandbox.requests())
    response = carol_client.post(NEW, editor_post([line()], action="send", invoice_id="INV-L1"))
    document = Document.objects.get(invoice_id="INV-L1")
    assert response.status_code == 302 and response["Location"].endswith(f"/{document.pk}/")
    assert document.remote_id and document.state == State.TRANSIT
    assert creates(portal_on_sandbox, before) == 1
    assert remote_documents(portal_on_sandbox, seller.key, "INV-L1") == {document.remote_id}
    assert settle(portal_on_sandbox, seller.key, document).state == State.SENT


def test_it_adopts_a_lost_create_later_when_the_lookup_fails_too(
    carol_client, seller, buyer, portal_on_sandbox
):
    portal_on_sandbox.set_faults(
        rules=[
            {"method": "POST", "path": "/api/documents/", "action": "drop_after_write", "times": 1},
            {"method": "GET", "path": "/api/drafts/", "status": 503, "times": 1},
        ]
    )
    before = len(portal_on_sandbox.requests())
    body = editor_post([line()], action="send", invoice_id="INV-L2")
    response = carol_client.post(NEW, body)
    document = Document.objects.get(invoice_id="INV-L2")
    assert response.status_code == 302 and response["Location"].endswith(f"/{document.pk}/")
    assert document.remote_id == "" and document.state == State.DRAFT
    page = carol_client.get(response["Location"]).content.decode()
    assert "cannot be reached right now" in page and 'id="send-document"' in page

    carol_client.post(reverse("invoices:send", args=[document.pk]))
    document.refresh_from_db()
    assert document.remote_id and document.state == State.TRANSIT
    assert creates(portal_on_sandbox, before) == 1  # adopted by number, not created again
    assert remote_documents(portal_on_sandbox, seller.key, "INV-L2") == {document.remote_id}


def test_it_sends_discounts_and_surcharges_with_totals_the_api_agrees_with(
    carol_client, seller, buyer, portal_on_sandbox
):
    adjustments = [
        {"kind": "allowance", "reason": "Loyal customer", "amount": "4.55", "tax_rate": "6"},
        {"kind": "charge", "reason": "Delivery", "amount": "7.50", "tax_rate": "21"},
    ]
    lines = [line("Bread", "10", "4.55", "6"), line("Cake", "3", "12.35", "21")]
    body = editor_post(lines, adjustments, action="validate", invoice_id="INV-AC1")
    assert 'id="validated"' in carol_client.post(NEW, body).content.decode()
    carol_client.post(NEW, {**body, "action": "send"})
    document = Document.objects.get(invoice_id="INV-AC1")
    # 45.50 − 4.55 = 40.95 at 6% → 2.46; 37.05 + 7.50 = 44.55 at 21% → 9.36
    assert (str(document.subtotal), str(document.total_tax), str(document.total)) == (
        "85.50",
        "11.82",
        "97.32",
    )
    with portal_on_sandbox.tenant_client(seller.key) as api:
        remote = api.get(f"/api/documents/{document.remote_id}").json()
    assert (remote["subtotal"], remote["total_tax"], remote["invoice_total"]) == (
        "85.50",
        "11.82",
        "97.32",
    )
    assert [a["reason"] for a in remote["allowances"]] == ["Loyal customer"]
    assert [c["reason"] for c in remote["charges"]] == ["Delivery"]


def test_the_buyer_sees_the_discounts_so_the_lines_add_up_to_the_total(
    client, carol, bob, seller, buyer, portal_on_sandbox
):
    adjustments = [
        {"kind": "allowance", "reason": "Loyal customer", "amount": "50", "tax_rate": "21"},
        {"kind": "charge", "reason": "Delivery", "amount": "7.50", "tax_rate": "21"},
    ]
    lines = [line("Consultancy", "8", "95", "21", unit="HUR"), line("Licence", "1", "1250,5", "6")]
    client.force_login(carol)
    client.post(NEW, editor_post(lines, adjustments, action="send", invoice_id="INV-DS1"))
    sent = Document.objects.get(invoice_id="INV-DS1", direction=Direction.OUTBOUND)
    mine = text_of(client.get(reverse("invoices:detail", args=[sent.pk])))
    # Prices with their cents, units in words, the IBAN as on a bank statement.
    assert "Licence 1 piece (C62) 1,250.50 6 1,250.50" in mine
    assert "Consultancy 8 hour (HUR) 95.00 21 760.00" in mine
    assert "BE68 5390 0754 7034" in mine
    assert "Lines 2,010.50 Discounts −50.00 Surcharges 7.50 Total without VAT 1,968.00" in mine

    portal_on_sandbox.wait_for_state(seller.key, sent.remote_id, "SENT")
    client.force_login(bob)
    client.get(reverse("invoices:inbox"), {"refresh": "1"})
    received = Document.objects.get(tenant=buyer.tenant, invoice_id="INV-DS1")
    theirs = text_of(client.get(reverse("invoices:detail", args=[received.pk])))
    assert "Allowance (discount) Loyal customer 21 −50.00" in theirs
    assert "Charge (surcharge) Delivery 21 7.50" in theirs
    assert "Lines 2,010.50 Discounts −50.00 Surcharges 7.50 Total without VAT 1,968.00" in theirs


def text_of(response) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_a_revoked_key_disables_sending_and_says_so_once(carol_client, acme):
    draft = Document.objects.create(tenant=acme, invoice_id="INV-K1", remote_id="doc_k1")
    url = reverse("invoices:detail", args=[draft.pk])
    page = carol_client.get(url).content.decode()
    assert page.count("Ask your reseller to issue a new key") == 1
    assert 'id="send-document" disabled' in page and 'id="download-ubl"' not in page
    # A click from a page opened before the revocation: the banner, not the message twice.
    page = carol_client.post(reverse("invoices:send", args=[draft.pk]), follow=True)
    assert page.content.decode().count("Ask your reseller to issue a new key") == 1
    draft.refresh_from_db()
    assert draft.state == State.DRAFT


def test_the_inbox_has_no_state_filter_of_one_value(carol_client, acme, monkeypatch):
    monkeypatch.setattr("invoices.inbound.sync_inbox", lambda tenant, force=False: 0)
    assert 'name="state"' in carol_client.get(reverse("invoices:documents")).content.decode()
    assert 'name="state"' not in carol_client.get(reverse("invoices:inbox")).content.decode()


def use_up_the_tenant_quota(sandbox, key: str) -> float | None:
    """Call the tenant API until it answers 429; its Retry-After (None when not sent)."""
    with sandbox.tenant_client(key) as api:
        for _ in range(50):
            answer = api.get("/api/me/")
            if answer.status_code == 429:
                wait = answer.headers.get("retry-after")
                return float(wait) if wait else None
    raise AssertionError("the tenant API never answered 429")


@pytest.mark.parametrize("retry_after", ["always", "never"])
def test_a_429_from_the_tenant_api_says_how_long_to_wait_and_the_action_works_later(
    carol_client, seller, buyer, portal_on_sandbox, retry_after
):
    # The tenant API's quotas are not published: the sandbox limits them behind a setting,
    # here 3 calls per "minute" of 2 real seconds.
    portal_on_sandbox.configure(time_scale=30)
    portal_on_sandbox.set_behaviour(tenant_rate_per_minute=3, retry_after=retry_after)
    window = 2.0
    body = editor_post([line()], action="validate", invoice_id="INV-R1")

    # Checking it: refused, the page says when to retry.
    wait = use_up_the_tenant_quota(portal_on_sandbox, seller.key)
    page = carol_client.post(NEW, body).content.decode()
    expected = f"please wait {int(wait)} second" if wait else "please wait a minute"
    assert "too many requests" in page and expected in page and "Nothing was done" in page
    assert not Document.objects.filter(invoice_id="INV-R1").exists()
    time.sleep(wait or window)
    # Saving it needs no call.
    assert carol_client.post(NEW, {**body, "action": "save"}).status_code == 302
    draft = Document.objects.get(invoice_id="INV-R1")

    # Sending it: the same; nothing is created there while refused.
    wait = use_up_the_tenant_quota(portal_on_sandbox, seller.key)
    page = carol_client.post(reverse("invoices:send", args=[draft.pk]), follow=True)
    assert "too many requests" in page.content.decode()
    draft.refresh_from_db()
    assert draft.state == State.DRAFT
    assert remote_documents_when_allowed(portal_on_sandbox, seller.key, "INV-R1", window) == set()
    time.sleep(wait or window)
    page = carol_client.post(reverse("invoices:send", args=[draft.pk]), follow=True)
    assert "is on its way" in page.content.decode()
    draft.refresh_from_db()
    assert draft.state == State.TRANSIT


def remote_documents_when_allowed(sandbox, key: str, number: str, window: float) -> set[str]:
    time.sleep(window)  # the listing itself counts against the quota
    return remote_documents(sandbox, key, number)


def test_a_long_transit_is_shown_honestly_with_the_networks_next_attempt(
    carol_client, seller, portal_on_sandbox
):
    # As the real service: delivery to a buyer not on Peppol (yet) is retried with backoff.
    portal_on_sandbox.configure(delivery_attempts=8, delivery_backoff=600)
    document = send_invoice(
        carol_client,
        "INV-T1",
        customer_name=NOT_ON_PEPPOL["company_name"],
        customer_tax_id=NOT_ON_PEPPOL["company_tax_id"],
    )
    with portal_on_sandbox.tenant_client(seller.key) as api:
        timeline = f"/api/documents/{document.remote_id}/timeline"
        for _ in range(100):
            if any(e["details"].get("error") for e in api.get(timeline).json()["events"]):
                break
            time.sleep(0.05)
    Document.objects.filter(pk=document.pk).update(
        state_changed_at=timezone.now() - timedelta(hours=3)
    )
    page = text_of(carol_client.get(reverse("invoices:detail", args=[document.pk])))
    assert "In transit since" in page and "(3 hours)" in page
    assert "retries delivery for up to 24 hours" in page
    assert "Next attempt (2 of 8):" in page
    assert "Last attempt: Receiver 0208:1286602456 is not registered on the Peppol network." in page
    listing = text_of(carol_client.get(reverse("invoices:documents")))
    assert "In transit for 3 hours" in listing

    # The poller reads it and leaves it be for a while (a tenth of its time in transit).
    Document.objects.filter(pk=document.pk).update(next_poll_at=None)
    assert tasks.poll_documents()["polled"] == 1
    document.refresh_from_db()
    assert document.state == State.TRANSIT
    assert 1000 < (document.next_poll_at - timezone.now()).total_seconds() < 1100
    assert tasks.poll_documents()["polled"] == 0


def test_the_detail_page_reads_the_timeline_once_until_a_poll_or_webhook_moves_it(
    carol_client, seller, buyer, portal_on_sandbox
):
    document = send_invoice(carol_client, "INV-TL1")
    detail = reverse("invoices:detail", args=[document.pk])

    def timeline_reads() -> int:
        path = f"/api/documents/{document.remote_id}/timeline"
        return sum(r["path"] == path for r in portal_on_sandbox.requests())

    for _ in range(3):
        assert "At e-invoice.be" in text_of(carol_client.get(detail))
    assert timeline_reads() == 1

    # The poller checks it (as a webhook would change it): the next view reads it again, once.
    Document.objects.filter(pk=document.pk).update(next_poll_at=None, last_polled_at=None)
    tasks.poll_documents()
    carol_client.get(detail)
    carol_client.get(detail)
    assert timeline_reads() == 2


def test_a_refused_create_shows_the_apis_words_and_each_issue_at_its_input(
    carol_client, seller, portal_on_sandbox
):
    # The 406 body is {"detail"} only (the OpenAPI file): the issues come from validate/json.
    body = editor_post(
        [line()],
        action="send",
        invoice_id="INV-406",
        payment_term="",
        payment_reference="+++010/8068/17184+++",
    )
    before = len(portal_on_sandbox.requests())
    shown = blocks(carol_client.post(NEW, body))
    assert (
        "kept here as a draft and was not sent: Document is not valid according to Peppol BIS"
        in (shown["api-error"])
    )
    assert "give a due date" in shown["field-due_date"]
    assert "check digits" in shown["field-payment_reference"]
    calls = [(r["method"], r["path"], r["status"]) for r in portal_on_sandbox.requests()[before:]]
    assert calls == [("POST", "/api/documents/", 406), ("POST", "/api/validate/json", 201)]
    # The draft is kept (one, without a remote twin); the page now edits that draft.
    draft = Document.objects.get(invoice_id="INV-406")
    assert draft.state == State.DRAFT and not draft.remote_id
    page = carol_client.post(NEW, body).content.decode()
    assert "already have a document with number INV-406" in page
    edit = reverse("invoices:edit", args=[draft.pk])
    assert f'action="{edit}"' in carol_client.get(edit).content.decode()

    # Its page says why it was not sent, and its timeline begins when it was kept.
    detail = reverse("invoices:detail", args=[draft.pk])
    page = text_of(carol_client.get(detail))
    assert "Document is not valid according to Peppol BIS" in page.split("Timeline")[0]
    timeline = page.split("Timeline")[1]
    assert timeline.index("Draft saved.") < timeline.index("Document is not valid")

    # Corrected, kept, then sent: the refusal is history, not the page's warning any more.
    fixed = {**body, "payment_term": "Net 30 days", "payment_reference": ""}
    assert carol_client.post(edit, {**fixed, "action": "save"}).status_code == 302
    assert "Document is not valid" not in text_of(carol_client.get(detail)).split("Timeline")[0]
    assert carol_client.post(edit, fixed).status_code == 302
    draft.refresh_from_db()
    assert draft.state == State.TRANSIT and not draft.last_error
    page = text_of(carol_client.get(detail))
    assert "Document is not valid" not in page.split("Timeline")[0]
    timeline = page.split("Timeline")[1]
    shown = [
        timeline.index(text)
        for text in (
            "Draft saved.",
            "Document is not valid",
            "Draft edited.",
            "Created at e-invoice.be as a draft.",
            "Sent via Peppol.",
        )
    ]
    assert shown == sorted(shown)
