"""The Admin API client against httpx.MockTransport: paths, typed errors, retries, quota."""

import contextlib
import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from einvoice import admin as admin_api
from einvoice import errors, http
from einvoice import quota as ratelimit

ORG_KEY = "einv_org_canary_0123456789abcdef"


@pytest.fixture
def api(settings, monkeypatch):
    """Route the client to a handler; returns the list of requests it saw."""
    settings.EINVOICE_API_BASE_URL = "https://api-dev.e-invoice.be"
    settings.EINVOICE_ORG_API_KEY = ORG_KEY
    settings.EINVOICE_RETRY_BACKOFF_SECONDS = 0
    seen: list[httpx.Request] = []
    state = {"handler": lambda request: httpx.Response(200, json={})}

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return state["handler"](request)

    monkeypatch.setattr(admin_api, "_transport", httpx.MockTransport(handle))
    monkeypatch.setattr(http, "_clients", {})

    class Api:
        requests = seen

        def answer(self, handler):
            state["handler"] = handler

    return Api()


def test_it_sends_the_org_key_and_the_documented_body(api):
    api.answer(lambda r: httpx.Response(201, json={"id": "tenant_1", "name": "acme"}))
    out = admin_api.create_tenant(
        name="acme",
        description="Acme BV",
        company_number="0403170701",
        peppol_ids=["0208:0403170701"],
    )
    assert out["id"] == "tenant_1"
    (request,) = api.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api-dev.e-invoice.be/api/admin/tenants"
    assert request.headers["Authorization"] == f"Bearer {ORG_KEY}"
    assert json.loads(request.content) == {
        "name": "acme",
        "description": "Acme BV",
        "company_number": "0403170701",
        "peppol_ids": ["0208:0403170701"],
    }


@pytest.mark.parametrize(
    ("call", "method", "path"),
    [
        (
            lambda: admin_api.list_tenants(skip=5, limit=10),
            "GET",
            "/api/admin/tenants?skip=5&limit=10",
        ),
        (lambda: admin_api.get_tenant("t1"), "GET", "/api/admin/tenants/t1"),
        (lambda: admin_api.update_tenant("t1", name="a"), "PUT", "/api/admin/tenants/t1"),
        (lambda: admin_api.delete_tenant("t1"), "DELETE", "/api/admin/tenants/t1"),
        (lambda: admin_api.list_api_keys("t1"), "GET", "/api/admin/tenants/t1/api-keys?limit=100"),
        (lambda: admin_api.create_api_key("t1", "k"), "POST", "/api/admin/tenants/t1/api-keys"),
        (lambda: admin_api.latest_api_key("t1"), "GET", "/api/admin/tenants/t1/api-keys/latest"),
        (
            lambda: admin_api.update_api_key("t1", "k1", "n"),
            "PUT",
            "/api/admin/tenants/t1/api-keys/k1",
        ),
        (
            lambda: admin_api.revoke_api_key("t1", "k1"),
            "DELETE",
            "/api/admin/tenants/t1/api-keys/k1",
        ),
        (lambda: admin_api.peppol_status("t1"), "GET", "/api/admin/tenants/t1/peppol/status"),
        (
            lambda: admin_api.peppol_register("t1", "0208:1"),
            "POST",
            "/api/admin/tenants/t1/peppol/register",
        ),
        (
            lambda: admin_api.peppol_business_card("t1", "X"),
            "POST",
            "/api/admin/tenants/t1/peppol/business-card",
        ),
        (
            lambda: admin_api.peppol_unregister("t1"),
            "POST",
            "/api/admin/tenants/t1/peppol/unregister",
        ),
    ],
)
def test_it_calls_each_documented_endpoint(api, call, method, path):
    call()
    (request,) = api.requests
    assert request.method == method
    assert request.url.raw_path.decode() == path


def test_kbo_autofill_register_sends_no_company_name(api):
    admin_api.peppol_register("t1", "0208:0403170701")
    assert json.loads(api.requests[0].content) == {"peppol_id": "0208:0403170701"}


