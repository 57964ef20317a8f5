"""Property-based: whatever is posted to the editor, the totals partial or the webhook, the
portal answers without a 500, and a forged or replayed webhook changes nothing."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from einvoice.errors import Rejected, Unavailable
from einvoice.tenant import ValidationResult
from invoices.issues import place
from invoices.models import Document, Mailbox, State, WebhookEvent

SECRET = "whsec_property_secret"  # noqa: S105 - a test value
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HEADER_FIELDS = [
    "invoice_id", "invoice_date", "due_date", "currency", "purchase_order", "corrects", "vendor_name",
    "vendor_tax_id", "vendor_company_id", "vendor_address", "vendor_email", "customer_name",
    "customer_tax_id", "customer_address", "customer_email", "customer_peppol_id", "payment_term",
    "iban", "bic", "payment_reference", "note", "participant_query", "use_participant",
]  # fmt: skip
ROW_FIELDS = [
    "description",
    "quantity",
    "unit",
    "unit_price",
    "tax_rate",
    "kind",
    "reason",
    "amount",
]
ACTIONS = [
    "validate", "save", "send", "add_line", "remove_line-0", "remove_line-99999", "add_adjustment",
    "remove_adjustment-1", "recalculate", "peppol_check", "search_participants", "", "bogus",
]  # fmt: skip

text = st.text(max_size=40)
numberish = st.one_of(
    text,
    st.sampled_from(
        ["1", "0", "-1", "1e9999", "NaN", "Infinity", "1,5", "0.00001", "99999999999999999999"]
    ),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
counts = st.one_of(st.integers(-5, 2000).map(str), text)
issue = st.fixed_dictionaries(
    {
        "message": text,
        "type": st.sampled_from(["error", "warning", "other"]),
        "location": st.one_of(
            st.none(),
            text,
            st.from_regex(r"items\[\d{1,3}\]\.[a-z_]{1,12}", fullmatch=True),
            st.from_regex(
                r"/(Invoice|CreditNote)(/cac:[A-Za-z]{1,15}(\[\d{1,3}\])?){0,4}", fullmatch=True
            ),
        ),
        "rule_id": st.one_of(
            st.none(), text, st.sampled_from(["BR-CO-10", "BR-26", "BR-55", "BR-S-08"])
        ),
    }
)


@st.composite
def editor_bodies(draw):
    body = {
        name: draw(st.one_of(text, numberish))
        for name in draw(st.lists(st.sampled_from(HEADER_FIELDS), unique=True))
    }
    body["action"] = draw(st.sampled_from(ACTIONS))
    for prefix in ("lines", "adjustments"):
        if draw(st.booleans()):
            body[f"{prefix}-TOTAL_FORMS"] = draw(counts)
            body[f"{prefix}-INITIAL_FORMS"] = draw(counts)
        for i in range(draw(st.integers(0, 4))):
            for field in draw(st.lists(st.sampled_from(ROW_FIELDS), unique=True)):
                body[f"{prefix}-{i}-{field}"] = draw(numberish)
    return body


@pytest.fixture
def fake_api(monkeypatch):
    """An API that answers validation with arbitrary issues and refuses creates."""
    state = {"issues": []}
    monkeypatch.setattr(
        "einvoice.tenant.TenantApi.validate_json",
        lambda self, payload: ValidationResult(
            is_valid=not state["issues"], issues=state["issues"]
        ),
    )

    def refuse(self, payload):
        raise Rejected("refused", status=406, issues=state["issues"])

    def unavailable(self, *args, **kwargs):
        raise Unavailable("down")

    monkeypatch.setattr("einvoice.tenant.TenantApi.create_document", refuse)
    monkeypatch.setattr("einvoice.tenant.TenantApi.check_peppol_id", unavailable)
    monkeypatch.setattr("einvoice.tenant.TenantApi.search_participants", unavailable)
    monkeypatch.setattr("invoices.mailbox.ensure_setup", lambda tenant: None)
    return state


@PROPERTY
@given(body=editor_bodies(), issues=st.lists(issue, max_size=6), credit_note=st.booleans())
def test_the_editor_never_answers_500_and_keeps_the_number_typed(
    client, carol, fake_api, body, issues, credit_note
):
    fake_api["issues"] = issues
    client.force_login(carol)
    url = reverse("invoices:new_credit_note" if credit_note else "invoices:new_invoice")
    response = client.post(url, body)
    assert response.status_code in (200, 302)
    assert not Document.objects.exists()  # every create was refused: nothing half-stored


@PROPERTY
@given(body=editor_bodies())
def test_the_totals_partial_never_answers_500(client, carol, body):
    client.force_login(carol)
    assert client.post(reverse("invoices:totals"), body, HTTP_HX_REQUEST="true").status_code == 200


@PROPERTY
@given(issues=st.lists(issue, max_size=10), lines=st.integers(0, 5), adjustments=st.integers(0, 3))
def test_issue_placement_keeps_every_issue_somewhere(issues, lines, adjustments):
    placed = place(
        issues,
        line_count=lines,
        adjustment_count=adjustments,
        adjustment_index={("allowances", 0): 0},
    )
    assert placed.count == len(issues)


# --- Webhooks ---------------------------------------------------------------------------------------
@pytest.fixture
def mailbox(acme) -> Mailbox:
    box = Mailbox(tenant=acme, webhook_token="tok-prop", webhook_remote_id="wh")  # noqa: S106
    box.set_secret(SECRET)
    box.save()
    return box


@pytest.fixture
def in_transit(acme) -> Document:
    return Document.objects.create(
        tenant=acme, invoice_id="INV-P", remote_id="doc_p", state=State.TRANSIT,
        state_changed_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=10,
)
events = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(text, st.integers(), st.just("evt_fixed")),
        "timestamp": st.one_of(
            text,
            st.integers(),
            st.datetimes(timezones=st.just(UTC)).map(
                lambda d: d.isoformat().replace("+00:00", "Z")
            ),
            st.just("now"),
        ),
        "type": st.one_of(
            text, st.sampled_from(["document.sent", "document.sent.failed", "document.received"])
        ),
        "data": st.one_of(
            json_values, st.fixed_dictionaries({"document_id": st.one_of(text, st.just("doc_p"))})
        ),
    },
)


def serialize(event) -> bytes:
    if event.get("timestamp") == "now":
        event = {**event, "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
    return json.dumps(event, sort_keys=True, separators=(",", ":")).encode()


def signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


@PROPERTY
@given(
    raw=st.one_of(st.binary(max_size=300), events.map(serialize)),
    header=st.one_of(text, st.just("sha256=" + "0" * 64)),
)
def test_a_forged_webhook_never_answers_500_and_changes_nothing(
    client, mailbox, in_transit, raw, header
):
    response = client.post(
        reverse("invoices:webhook", args=["tok-prop"]),
        data=raw,
        content_type="application/json",
        HTTP_X_SIGNATURE=header,
    )
    assert response.status_code in (401, 404)
    in_transit.refresh_from_db()
    assert in_transit.state == State.TRANSIT
    assert not WebhookEvent.objects.exists()


@PROPERTY
@given(event=events, raw=st.binary(max_size=200), use_raw=st.booleans())
def test_a_signed_webhook_of_any_shape_never_answers_500_and_a_replay_changes_nothing(
    client, mailbox, in_transit, monkeypatch, event, raw, use_raw
):
    monkeypatch.setattr("invoices.inbound.fetch_received", lambda tenant, remote_id: None)
    monkeypatch.setattr("invoices.outbound.failure_reason", lambda api, remote_id: "")
    body = raw if use_raw else serialize(event)
    url = reverse("invoices:webhook", args=["tok-prop"])
    first = client.post(
        url, data=body, content_type="application/json", HTTP_X_SIGNATURE=signature(body)
    )
    assert first.status_code in (200, 400, 413)
    in_transit.refresh_from_db()
    state, events_count = in_transit.state, in_transit.events.count()
    second = client.post(
        url, data=body, content_type="application/json", HTTP_X_SIGNATURE=signature(body)
    )
    assert second.status_code in (200, 400, 413)
    in_transit.refresh_from_db()
    assert (in_transit.state, in_transit.events.count()) == (state, events_count)
