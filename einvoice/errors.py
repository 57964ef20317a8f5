"""The one vocabulary for failed calls to e-invoice.be, whichever API (Admin or tenant).

Every error says what a caller needs to decide: `status` (HTTP status, None when no answer
came), `retryable` (can the same call work later?), `retry_after` (seconds, or None),
`detail` (the API's own words), `field_errors` ({field: [messages]}) and, for the tenant
API's validation answers, `issues`. `str()` is the readable message.

Nothing here ever holds a key: every text is masked, and no request, response or SDK
exception (whose headers carry Authorization) is kept.
"""

from __future__ import annotations

from typing import Any

from core.logfilter import mask_secrets


def _masked_issue(issue: dict[str, Any]) -> dict[str, Any]:
    return {k: mask_secrets(v) if isinstance(v, str) else v for k, v in issue.items()}


class ApiError(Exception):
    """Base of every e-invoice.be error. `str()` is safe to log and to show: no secrets."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        field_errors: dict[str, list[str]] | None = None,
        issues: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(mask_secrets(str(message)))
        self.status = status
        self.detail = mask_secrets(str(detail or ""))[:1000]
        self.field_errors = {
            str(field): [mask_secrets(str(m)) for m in messages]
            for field, messages in (field_errors or {}).items()
        }
        self.issues = [_masked_issue(i) for i in issues or []]
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, status={self.status!r})"


# --- the call cannot work as it is ------------------------------------------------------
class Unauthorized(ApiError):
    """401/403: the key is wrong, revoked, or lacks the right."""


class KeyUnavailable(Unauthorized):
    """The tenant has no usable key: none, not held by the portal, unreadable, or refused."""


class NotFound(ApiError):
    """404: the API does not know the tenant, key or document (any more)."""


class Rejected(ApiError):
    """The API refused the request as it is (a 4xx other than 401/403/404/429)."""


class Invalid(Rejected):
    """400/406/422: the input is not valid; `field_errors` and `issues` say where."""


class Conflict(Rejected):
    """409: e.g. the tenant name is taken, or the Peppol ID is registered elsewhere."""


# --- the same call may work later -------------------------------------------------------
class Unavailable(ApiError):
    """The API is slow, down, busy or answered nonsense: the same call may work later."""

    retryable = True


class RateLimited(Unavailable):
    """429, or no capacity left in the shared quota: try again after `retry_after` s."""


class QuotaUnavailable(RateLimited):
    """The shared quota had no capacity within the allowed wait; nothing was sent."""


class ServerError(Unavailable):
    """5xx, or an answer that could not be read."""


class TransportError(Unavailable):
    """Timeout or connection failure: the request may or may not have reached the API."""


class TimedOut(TransportError):
    """No answer within EINVOICE_TIMEOUT_SECONDS."""


def error_class(status: int) -> type[ApiError]:
    """The error for an HTTP status of 400 or more."""
    if status in (401, 403):
        return Unauthorized
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    return {404: NotFound, 409: Conflict, 400: Invalid, 406: Invalid, 422: Invalid}.get(
        status, Rejected
    )
