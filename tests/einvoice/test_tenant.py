"""The tenant API client: current key per call, one retry on 401, typed readable errors.

The SDK runs for real; only its HTTP transport is replaced (httpx.MockTransport).
"""

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from unittest import mock

import httpx
import pytest
from django.utils import timezone, translation

from einvoice.errors import (
    ApiError,
    Invalid,
    KeyUnavailable,
    NotFound,
    RateLimited,
    Rejected,
    Unavailable,
)
from einvoice.tenant import TenantApi
from tenants.models import ApiKey

OLD = "einv_tenant_old_key_value_1234"
NEW = "einv_tenant_new_key_value_5678"

DOC = {"id": "doc_1", "created_at": "2025-01-01T10:00:00Z", "state": "DRAFT", "invoice_id": "INV-1"}


def held_key(tenant, value, *, current=True, remote_id=None) -> ApiKey:
    key = ApiKey(
        tenant=tenant, remote_id=remote_id or f"key-{value[-4:]}", name="k", is_current=current
    )
    key.set_value(value)
    key.save()
    return key


class Recorder:
    """An API stand-in: answers with `responder(request)` and keeps every request."""

    def __init__(self, responder):
        self.responder = responder
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responder(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def bearers(self) -> list[str]:
        return [r.headers.get("authorization", "").removeprefix("Bearer ") for r in self.requests]


@pytest.fixture
def api_for(acme):
    def make(responder) -> tuple[TenantApi, Recorder]:
        recorder = Recorder(responder)
        return TenantApi(acme, http_client=recorder.client()), recorder

    return make


def test_it_calls_with_the_tenants_current_key(acme, api_for, settings):
    held_key(acme, NEW)
    api, rec = api_for(lambda r: httpx.Response(200, json=DOC))
    assert api.retrieve_document("doc_1").invoice_id == "INV-1"
    assert rec.bearers() == [NEW]
    assert str(rec.requests[0].url).startswith(settings.EINVOICE_API_BASE_URL)


def test_it_builds_one_sdk_client_per_request_and_decrypts_the_key_once(acme, api_for):
    held_key(acme, NEW)
    api, rec = api_for(lambda r: httpx.Response(200, json=DOC))
    with mock.patch.object(ApiKey, "reveal_value", autospec=True, return_value=NEW) as reveal:
        api.retrieve_document("doc_1")
        # The views make a TenantApi per step; all of one request's share its client.
        TenantApi(acme, http_client=api._http).retrieve_document("doc_1")
    assert reveal.call_count == 1 and rec.bearers() == [NEW, NEW]


def test_it_rereads_the_current_key_and_retries_once_when_the_api_answers_401(acme, api_for):
    old = held_key(acme, OLD)

    def rotate_then_answer(request):
        if request.headers["authorization"] == f"Bearer {OLD}":
            # The rotation switched keys (in one transaction) while this call was in flight.
            ApiKey.objects.filter(pk=old.pk).update(is_current=False, revoked_at=timezone.now())
            held_key(acme, NEW, remote_id="key-new")
            return httpx.Response(401, json={"detail": "Invalid authentication credentials"})
        return httpx.Response(200, json=DOC)

    api, rec = api_for(rotate_then_answer)
    assert api.retrieve_document("doc_1").id == "doc_1"
    assert rec.bearers() == [OLD, NEW]


def test_it_says_what_to_do_when_the_key_is_refused_twice_and_never_shows_it(acme, api_for):
    held_key(acme, OLD)
    api, rec = api_for(lambda r: httpx.Response(401, json={"detail": f"bad key {OLD}"}))
    with pytest.raises(KeyUnavailable) as caught:
        api.retrieve_document("doc_1")
    assert len(rec.requests) == 2
    assert "reseller" in str(caught.value)
    assert OLD not in str(caught.value) and OLD not in caught.value.detail
    assert not caught.value.retryable


@pytest.mark.parametrize("state", ["none", "revoked", "not_held"])
def test_it_refuses_to_call_without_a_usable_key(acme, api_for, state):
    if state == "revoked":
        held_key(acme, OLD, current=False).__class__.objects.update(revoked_at=timezone.now())
    elif state == "not_held":
        ApiKey.objects.create(tenant=acme, remote_id="key-adopted", name="adopted", is_current=True)
    api, rec = api_for(lambda r: httpx.Response(200, json=DOC))
    with pytest.raises(KeyUnavailable) as caught:
        api.retrieve_document("doc_1")
    assert rec.requests == []
    assert "Ask your reseller" in str(caught.value)


@pytest.mark.parametrize(
    ("response", "kind", "words"),
    [
        (httpx.Response(503, json={"detail": "maintenance"}), Unavailable, "temporary problem"),
        (
            httpx.Response(429, headers={"Retry-After": "7"}, json={"detail": "slow"}),
            Unavailable,
            "please wait 7 seconds",
        ),
        (httpx.Response(404, json={"detail": "Document not found"}), NotFound, "does not know"),
        (
            httpx.Response(405, json={"detail": "Document is not in draft state"}),
            Rejected,
            "no longer a draft",
        ),
        (
            httpx.Response(409, json={"detail": "not this tenant's Peppol ID"}),
            Rejected,
            "Peppol ID",
        ),
    ],
)
def test_it_turns_api_errors_into_readable_typed_errors(acme, api_for, response, kind, words):
    held_key(acme, NEW)
    api, rec = api_for(lambda r: response)
    with pytest.raises(kind) as caught:
        api.send_document("doc_1")
    assert words in str(caught.value)
    assert caught.value.retryable == (kind is Unavailable)
    assert len(rec.requests) == 1  # the SDK's own retries are off: a create must not repeat
    if response.status_code == 429:
        assert caught.value.retry_after == 7.0


def test_it_marks_timeouts_and_connection_errors_retryable(acme, api_for):
    held_key(acme, NEW)

    def boom(request):
        raise httpx.ConnectError("connection refused", request=request)

    api, _rec = api_for(boom)
    with pytest.raises(Unavailable) as caught:
        api.retrieve_document("doc_1")
    assert "cannot be reached" in str(caught.value)


def test_it_reads_only_the_detail_of_a_refused_create(acme, api_for):
    # The OpenAPI file's 406 is ErrorResponse: {"detail"}; keys beside it are not promised.
    held_key(acme, NEW)
    body = {
        "detail": "[BR-26] items[0].unit_price: Line 1 needs a unit price.",
        "issues": [{"message": "undocumented", "location": "items[0].unit_price"}],
    }
    api, _rec = api_for(lambda r: httpx.Response(406, json=body))
    with pytest.raises(Rejected) as caught:
        api.create_document({"invoice_id": "INV-1", "items": [{"description": "x"}]})
    assert caught.value.issues == []
    assert caught.value.status == 406
    assert str(caught.value) == (
        "The document is not valid Peppol BIS Billing 3.0: "
        "[BR-26] items[0].unit_price: Line 1 needs a unit price."
    )


@pytest.mark.parametrize(
    ("headers", "wait"), [({"Retry-After": "7"}, "please wait 7 seconds"), ({}, "wait a minute")]
)
def test_it_tells_the_customer_how_long_to_wait_after_a_429(acme, api_for, headers, wait):
    held_key(acme, NEW)
    answer = httpx.Response(429, json={"detail": "Too many requests"}, headers=headers)
    api, rec = api_for(lambda r: answer)
    with pytest.raises(RateLimited) as caught:
        api.retrieve_document("doc_1")
    assert wait in str(caught.value) and "Nothing was done" in str(caught.value)
    assert caught.value.retryable and len(rec.requests) == 1  # no retry behind the caller's back


def test_it_sends_fields_the_sdk_does_not_know_in_the_body(acme, api_for):
    held_key(acme, NEW)
    api, rec = api_for(lambda r: httpx.Response(201, json={**DOC, "document_type": "CREDIT_NOTE"}))
    api.create_document(
        {
            "document_type": "CREDIT_NOTE",
            "invoice_id": "CN-1",
            "billing_reference": "INV-1",
            "items": [],
        }
    )
    sent = json.loads(rec.requests[0].content)
    assert sent["billing_reference"] == "INV-1" and sent["document_type"] == "CREDIT_NOTE"


def test_it_reads_validation_issues_from_the_validate_answer(acme, api_for):
    held_key(acme, NEW)
    answer = {
        "id": "val_1",
        "is_valid": False,
        "issues": [
            {
                "message": "m",
                "type": "error",
                "location": "customer_tax_id",
                "rule_id": "BR-CO-09",
                "schematron": "EN16931",
            }
        ],
    }
    api, rec = api_for(lambda r: httpx.Response(201, json=answer))
    result = api.validate_json({"invoice_id": "INV-1", "items": []})
    assert rec.requests[0].url.path == "/api/validate/json"
    assert not result.is_valid
    assert result.issues == [
        {"message": "m", "location": "customer_tax_id", "rule_id": "BR-CO-09", "type": "error"}
    ]


def test_it_downloads_the_ubl_from_the_signed_url_without_the_key(acme, api_for):
    held_key(acme, NEW)

    def answer(request):
        if request.url.path.endswith("/ubl"):
            return httpx.Response(
                200,
                json={
                    "id": "doc_1",
                    "file_name": "INV-1.xml",
                    "signed_url": "http://files.example/ubl/doc_1.xml?signature=abc",
                },
            )
        return httpx.Response(200, content=b"<Invoice/>")

    api, rec = api_for(answer)
    assert api.ubl("doc_1") == ("INV-1.xml", b"<Invoice/>")
    assert "authorization" not in rec.requests[1].headers


def test_it_tells_which_document_types_a_participant_accepts(acme, api_for):
    held_key(acme, NEW)
    invoice_only = "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017"
    answer = {
        "is_valid": True,
        "dns_valid": True,
        "business_card_valid": True,
        "supported_document_types": [invoice_only],
        "business_card": {"name": "Dijle Software BV"},
    }
    api, _rec = api_for(lambda r: httpx.Response(200, json=answer))
    invoice = api.check_peppol_id("0208:1998121608", "INVOICE")
    credit_note = api.check_peppol_id("0208:1998121608", "CREDIT_NOTE")
    assert (invoice.registered, invoice.can_receive, invoice.name) == (
        True,
        True,
        "Dijle Software BV",
    )
    assert (credit_note.registered, credit_note.can_receive) == (True, False)


def test_it_reads_retry_after_as_an_http_date(acme, api_for):
    held_key(acme, NEW)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    api, _rec = api_for(lambda r: httpx.Response(429, headers={"Retry-After": when}, json={}))
    with pytest.raises(RateLimited) as caught:
        api.send_document("doc_1")
    assert 80 <= caught.value.retry_after <= 90
    assert re.search(r"please wait (8\d|90) seconds", str(caught.value))


@pytest.mark.parametrize(
    ("status", "body", "field_errors"),
    [
        (400, {"detail": "Invalid document type"}, {"__all__": ["Invalid document type"]}),
        (
            422,
            {
                "detail": [
                    {
                        "loc": ["body", "items", 0, "unit_price"],
                        "msg": "required",
                        "type": "missing",
                    },
                    {"loc": ["body", "invoice_id"], "msg": "too long", "type": "string_too_long"},
                ]
            },
            {"items": ["required"], "invoice_id": ["too long"]},
        ),
    ],
)
def test_it_reads_both_error_shapes_into_field_errors(acme, api_for, status, body, field_errors):
    held_key(acme, NEW)
    api, _rec = api_for(lambda r: httpx.Response(status, json=body))
    with pytest.raises(Invalid) as caught:
        api.create_document({"invoice_id": "INV-1", "items": []})
    assert caught.value.field_errors == field_errors
    assert caught.value.status == status
    if status == 422:
        assert [i["location"] for i in caught.value.issues] == ["items[0].unit_price", "invoice_id"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 406, 409, 422, 429, 500, 503])
