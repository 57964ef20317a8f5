"""Plumbing both e-invoice.be clients share: the connection pool, Retry-After, error bodies,
and the mapping of failures (httpx's, the SDK's, HTTP statuses) to `einvoice.errors`.

The texts of the errors are the caller's (a `Describe`): each API says different things to
different people, but the class, status, retry delay and field errors are decided here once.
"""

from __future__ import annotations

import functools
import os
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import e_invoice_api
import httpx
from django.conf import settings

from core.logfilter import mask_secrets
from einvoice.errors import (
    ApiError,
    Rejected,
    ServerError,
    TimedOut,
    TransportError,
    Unavailable,
    error_class,
)


@dataclass(frozen=True)
class Failure:
    """What went wrong, for a client to put into words (its `Describe`)."""

    kind: type[ApiError]
    status: int | None = None  # None: no answer came
    detail: str = ""  # the API's words (masked), or the name of the failure without an answer
    retry_after: float | None = None


Describe = Callable[[Failure], str]

_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()


# --- the pool -------------------------------------------------------------------------
def timeout() -> httpx.Timeout:
    seconds = float(settings.EINVOICE_TIMEOUT_SECONDS)
    # A slow read may be a busy API; a slow connect is a dead one: give up on it sooner.
    return httpx.Timeout(seconds, connect=min(seconds, 5.0))


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The CA bundle read once per process tree: every client shares it (reading it costs
    tens of milliseconds), and a worker's pool processes inherit the parent's (warm_up)."""
    return httpx.create_ssl_context()


def warm_up() -> None:
    """What a process's first call would load (portal.celery.warm_up, before a pool forks):
    the TLS context and the SDK's resource modules, which it imports on first use."""
    import e_invoice_api.resources  # noqa: F401

    tls_context()


def client(
    *,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """One pooled client per process and configuration (forked workers get their own)."""
    headers = dict(headers or {})
    config = (
        os.getpid(),
        base_url,
        tuple(sorted(headers.items())),
        float(settings.EINVOICE_TIMEOUT_SECONDS),
        id(transport),
    )
    with _clients_lock:
        pooled = _clients.get(config)
        if pooled is None or pooled.is_closed:
            pooled = httpx.Client(
                base_url=base_url,
                headers=headers,
                timeout=timeout(),
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
                transport=transport,
                verify=tls_context(),
                follow_redirects=False,
            )
            _clients[config] = pooled
        return pooled


# --- reading answers ------------------------------------------------------------------
def retry_after(headers: Mapping[str, str], default: float | None = None) -> float | None:
    """Retry-After in seconds from now: either form of RFC 9110 (seconds or an HTTP date)."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return default


@dataclass
class ErrorBody:
    """An error answer read: its text, its field errors, and its validation issues."""

    detail: str = ""
    field_errors: dict[str, list[str]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)


def _location(loc: list[Any]) -> list[str]:
    # ["body", "items", 0, "unit_price"] → ["items", "0", "unit_price"]
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return parts


def _dotted(parts: list[str]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text


def _fastapi_errors(items: list[Any]) -> ErrorBody:
    """FastAPI's {"detail": [{"loc", "msg", "type"}]}."""
    out = ErrorBody()
    texts = []
    for item in items:
        if not isinstance(item, dict):
            continue
        message = str(item.get("msg", "invalid"))
        parts = _location(list(item.get("loc") or []))
        names = [p for p in parts if not p.isdigit()]
        out.field_errors.setdefault(names[0] if names else "__all__", []).append(message)
        out.issues.append(
            {
                "message": message,
                "location": _dotted(parts) or None,
                "type": "error",
                "rule_id": None,
            }
        )
        texts.append(f"{'.'.join(parts)}: {message}" if parts else message)
    out.detail = "; ".join(texts)
    return out


def parse_error_body(body: Any) -> ErrorBody:
    """Either documented error shape, or whatever else came, as detail and field errors.

    ErrorResponse {"detail": "<string>"} gives the text as a form-wide error ("__all__");
    FastAPI's {"detail": [{"loc", "msg", "type"}]} gives one error per field. Nothing else
    in a body is read: the OpenAPI file promises no other key (not even `issues` on a 406;
    validation issues come from the validate endpoints).
    """
    if isinstance(body, str):
        body = body.strip()[:500]
        return ErrorBody(detail=body, field_errors={"__all__": [body]} if body else {})
    if isinstance(body, list):
        return _fastapi_errors(body)
    if not isinstance(body, dict):
        return ErrorBody()
    detail = body.get("detail", body.get("message", ""))
    if isinstance(detail, list):
        return _fastapi_errors(detail)
    text = str(detail or "")
    return ErrorBody(detail=text, field_errors={"__all__": [text]} if text else {})


def response_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:300]


# --- failures → errors ----------------------------------------------------------------
def error_for_status(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    describe: Describe,
    *,
    default_retry_after: float | None = None,
) -> ApiError:
    """The error for an answer of HTTP `status` (400 or more)."""
    cls = error_class(status)
    parsed = parse_error_body(body)
    wait = retry_after(headers, default_retry_after) if status == 429 else None
    message = describe(Failure(cls, status, mask_secrets(parsed.detail), wait))
    return cls(
        message,
        status=status,
        detail=parsed.detail,
        # Field errors are about the input: only a refusal of it has them.
        field_errors=parsed.field_errors if issubclass(cls, Rejected) else None,
        issues=parsed.issues,
        retry_after=wait,
    )


def error_for_response(
    response: httpx.Response, describe: Describe, *, default_retry_after: float | None = None
) -> ApiError:
    return error_for_status(
        response.status_code,
        response_body(response),
        response.headers,
        describe,
        default_retry_after=default_retry_after,
    )


def error_for_exception(exc: Exception, describe: Describe) -> ApiError:
    """Any failure of a call, raised by httpx or by the SDK, as one of our errors."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, e_invoice_api.APIStatusError):
        return error_for_status(exc.status_code, exc.body, exc.response.headers, describe)
    # The SDK wraps httpx's timeouts and connection errors in these two.
    if isinstance(exc, httpx.TimeoutException | e_invoice_api.APITimeoutError):
        return TimedOut(describe(Failure(TimedOut, detail=type(exc).__name__)))
    if isinstance(exc, httpx.HTTPError | e_invoice_api.APIConnectionError):
        return TransportError(describe(Failure(TransportError, detail=type(exc).__name__)))
    if isinstance(exc, e_invoice_api.APIResponseValidationError):
        return ServerError(describe(Failure(ServerError, detail=type(exc).__name__)))
    return Unavailable(describe(Failure(Unavailable, detail=type(exc).__name__)))
