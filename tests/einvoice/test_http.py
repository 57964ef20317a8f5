"""The plumbing both clients share: Retry-After, error bodies, status → error, the boundary."""

import ast
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from einvoice import errors, http

ROOT = Path(__file__).resolve().parents[2]
PORTAL_PACKAGES = ["portal", "core", "einvoice", "jobs", "accounts", "tenants", "invoices"]


def test_it_reads_retry_after_in_seconds_and_as_an_http_date():
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    a_minute_ago = format_datetime(datetime.now(UTC) - timedelta(seconds=60), usegmt=True)
    assert http.retry_after({"retry-after": "17"}) == 17.0
    assert 50 <= http.retry_after({"retry-after": in_a_minute}) <= 60
    assert http.retry_after({"retry-after": a_minute_ago}) == 0.0
    assert http.retry_after({}) is None
    assert http.retry_after({"retry-after": "soon"}, 60.0) == 60.0


def test_it_reads_the_error_response_shape():
    parsed = http.parse_error_body({"detail": "Tenant not found"})
    assert (parsed.detail, parsed.field_errors, parsed.issues) == (
        "Tenant not found",
        {"__all__": ["Tenant not found"]},
        [],
    )


def test_it_reads_the_fastapi_validation_shape():
    parsed = http.parse_error_body(
        {
            "detail": [
                {"loc": ["body", "name"], "msg": "field required", "type": "missing"},
                {"loc": ["body", "items", 1, "quantity"], "msg": "not a number", "type": "x"},
                {"loc": ["query", "page"], "msg": "too small", "type": "x"},
            ]
        }
    )
    assert parsed.field_errors == {
        "name": ["field required"],
        "items": ["not a number"],
        "page": ["too small"],
    }
    assert parsed.detail == "name: field required; items.1.quantity: not a number; page: too small"
    assert [i["location"] for i in parsed.issues] == ["name", "items[1].quantity", "page"]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, errors.Invalid),
        (401, errors.Unauthorized),
        (403, errors.Unauthorized),
        (404, errors.NotFound),
        (405, errors.Rejected),
        (406, errors.Invalid),
        (409, errors.Conflict),
        (422, errors.Invalid),
        (429, errors.RateLimited),
        (500, errors.ServerError),
        (503, errors.ServerError),
    ],
)
def test_it_maps_each_status_to_one_error(status, error):
    raised = http.error_for_status(status, {"detail": "x"}, {}, lambda failure: "text")
    assert type(raised) is error
    assert raised.status == status
    assert raised.retryable == (status == 429 or status >= 500)


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_it_keeps_httpx_and_the_sdk_inside_the_einvoice_package():
    offenders = [
        str(path.relative_to(ROOT))
        for package in PORTAL_PACKAGES
        if package != "einvoice"
        for path in (ROOT / package).rglob("*.py")
        if _imported_modules(path) & {"httpx", "e_invoice_api"}
    ]
    assert offenders == []
