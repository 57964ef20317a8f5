"""The webhook endpoint: signed, fresh, once; forged or replayed deliveries change nothing."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from invoices.models import Document, Mailbox, State, WebhookEvent

SECRET = "whsec_test_secret_0123456789"  # noqa: S105 - a test value


@pytest.fixture
def mailbox(acme) -> Mailbox:
    box = Mailbox(tenant=acme, webhook_token="tok-acme", webhook_remote_id="wh_1")  # noqa: S106
    box.set_secret(SECRET)
    box.save()
    return box


@pytest.fixture
def in_transit(acme) -> Document:
    return Document.objects.create(
        tenant=acme,
        invoice_id="INV-1",
        remote_id="doc_1",
        state=State.TRANSIT,
        state_changed_at=timezone.now() - timedelta(minutes=1),
    )


def event(type_="document.sent", *, id_="evt_1", at=None, **data):
    at = at or datetime.now(UTC)
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"id": id_, "timestamp": stamp, "type": type_, "data": {"document_id": "doc_1", **data}}


def body_of(evt) -> bytes:
    return json.dumps(evt, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(client, body: bytes, signature: str | None = None, token: str = "tok-acme"):
    return client.post(
        reverse("invoices:webhook", args=[token]),
        data=body,
        content_type="application/json",
        HTTP_X_SIGNATURE=sign(body) if signature is None else signature,
    )


def test_it_applies_a_signed_delivery_once(client, mailbox, in_transit):
    body = body_of(event())
    assert deliver(client, body).status_code == 200
    in_transit.refresh_from_db()
    assert in_transit.state == State.SENT
    # The same delivery again (a replay, or the API's retry): accepted, nothing happens.
    response = deliver(client, body)
    assert response.status_code == 200 and response.json()["status"] == "duplicate ignored"
    assert WebhookEvent.objects.count() == 1
    assert in_transit.events.filter(state=State.SENT).count() == 1


def test_it_records_the_reason_of_a_failed_delivery(client, mailbox, in_transit):
    body = body_of(
        event("document.sent.failed", error="Receiver 0208:1286602456 is not registered")
    )
    assert deliver(client, body).status_code == 200
    in_transit.refresh_from_db()
    assert in_transit.state == State.FAILED
    assert "not registered" in in_transit.failure_reason


@pytest.mark.parametrize(
    ("tamper", "status"),
    [
        ("wrong_secret", 401),
        ("changed_body", 401),
        ("no_signature", 401),
        ("not_hex", 401),
        ("unknown_token", 404),
    ],
)
def test_it_refuses_forged_deliveries_and_changes_nothing(
    client, mailbox, in_transit, tamper, status
):
    body = body_of(event())
    signature, token = sign(body), "tok-acme"
    if tamper == "wrong_secret":
        signature = sign(body, "whsec_guess")
    elif tamper == "changed_body":
        body = body_of(event("document.sent.failed"))
    elif tamper == "no_signature":
        signature = ""
    elif tamper == "not_hex":
        signature = "sha256=zzzz"
    elif tamper == "unknown_token":
        token = "tok-other"  # noqa: S105 - a test value
    assert deliver(client, body, signature, token=token).status_code == status
    in_transit.refresh_from_db()
    assert in_transit.state == State.TRANSIT
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("age", [timedelta(minutes=-10), timedelta(minutes=10)])
def test_it_refuses_a_timestamp_outside_the_tolerance(client, mailbox, in_transit, age):
    body = body_of(event(at=datetime.now(UTC) - age))
    assert deliver(client, body).status_code == 400
    in_transit.refresh_from_db()
    assert in_transit.state == State.TRANSIT and not WebhookEvent.objects.exists()


def test_it_ignores_an_older_event_that_arrives_late(client, mailbox, in_transit):
    now = datetime.now(UTC)
    deliver(client, body_of(event("document.sent", id_="evt_new", at=now)))
    # A failure that happened before (out of order) must not move SENT back.
    response = deliver(
        client,
        body_of(event("document.sent.failed", id_="evt_old", at=now - timedelta(seconds=30))),
    )
    assert response.status_code == 200
    in_transit.refresh_from_db()
    assert in_transit.state == State.SENT


def test_it_acknowledges_unknown_events_and_documents_without_acting(client, mailbox, in_transit):
    assert (
        deliver(client, body_of(event("document.archived", id_="evt_a")))
        .json()["status"]
        .startswith("unknown event")
    )
    assert (
        deliver(client, body_of(event(id_="evt_b", document_id="doc_of_someone_else"))).json()[
            "status"
        ]
        == "unknown document"
    )
    in_transit.refresh_from_db()
    assert in_transit.state == State.TRANSIT


def test_it_never_reaches_another_tenants_document(client, mailbox, globex):
    theirs = Document.objects.create(
        tenant=globex, invoice_id="G-1", remote_id="doc_1", state=State.TRANSIT
    )
    deliver(client, body_of(event()))
    theirs.refresh_from_db()
    assert theirs.state == State.TRANSIT


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"id": 5}',
        b'{"id": "e", "type": "document.sent"}',
        b'{"id":"e","type":"x","timestamp":"yesterday"}',
        "\u00e9".encode("latin-1"),
    ],
)
def test_it_answers_bad_bodies_with_a_4xx_even_when_signed(client, mailbox, body):
    assert 400 <= deliver(client, body).status_code < 500


def test_it_only_accepts_post(client, mailbox):
    assert client.get(reverse("invoices:webhook", args=["tok-acme"])).status_code == 405


def test_it_answers_503_and_records_nothing_when_the_database_is_busy(
    client, mailbox, in_transit, monkeypatch
):
    from django.db import OperationalError

    def busy(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("invoices.states.advance", busy)
    body = body_of(event())
    assert deliver(client, body).status_code == 503
    assert not WebhookEvent.objects.exists()
    monkeypatch.undo()
    # The API's retry of the same event then goes through.
    assert deliver(client, body).status_code == 200
    in_transit.refresh_from_db()
    assert in_transit.state == State.SENT


def test_it_mirrors_a_received_document_once(client, mailbox, monkeypatch):
    from types import SimpleNamespace

    remote = SimpleNamespace(
        id="doc_in", document_type="INVOICE", created_at=timezone.now(), invoice_id="IN-5",
        currency="EUR", purchase_order=None, note=None, payment_term=None, vendor_name="Kust Logistiek NV",
        vendor_tax_id="BE0515848077", vendor_company_id=None, vendor_address=None, vendor_email=None,
        customer_name="acme", customer_tax_id=None, customer_address=None, customer_email=None,
        customer_peppol_id=None, payment_details=None, invoice_date=None, due_date=None, subtotal="10.00",
        total_tax="2.10", invoice_total="12.10", tax_details=[], items=[],
    )  # fmt: skip
    fetched = []
    monkeypatch.setattr(
        "einvoice.tenant.TenantApi.retrieve_document",
        lambda self, rid: fetched.append(rid) or remote,
    )
    deliver(client, body_of(event("document.received", id_="evt_r1", document_id="doc_in")))
    deliver(client, body_of(event("document.received", id_="evt_r2", document_id="doc_in")))
    received = Document.objects.get(remote_id="doc_in")
    assert received.state == State.RECEIVED and received.vendor_name == "Kust Logistiek NV"
    assert str(received.total) == "12.10"
    assert fetched == ["doc_in"]  # the second notice finds it mirrored already


def documented_signature(evt: dict, secret: str = SECRET) -> str:
    """Exactly as e-invoice.be's webhook documentation computes it."""
    payload = json.dumps(evt, sort_keys=True)
    digest = hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def test_it_accepts_a_delivery_signed_as_the_documentation_shows(client, mailbox, in_transit):
    evt = event(note="Café Élysée")  # non-ASCII: \uXXXX in the documented form
    body = json.dumps(evt, sort_keys=True).encode("utf-8")  # the docs: the body is that string
    assert deliver(client, body, documented_signature(evt)).status_code == 200
    in_transit.refresh_from_db()
    assert in_transit.state == State.SENT