def test_it_turns_a_422_into_field_errors(api):
    detail = [
        {"loc": ["body", "name"], "msg": "field required", "type": "value_error.missing"},
        {"loc": ["body", "peppol_ids", 0], "msg": "invalid scheme", "type": "value_error"},
    ]
    api.answer(lambda r: httpx.Response(422, json={"detail": detail}))
    with pytest.raises(errors.Invalid) as caught:
        admin_api.create_tenant(name="")
    assert caught.value.field_errors == {
        "name": ["field required"],
        "peppol_id": ["invalid scheme"],
    }
    assert caught.value.status == 422
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, errors.Unauthorized),
        (403, errors.Unauthorized),
        (404, errors.NotFound),
        (409, errors.Conflict),
        (400, errors.Invalid),
        (418, errors.ApiError),
    ],
)
def test_it_raises_a_permanent_typed_error(api, status, error):
    api.answer(lambda r: httpx.Response(status, json={"detail": "Tenant not found"}))
    with pytest.raises(error) as caught:
        admin_api.create_tenant(name="acme")
    assert caught.value.status == status
    assert caught.value.retryable is False
    assert len(api.requests) == 1


def test_a_conflict_carries_the_apis_explanation(api):
    api.answer(
        lambda r: httpx.Response(409, json={"detail": "A tenant with similar name already exists"})
    )
    with pytest.raises(errors.Conflict, match="similar name"):
        admin_api.create_tenant(name="acme")


def test_a_429_pauses_the_shared_quota_and_carries_retry_after(api, monkeypatch):
    paused = []
    monkeypatch.setattr(ratelimit, "pause_until", paused.append)
    api.answer(
        lambda r: httpx.Response(429, headers={"Retry-After": "17"}, json={"detail": "slow"})
    )
    with pytest.raises(errors.RateLimited) as caught:
        admin_api.get_tenant("t1")
    assert caught.value.retry_after == 17.0
    assert caught.value.retryable
    assert paused == [17.0]
    assert len(api.requests) == 1  # not retried blindly: every caller now waits


def test_every_call_takes_one_unit_of_quota_first(api, monkeypatch):
    waits = []
    acquire = ratelimit.acquire

    def spy(max_wait=0.0):
        waits.append(max_wait)
        return acquire(max_wait)

    monkeypatch.setattr(ratelimit, "acquire", spy)
    admin_api.get_tenant("t1")
    with admin_api.quota_wait(0):
        admin_api.get_tenant("t1")
    assert waits == [5.0, 0]


@pytest.mark.parametrize("answer", [200, 500, "timeout"])
def test_a_call_is_counted_from_its_answer(api, monkeypatch, answer):
    # The API counts a call when it arrives, after our grant: however long the call took,
    # the limiter logs it at the answer (or the failure), never earlier.
    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(ratelimit, "_clock", lambda: clock["now"])

    def slow(request):
        clock["now"] += 7
        if answer == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(answer, json={"id": "t1"})

    api.answer(slow)
    with pytest.raises(errors.ApiError) if answer != 200 else contextlib.nullcontext():
        with admin_api.quota_wait(0):
            admin_api.create_tenant(name="acme")
    assert ratelimit.backend().calls() == [1_800_000_007.0]


def test_no_quota_means_no_request(api, monkeypatch):
    def exhausted(max_wait=0.0):
        raise ratelimit.QuotaExhausted(12.0)

    monkeypatch.setattr(ratelimit, "acquire", exhausted)
    with pytest.raises(errors.RateLimited) as caught:
        admin_api.create_tenant(name="acme")
    assert caught.value.retry_after == 12.0
    assert api.requests == []


def test_reads_retry_server_errors_then_succeed(api):
    answers = iter(
        [httpx.Response(502), httpx.Response(503), httpx.Response(200, json={"id": "t1"})]
    )
    api.answer(lambda r: next(answers))
    assert admin_api.get_tenant("t1") == {"id": "t1"}
    assert len(api.requests) == 3


def test_reads_give_up_after_the_last_attempt(api):
    api.answer(lambda r: httpx.Response(500, json={"detail": "boom"}))
    with pytest.raises(errors.ServerError) as caught:
        admin_api.list_tenants()
    assert caught.value.retryable
    assert len(api.requests) == 3


def test_writes_are_never_retried(api):
    api.answer(lambda r: httpx.Response(503))
    with pytest.raises(errors.ServerError):
        admin_api.create_api_key("t1", "k")
    assert len(api.requests) == 1


def test_a_timeout_is_a_retryable_transport_error(api):
    def timeout(request):
        raise httpx.ReadTimeout("read timed out", request=request)

    api.answer(timeout)
    with pytest.raises(errors.TransportError) as caught:
        admin_api.create_tenant(name="acme")
    assert caught.value.retryable
    assert len(api.requests) == 1
    with pytest.raises(errors.TransportError):
        admin_api.get_tenant("t1")
    assert len(api.requests) == 1 + 3


