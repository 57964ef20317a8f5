"""Property-based pass over every filter and form of the staff and customer screens (issue 11).

Hypothesis throws generated values (empty, huge, NUL bytes, far-off dates, digits of other
scripts, numbers past 64 bits) at each of them. Whatever comes in, the portal answers without a
500, and an answer that refuses the input (the form shown again) has changed nothing stored.
The invoice editor's and webhooks' own passes are in tests/invoices/test_properties.py; this
one adds the editor's query parameters and deeply nested or huge signed webhooks. The number
of inputs tried is written at the end of the run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.models import AuditEntry
from invoices.models import Document, Mailbox, WebhookEvent
from tenants import mirror
from tenants.models import ApiKey, BulkOnboarding, OnboardingJob, Tenant

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TRIED: Counter[str] = Counter()
SECRET = "whsec_fuzz_secret"  # noqa: S105 - a test value

# Values people and scripts send: plain text, NUL bytes (PostgreSQL refuses them in a string),
# other scripts' digits ("²".isdigit() is True, int("²") fails), ints past 64 bits, dates.
nasty = st.sampled_from(
    ["", " ", "\x00", "a\x00b", "²", "١٢", "99999999999999999999999", "-1", "0", "1e9999",
     "NaN", "0001-01-01", "9999-12-31", "2024-02-30", "<script>", "' OR 1=1 --", "%", "_",
     "=1+1", "x" * 5000, "☃" * 200, "0208:0706165839", "BE0706165839"]
)  # fmt: skip
value = st.one_of(st.text(max_size=60), nasty, st.dates().map(str), st.integers().map(str))


def fields(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional={name: value for name in names})


def counts() -> dict[str, int]:
    """What a refused input must not change."""
    models = (Tenant, ApiKey, OnboardingJob, BulkOnboarding, AuditEntry, Document, WebhookEvent)
    return {model.__name__: model.objects.count() for model in models}


def answered(response, name: str) -> int:
    TRIED[name] += 1
    assert response.status_code < 500, (name, response.status_code)
    return response.status_code


@pytest.fixture(scope="module", autouse=True)
def report_inputs_tried(request):
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    tried = ", ".join(f"{name} {n}" for name, n in sorted(TRIED.items()))
    if reporter and capture:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nfuzz inputs tried: {sum(TRIED.values())} ({tried})")


@pytest.fixture
def as_alice(client, alice, acme):
    client.force_login(alice)
    return client


@pytest.fixture
def on_sandbox_tenant(portal_on_sandbox, alice) -> Tenant:
    return mirror.create_tenant(
        {"name": "fuzz-bakkerij", "description": "Bakkerij Fuzz BV", "country": "",
         "company_number": "0706165839", "company_tax_id": "BE0706165839",
         "peppol_id": "0208:0706165839"},
        alice,
    )  # fmt: skip


# --- staff: lists and their filters (GET changes nothing) --------------------------------------
LISTS = {
    "tenants:tenant_list": ["q", "peppol", "deleted", "test_mode", "due", "sort", "page"],
    "tenants:audit_list": ["actor", "action", "tenant", "outcome", "date_from", "date_to", "page"],
    "tenants:audit_export": ["actor", "action", "tenant", "outcome", "date_from", "date_to"],
    "tenants:jobs": ["state", "page"],
    "tenants:onboard": ["from"],
    "tenants:tenant_suggest": ["tenant", "description", "company_number", "company_tax_id"],
}


@pytest.mark.parametrize("name", sorted(LISTS))
@FUZZ
@given(data=st.data(), htmx=st.booleans())
def test_it_answers_every_staff_filter_without_a_500_and_changes_nothing(
    as_alice, name, data, htmx
):
    params = data.draw(fields(LISTS[name]))
    before = counts()
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    answered(as_alice.get(reverse(name), params, **headers), name)
    after = counts()
    if name == "tenants:audit_export":  # an export is itself audited
        after["AuditEntry"] = before["AuditEntry"]
    assert after == before


# --- staff: forms that write (a refused form changes nothing) ----------------------------------
TENANT_FIELDS = ["description", "name", "country", "company_number", "company_tax_id", "peppol_id"]


@FUZZ
@given(body=fields([*TENANT_FIELDS, "test_mode"]))
def test_it_answers_the_tenant_form_without_a_500(as_alice, portal_on_sandbox, body):
    before = counts()
    if answered(as_alice.post(reverse("tenants:tenant_create"), body), "tenant form") == 200:
        assert counts() == before


@FUZZ
@given(body=fields([*TENANT_FIELDS, "test_mode", "register_peppol"]))
def test_it_answers_the_onboarding_form_without_a_500(as_alice, portal_on_sandbox, body):
    before = counts()
    if answered(as_alice.post(reverse("tenants:onboard"), body), "onboarding form") == 200:
        assert counts() == before


@FUZZ
@given(body=fields(["name", "description"]))
def test_it_answers_the_key_form_without_a_500(as_alice, on_sandbox_tenant, body):
    before = counts()
    url = reverse("tenants:key_create", args=[on_sandbox_tenant.pk])
    if answered(as_alice.post(url, body), "key form") == 200:
        assert counts() == before


HEADER = b"company_name,name,country,company_number,vat_number,peppol_id\r\n"
csv_bytes = st.one_of(
    st.binary(max_size=400),
    st.binary(max_size=300).map(lambda tail: HEADER + tail),
    st.lists(st.lists(value, min_size=1, max_size=7), max_size=5).map(
        lambda rows: HEADER + "\r\n".join(",".join(row) for row in rows).encode("utf-8", "replace")
    ),
    st.sampled_from([b"\xef\xbb\xbf" + HEADER, HEADER.replace(b",", b";"), HEADER + b"a\rb\r"]),
)


@FUZZ
@given(
    content=csv_bytes,
    filename=st.sampled_from(["onboard.csv", "x.CSV", "x.txt", ".csv", "é.csv"]),
    register=st.booleans(),
)
def test_it_answers_the_csv_upload_without_a_500(as_alice, content, filename, register):
    before = counts()
    body = {"file": SimpleUploadedFile(filename, content, content_type="text/csv")}
    if register:
        body["register_peppol"] = "on"
    if answered(as_alice.post(reverse("tenants:bulk_upload"), body), "CSV upload") == 200:
        assert counts() == before


# --- customers: the documents list, the inbox and the editor's query --------------------------
@FUZZ
@given(
    name=st.sampled_from(["invoices:documents", "invoices:inbox"]),
    params=fields(["state", "type", "date_from", "date_to", "party", "q", "page", "refresh"]),
    htmx=st.booleans(),
)
def test_it_answers_the_documents_filters_without_a_500(
    client, carol, monkeypatch, name, params, htmx
):
    monkeypatch.setattr("invoices.inbound.sync_inbox", lambda tenant, force=False: None)
    client.force_login(carol)
    before = counts()
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    answered(client.get(reverse(name), params, **headers), name)
    assert counts() == before


@FUZZ
@given(
    name=st.sampled_from(["invoices:new_invoice", "invoices:new_credit_note"]),
    params=fields(["corrects", "copy"]),
)
def test_it_answers_the_editor_query_without_a_500(client, carol, name, params):
    client.force_login(carol)
    before = counts()
    answered(client.get(reverse(name), params), name)
    assert counts() == before


EDITOR_FIELDS = ["invoice_id", "invoice_date", "due_date", "currency", "customer_name",
                 "customer_tax_id", "customer_peppol_id", "iban", "bic", "note", "corrects",
                 "lines-TOTAL_FORMS", "lines-0-description", "lines-0-quantity",
                 "lines-0-unit_price", "lines-0-tax_rate", "lines-0-unit"]  # fmt: skip


@FUZZ
@given(body=fields(EDITOR_FIELDS), action=st.sampled_from(["save", "recalculate", "add_line"]))
def test_it_answers_the_editor_fields_without_a_500(client, carol, body, action):
    client.force_login(carol)
    before = counts()
    status = answered(
        client.post(reverse("invoices:new_invoice"), {**body, "action": action}), "editor"
    )
    if status == 200:
        assert counts() == before


# --- webhooks: validly signed, deeply nested or huge -----------------------------------------
@pytest.fixture
def mailbox(acme) -> Mailbox:
    box = Mailbox(tenant=acme, webhook_token="tok-fuzz", webhook_remote_id="wh")  # noqa: S106
    box.set_secret(SECRET)
    box.save()
    return box


def nested(depth: int, opener: str) -> str:
    inner = '"x"'
    if opener == "[":
        return "[" * depth + inner + "]" * depth
    return '{"a":' * depth + inner + "}" * depth


def event_around(data: str) -> bytes:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return f'{{"id":"evt_deep","type":"document.sent","timestamp":"{now}","data":{data}}}'.encode()


bodies = st.one_of(
    st.builds(nested, st.integers(1, 200_000), st.sampled_from(["[", "{"])).map(
        lambda s: s.encode()
    ),
    st.builds(nested, st.integers(1, 100_000), st.sampled_from(["[", "{"])).map(event_around),
    st.integers(1, 400_000).map(lambda n: event_around("[" + ",".join(["1"] * n) + "]")),
    st.integers(1, 400_000).map(lambda n: event_around(json.dumps({"document_id": "d" * n}))),
)


@settings(FUZZ, max_examples=25)
@given(body=bodies)
def test_it_answers_a_deep_or_huge_signed_webhook_with_a_4xx(client, mailbox, body):
    before = counts()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        reverse("invoices:webhook", args=["tok-fuzz"]),
        data=body,
        content_type="application/json",
        HTTP_X_SIGNATURE=signature,
    )
    status = answered(response, "signed webhook")
    if status >= 400:
        assert counts() == before


def test_it_refuses_a_signed_webhook_nested_thousands_deep(client, mailbox):
    for depth in (40, 5_000, 100_000):
        body = event_around(nested(depth, "["))
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        response = client.post(
            reverse("invoices:webhook", args=["tok-fuzz"]),
            data=body,
            content_type="application/json",
            HTTP_X_SIGNATURE=signature,
        )
        assert response.status_code in (400, 413), depth
    assert not WebhookEvent.objects.exists()