def test_it_accepts_the_documented_signature_over_a_body_reserialised_on_the_way(
    client, mailbox, in_transit
):
    # Signed over json.dumps(event, sort_keys=True); the body arrives compact, keys reordered.
    evt = event(id_="evt_re")
    body = json.dumps(dict(reversed(list(evt.items()))), separators=(",", ":")).encode()
    assert deliver(client, body, documented_signature(evt)).status_code == 200
    in_transit.refresh_from_db()
    assert in_transit.state == State.SENT


@pytest.mark.parametrize("wire", ["documented", "compact"])
def test_it_refuses_a_tampered_delivery_whichever_form_was_signed(
    client, mailbox, in_transit, wire
):
    evt = event("document.sent.failed", error="no")
    signature = documented_signature(evt)
    tampered = {**evt, "type": "document.sent"}
    separators = (", ", ": ") if wire == "documented" else (",", ":")
    body = json.dumps(tampered, sort_keys=True, separators=separators).encode()
    response = deliver(client, body, signature)
    assert response.status_code == 401 and response.json()["status"] == "bad signature"
    in_transit.refresh_from_db()
    assert in_transit.state == State.TRANSIT and WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("kind", ["document.receive.failed", "document.received.failed", "x.y"])
def test_it_acknowledges_unknown_event_types_without_changing_anything(
    client, mailbox, in_transit, kind
):
    evt = event(kind, id_=f"evt_{kind}")
    body = json.dumps(evt, sort_keys=True).encode()
    response = deliver(client, body, documented_signature(evt))
    assert (
        response.status_code == 200 and response.json()["status"] == "unknown event type: ignored"
    )
    in_transit.refresh_from_db()
    assert in_transit.state == State.TRANSIT
