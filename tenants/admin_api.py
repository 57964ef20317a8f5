"""Client of the e-invoice.be Admin API (tenants, API keys, Peppol registration).

One function per endpoint of the admin-api-guide. Every call takes one unit of the shared
quota first (tenants.ratelimit). Errors become typed exceptions whose messages never carry
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
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings

from tenants import ratelimit
from tenants.logfilter import mask_secrets

logger = logging.getLogger(__name__)

PRODUCTION_BASE_URL = "https://api.e-invoice.be"
DEVELOPMENT_BASE_URL = "https://api-dev.e-invoice.be"
DEFAULT_RETRY_AFTER = 60.0


# --- errors ---------------------------------------------------------------------------
class AdminApiError(Exception):
    """Base of the client's errors. `str()` is safe to log and show: no secrets."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(mask_secrets(message))
        self.status = status

    @property
    def message(self) -> str:
        return str(self)


class Unauthorized(AdminApiError):
    """401/403: the organization key is wrong, revoked, or lacks the right."""


class NotFound(AdminApiError):
    pass


class Conflict(AdminApiError):
    """409: e.g. the tenant name is taken, or the Peppol ID is registered elsewhere."""


class ValidationFailed(AdminApiError):
    """400/422: the API refused the input; `field_errors` maps our field names to messages."""

    def __init__(
        self, message: str, *, status: int | None = None, field_errors: dict[str, list[str]]
    ) -> None:
        super().__init__(message, status=status)
        self.field_errors = {
            field: [mask_secrets(m) for m in msgs] for field, msgs in field_errors.items()
        }


class RateLimited(AdminApiError):
    """429, or no capacity left in the shared quota: try again after `retry_after` s."""

    retryable = True

    def __init__(self, message: str, *, status: int | None = None, retry_after: float) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class QuotaUnavailable(RateLimited):
    """The shared quota had no capacity within the allowed wait; nothing was sent."""


class ServerError(AdminApiError):
    retryable = True


class TransportError(AdminApiError):
    """Timeout or connection failure: the request may or may not have reached the API."""

    retryable = True


# --- configuration --------------------------------------------------------------------
# Seconds a call may wait for quota. Web requests wait a little; jobs set 0 (via
# quota_wait) and re-schedule themselves instead of sleeping in a worker.
_quota_wait: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "admin_api_quota_wait", default=None
)
# Tests replace the transport (httpx.MockTransport).
_transport: httpx.BaseTransport | None = None
_clients: dict[tuple, httpx.Client] = {}


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
        value = float(getattr(settings, "EINVOICE_QUOTA_MAX_WAIT", 5.0))
    return value


def _client() -> httpx.Client:
    timeout = float(settings.EINVOICE_TIMEOUT_SECONDS)
    config = (settings.EINVOICE_API_BASE_URL, settings.EINVOICE_ORG_API_KEY, timeout, _transport)
    client = _clients.get(config)
    if client is None:
        client = httpx.Client(
            base_url=settings.EINVOICE_API_BASE_URL,
            headers={
                "Authorization": f"Bearer {settings.EINVOICE_ORG_API_KEY}",
                "Accept": "application/json",
                "User-Agent": "peppol-reseller-portal",
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=_transport,
            follow_redirects=False,
        )
        _clients[config] = client
    return client


# --- request plumbing -----------------------------------------------------------------
def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # an HTTP date
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


def _detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return body.get("detail", body.get("message", ""))
    return body


# API field names that our forms call differently.
FIELD_ALIASES = {"peppol_ids": "peppol_id"}


def _field_errors(detail: Any) -> dict[str, list[str]]:
    """FastAPI's [{"loc": ["body", "name"], "msg": …}] → {"name": [msg]}."""
    errors: dict[str, list[str]] = {}
    if isinstance(detail, list):
        for item in detail:
            if not isinstance(item, dict):
                continue
            loc = [str(p) for p in item.get("loc", []) if not isinstance(p, int)]
            if loc and loc[0] in ("body", "query", "path"):
                loc = loc[1:]
            field = FIELD_ALIASES.get(loc[0], loc[0]) if loc else "__all__"
            errors.setdefault(field, []).append(str(item.get("msg", "invalid")))
    elif detail:
        errors["__all__"] = [str(detail)]
    return errors


def _detail_text(detail: Any) -> str:
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in i.get('loc', [])[1:])}: {i.get('msg', '')}"
            if isinstance(i, dict)
            else str(i)
            for i in detail
        )
    return str(detail or "")


def _raise_for(response: httpx.Response, method: str, path: str) -> None:
    status = response.status_code
    if status < 400:
        return
    detail = _detail(response)
    text = _detail_text(detail)
    where = f"{method} {path}"
    if status in (401, 403):
        raise Unauthorized(
            f"The Admin API refused the organization key (HTTP {status}) on {where}. "
            "Check EINVOICE_ORG_API_KEY.",
            status=status,
        )
    if status == 404:
        raise NotFound(text or f"Not found: {where}", status=status)
    if status == 409:
        raise Conflict(text or "Conflict", status=status)
    if status in (400, 422):
        raise ValidationFailed(
            text or f"Invalid request (HTTP {status})",
            status=status,
            field_errors=_field_errors(detail),
        )
    if status == 429:
        retry_after = _retry_after(response)
        # The quota is shared: make every caller in every process wait, not only us.
        ratelimit.pause_until(retry_after)
        raise RateLimited(
            f"The Admin API rate limit was reached; retry in {retry_after:.0f}s.",
            status=status,
            retry_after=retry_after,
        )
    if status >= 500:
        raise ServerError(
            f"The Admin API failed (HTTP {status}) on {where}: {text}".rstrip(": "), status=status
        )
    raise AdminApiError(f"Unexpected HTTP {status} on {where}: {text}", status=status)


def _send(method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        ratelimit.acquire(max_wait=_max_quota_wait())
    except ratelimit.QuotaExhausted as e:
        raise QuotaUnavailable(
            f"The shared API quota is used up; retry in {e.wait_seconds:.0f}s.",
            retry_after=e.wait_seconds,
        ) from None
    started = time.monotonic()
    try:
        response = _client().request(method, path, **kwargs)
    except httpx.TimeoutException:
        logger.warning("admin-api %s %s timed out", method, path)
        raise TransportError(f"The Admin API did not answer in time ({method} {path}).") from None
    except httpx.HTTPError as e:
        logger.warning("admin-api %s %s transport error: %s", method, path, type(e).__name__)
        raise TransportError(
            f"Could not reach the Admin API ({method} {path}): {type(e).__name__}."
        ) from None
    elapsed_ms = (time.monotonic() - started) * 1000
    logger.info("admin-api %s %s -> %s in %.0f ms", method, path, response.status_code, elapsed_ms)
    _raise_for(response, method, path)
    return response


def _backoff(attempt: int) -> float:
    base = float(getattr(settings, "EINVOICE_RETRY_BACKOFF_SECONDS", 0.5))
    return base * (2**attempt) * (0.5 + random.random() / 2)  # noqa: S311 - jitter


def _request(method: str, path: str, **kwargs: Any) -> httpx.Response:
    if method != "GET":
        return _send(method, path, **kwargs)
    attempts = max(1, int(getattr(settings, "EINVOICE_READ_ATTEMPTS", 3)))
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


def iter_tenants(page_size: int = 100) -> Iterator[dict]:
    """Every tenant, page by page."""
    skip = 0
    while True:
        page = list_tenants(skip=skip, limit=page_size)
        tenants = page.get("tenants", [])
        yield from tenants
        skip += len(tenants)
        if not tenants or skip >= int(page.get("total", 0)):
            return


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