def test_it_never_puts_a_key_in_any_error(acme, api_for, status):
    held_key(acme, NEW)
    body = {
        "detail": [{"loc": ["body", "key"], "msg": f"{NEW} Bearer {OLD}"}]
        if status == 422
        else f"Authorization: Bearer {NEW} / {OLD}",
        "issues": [{"message": f"key {NEW}", "location": "x", "type": "error"}],
    }
    api, _rec = api_for(lambda r: httpx.Response(status, json=body))
    with pytest.raises(ApiError) as caught:
        api.send_document("doc_1")
    error = caught.value
    for text in [str(error), repr(error), repr(vars(error)), repr(error.args)]:
        assert NEW not in text and OLD not in text
    # Not even chained: the SDK's exception holds the request, and so the Authorization header.
    assert error.__cause__ is None and error.__context__ is None


# --- Calls begun in another thread (TenantApi.start) -----------------------------------------
def test_a_call_begun_in_another_thread_answers_as_the_call_would(acme, api_for):
    held_key(acme, NEW)
    seen = []

    def answer(request):
        seen.append(threading.current_thread())
        return httpx.Response(200, json=DOC)

    api, rec = api_for(answer)
    pending = api.start(lambda a: a.retrieve_document("doc_1"))
    assert pending.result().invoice_id == "INV-1"
    assert rec.bearers() == [NEW] and seen[0] is not threading.current_thread()


