"""Client of the e-invoice.be Admin API (tenants, API keys, Peppol registration).

One function per endpoint of the admin-api-guide. Every call takes one unit of the shared
quota first (einvoice.quota), counted from its answer. Errors are einvoice.errors, whose messages never carry
a key: `retryable` tells a job whether trying again later can help.

Reads (GET) are retried with backoff on transport errors and 5xx answers; writes are never
retried here, because the API has no idempotency keys (the onboarding jobs make re-runs
safe instead).
"""

from __future__ import annotations

import contextvars
import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from django.conf import settings

from einvoice import http, messages
from einvoice import quota as ratelimit
from einvoice.errors import (
    ApiError,
    QuotaUnavailable,
    RateLimited,
    ServerError,
    TransportError,
)

logger = logging.getLogger(__name__)

PRODUCTION_BASE_URL = "https://api.e-invoice.be"
DEVELOPMENT_BASE_URL = "https://api-dev.e-invoice.be"
DEFAULT_RETRY_AFTER = 60.0

# API field names that our forms call differently.
FIELD_ALIASES = {"peppol_ids": "peppol_id"}


# --- configuration --------------------------------------------------------------------
# Seconds a call may wait for quota. Web requests wait a little; jobs set 0 (via
# quota_wait) and re-schedule themselves instead of sleeping in a worker.
_quota_wait: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "admin_api_quota_wait", default=None
)
# Tests replace the transport (httpx.MockTransport).
_transport: httpx.BaseTransport | None = None


@contextmanager
def quota_wait(seconds: float) -> Iterator[None]:
    """Within this block, wait at most `seconds` for quota before raising QuotaUnavailable."""
    token = _quota_wait.set(seconds)
    try:
        yield
    finally:
        _quota_wait.reset(token)


def _max_quota_wait() -> float:
    value = _quota_wait.get()
    if value is None:
        value = float(settings.EINVOICE_QUOTA_MAX_WAIT)
    return value


def _client() -> httpx.Client:
    return http.client(
        base_url=settings.EINVOICE_API_BASE_URL,
        headers={
            "Authorization": f"Bearer {settings.EINVOICE_ORG_API_KEY}",
            "Accept": "application/json",
            "User-Agent": "peppol-reseller-portal",
        },
        transport=_transport,
    )


# --- request plumbing -----------------------------------------------------------------
def _raise_for(response: httpx.Response, method: str, path: str) -> None:
    if response.status_code < 400:
        return
    error = http.error_for_response(
        response, messages.describe_for_staff(method, path), default_retry_after=DEFAULT_RETRY_AFTER
    )
    error.field_errors = {FIELD_ALIASES.get(f, f): m for f, m in error.field_errors.items()}
    if isinstance(error, RateLimited):
        # The quota is shared: make every caller in every process wait, not only us.
        ratelimit.pause_until(error.retry_after)
    raise error


def _exchange(method: str, path: str, **kwargs: Any) -> httpx.Response | ApiError:
    try:
        return _client().request(method, path, **kwargs)
    except httpx.HTTPError as e:
        logger.warning("admin-api %s %s transport error: %s", method, path, type(e).__name__)
        return http.error_for_exception(e, messages.describe_for_staff(method, path))