def test_it_has_explicit_timeouts(api, settings):
    settings.EINVOICE_TIMEOUT_SECONDS = 7
    timeout = admin_api._client().timeout
    assert timeout.read == 7 and timeout.connect == 5


def test_errors_and_logs_never_carry_a_key(api, caplog):
    tenant_key = "einv_live_tenantcanary_ABCDEF123456"
    # An API that echoes the credentials back in its error body.
    api.answer(
        lambda r: httpx.Response(
            401, json={"detail": f"bad key {ORG_KEY}", "headers": dict(r.headers)}
        )
    )
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(errors.Unauthorized) as caught:
            admin_api.get_tenant("t1")
        api.answer(
            lambda r: httpx.Response(
                422, json={"detail": [{"loc": ["body", "key"], "msg": tenant_key}]}
            )
        )
        with pytest.raises(errors.Invalid) as caught2:
            admin_api.create_api_key("t1", "k")
    for text in [
        str(caught.value),
        repr(caught.value),
        str(caught2.value),
        str(caught2.value.field_errors),
    ]:
        assert ORG_KEY not in text and tenant_key not in text
    assert "EINVOICE_ORG_API_KEY" in str(caught.value)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /api/admin/tenants/t1 -> 401" in logged
    assert ORG_KEY not in logged and tenant_key not in logged


def test_iter_tenants_pages_through_everything(api):
    everyone = [{"id": f"t{i}"} for i in range(5)]

    def page(request):
        skip, limit = int(request.url.params["skip"]), int(request.url.params["limit"])
        return httpx.Response(200, json={"tenants": everyone[skip : skip + limit], "total": 5})

    api.answer(page)
    assert [t["id"] for t in admin_api.iter_tenants(page_size=2)] == ["t0", "t1", "t2", "t3", "t4"]
    assert len(api.requests) == 3


def test_it_reads_retry_after_as_an_http_date(api, monkeypatch):
    paused = []
    monkeypatch.setattr(ratelimit, "pause_until", paused.append)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    api.answer(lambda r: httpx.Response(429, headers={"Retry-After": when}, json={"detail": "x"}))
    with pytest.raises(errors.RateLimited) as caught:
        admin_api.get_tenant("t1")
    assert 80 <= caught.value.retry_after <= 90
    assert paused == [caught.value.retry_after]


@pytest.mark.parametrize(
    ("body", "field_errors", "detail"),
    [
        ({"detail": "company_name is required"}, {"__all__": ["company_name is required"]}, None),
        (
            {"detail": [{"loc": ["body", "company_tax_id"], "msg": "bad VAT", "type": "value"}]},
            {"company_tax_id": ["bad VAT"]},
            "company_tax_id: bad VAT",
        ),
    ],
)
def test_it_reads_both_error_shapes_into_field_errors(api, body, field_errors, detail):
    api.answer(lambda r: httpx.Response(422, json=body))
    with pytest.raises(errors.Invalid) as caught:
        admin_api.create_tenant(name="acme")
    assert caught.value.field_errors == field_errors
    assert caught.value.detail == (detail or body["detail"])


@pytest.mark.parametrize(
    "status", [400, 401, 403, 404, 405, 409, 418, 422, 429, 500, 503, "timeout", "connect"]
)
def test_it_never_puts_a_key_in_any_error(api, monkeypatch, status):
    monkeypatch.setattr(ratelimit, "pause_until", lambda seconds: None)
    tenant_key = "einv_live_tenantcanary_ABCDEF123456"
    echoed = f"Authorization: Bearer {ORG_KEY} / {tenant_key}"
    if status == 422:
        body = {"detail": [{"loc": ["body", "key"], "msg": f"{tenant_key} Bearer {ORG_KEY}"}]}
    else:
        body = {"detail": echoed}

    def answer(request):
        if status == "timeout":
            raise httpx.ReadTimeout(echoed, request=request)
        if status == "connect":
            raise httpx.ConnectError(echoed, request=request)
        return httpx.Response(status, json=body, headers={"Retry-After": "1"})

    api.answer(answer)
    with pytest.raises(errors.ApiError) as caught:
        admin_api.create_api_key("t1", "k")
    error = caught.value
    for text in [str(error), repr(error), repr(vars(error)), repr(error.args)]:
        assert ORG_KEY not in text and tenant_key not in text
    # Not even chained: httpx's exception holds the request, and so the Authorization header.
    assert error.__cause__ is None and error.__context__ is None