def test_a_call_begun_in_another_thread_reads_the_key_again_here_after_a_401(acme, api_for):
    old = held_key(acme, OLD)

    def answer(request):
        if request.headers["authorization"] == f"Bearer {OLD}":
            return httpx.Response(401, json={"detail": "Invalid authentication credentials"})
        return httpx.Response(200, json=DOC)

    api, rec = api_for(answer)
    pending = api.start(lambda a: a.retrieve_document("doc_1"))
    # The rotation switches keys meanwhile; only this thread's connection sees it in a test.
    ApiKey.objects.filter(pk=old.pk).update(is_current=False, revoked_at=timezone.now())
    held_key(acme, NEW, remote_id="key-new")
    assert pending.result().id == "doc_1"
    assert rec.bearers() == [OLD, NEW]


def test_a_call_begun_in_another_thread_fails_in_the_callers_language(acme, api_for):
    held_key(acme, NEW)
    api, _rec = api_for(lambda r: httpx.Response(503, json={"detail": "down"}))
    with translation.override("nl"):
        with pytest.raises(Unavailable) as here:
            api.retrieve_document("doc_1")
        pending = api.start(lambda a: a.retrieve_document("doc_1"))
        with pytest.raises(Unavailable) as there:
            pending.result()
    with pytest.raises(Unavailable) as english:
        api.retrieve_document("doc_1")
    assert str(there.value) == str(here.value) != str(english.value)


def test_a_call_without_a_usable_key_is_not_begun_and_fails_as_it_would(acme, api_for):
    api, rec = api_for(lambda r: httpx.Response(200, json=DOC))
    pending = api.start(lambda a: a.retrieve_document("doc_1"))
    with pytest.raises(KeyUnavailable):
        pending.result()
    assert rec.requests == []