def _send(method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        grant = ratelimit.acquire(max_wait=_max_quota_wait())
    except ratelimit.QuotaExhausted as e:
        raise QuotaUnavailable(
            f"The shared API quota is used up; retry in {e.wait_seconds:.0f}s.",
            retry_after=e.wait_seconds,
        ) from None
    started = time.monotonic()
    try:
        response = _exchange(method, path, **kwargs)
    finally:
        # Answered or failed, the API has seen the call by now if ever: count it from here.
        grant.answered()
    if isinstance(response, ApiError):
        # Raised out here, not in the handler, so that not even __context__ keeps httpx's
        # exception (its request carries the organization key).
        raise response
    elapsed_ms = (time.monotonic() - started) * 1000
    logger.info("admin-api %s %s -> %s in %.0f ms", method, path, response.status_code, elapsed_ms)
    _raise_for(response, method, path)
    return response


def _backoff(attempt: int) -> float:
    base = float(settings.EINVOICE_RETRY_BACKOFF_SECONDS)
    return base * (2**attempt) * (0.5 + random.random() / 2)  # noqa: S311 - jitter


def _request(method: str, path: str, **kwargs: Any) -> httpx.Response:
    if method != "GET":
        return _send(method, path, **kwargs)
    attempts = max(1, int(settings.EINVOICE_READ_ATTEMPTS))
    for attempt in range(attempts):
        try:
            return _send(method, path, **kwargs)
        except (ServerError, TransportError):
            if attempt == attempts - 1:
                raise
            time.sleep(_backoff(attempt))
    raise AssertionError("unreachable")


def _json(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ServerError(
            f"The Admin API answered HTTP {response.status_code} without JSON.",
            status=response.status_code,
        ) from None


def _body(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


# --- tenants --------------------------------------------------------------------------
def list_tenants(skip: int = 0, limit: int = 100) -> dict:
    return _json(_request("GET", "/api/admin/tenants", params={"skip": skip, "limit": limit}))


def tenant_pages(page_size: int = 100) -> Iterator[list[dict]]:
    """Every tenant, a page (one call) at a time; one call when there are none."""
    skip = 0
    while True:
        page = list_tenants(skip=skip, limit=page_size)
        tenants = page.get("tenants", [])
        yield tenants
        skip += len(tenants)
        if not tenants or skip >= int(page.get("total", 0)):
            return


def iter_tenants(page_size: int = 100) -> Iterator[dict]:
    """Every tenant, page by page."""
    for page in tenant_pages(page_size):
        yield from page


def create_tenant(**fields: Any) -> dict:
    return _json(_request("POST", "/api/admin/tenants", json=_body(fields)))


def get_tenant(tenant_id: str) -> dict:
    return _json(_request("GET", f"/api/admin/tenants/{tenant_id}"))


def update_tenant(tenant_id: str, **fields: Any) -> dict:
    return _json(_request("PUT", f"/api/admin/tenants/{tenant_id}", json=_body(fields)))


def delete_tenant(tenant_id: str) -> dict | None:
    return _json(_request("DELETE", f"/api/admin/tenants/{tenant_id}"))


# --- API keys -------------------------------------------------------------------------
def list_api_keys(tenant_id: str, limit: int = 100) -> dict:
    return _json(
        _request("GET", f"/api/admin/tenants/{tenant_id}/api-keys", params={"limit": limit})
    )


def create_api_key(tenant_id: str, name: str, description: str = "") -> dict:
    """The answer's `key` is the only time the value is ever returned."""
    body = {"name": name, "description": description}
    return _json(_request("POST", f"/api/admin/tenants/{tenant_id}/api-keys", json=body))


def latest_api_key(tenant_id: str) -> dict:
    return _json(_request("GET", f"/api/admin/tenants/{tenant_id}/api-keys/latest"))


def update_api_key(tenant_id: str, key_id: str, name: str, description: str = "") -> dict:
    body = {"name": name, "description": description}
    return _json(_request("PUT", f"/api/admin/tenants/{tenant_id}/api-keys/{key_id}", json=body))


def revoke_api_key(tenant_id: str, key_id: str) -> None:
    _request("DELETE", f"/api/admin/tenants/{tenant_id}/api-keys/{key_id}")


# --- Peppol ---------------------------------------------------------------------------
def peppol_status(tenant_id: str) -> dict:
    return _json(_request("GET", f"/api/admin/tenants/{tenant_id}/peppol/status"))


def peppol_register(tenant_id: str, peppol_id: str, company_name: str | None = None) -> dict:
    """Without company_name, the API fetches it from KBO (Belgian 0208 IDs)."""
    body = _body({"peppol_id": peppol_id, "company_name": company_name or None})
    return _json(_request("POST", f"/api/admin/tenants/{tenant_id}/peppol/register", json=body))


def peppol_business_card(tenant_id: str, company_name: str) -> dict:
    body = {"company_name": company_name}
    return _json(
        _request("POST", f"/api/admin/tenants/{tenant_id}/peppol/business-card", json=body)
    )


def peppol_unregister(tenant_id: str) -> dict:
    return _json(_request("POST", f"/api/admin/tenants/{tenant_id}/peppol/unregister"))
