"""The one client of the e-invoice.be tenant API, through the official `e-invoice-api` SDK.

Every call the portal makes with a tenant's key goes through `TenantApi`. It:
- reads the tenant's current key from the database for each call and decrypts it only there;
- on 401, re-reads the current key (a rotation may just have switched it) and retries once;
- turns SDK errors into `TenantApiError` subclasses with a readable message, marked
  `retryable` (timeouts, connection errors, 5xx, 429) or permanent (everything else);
- never puts a key value in an exception message or a log line.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import e_invoice_api
import httpx
from django.conf import settings
from django.utils.translation import gettext as _
from e_invoice_api import EInvoice

from tenants import crypto
from tenants.logfilter import mask_secrets
from tenants.models import ApiKey, Tenant

log = logging.getLogger(__name__)
T = TypeVar("T")

WEBHOOK_EVENTS = ["document.sent", "document.sent.failed", "document.received"]


# --- Errors --------------------------------------------------------------------------------
class TenantApiError(Exception):
    """A call failed. `str(exc)` is a readable, secret-free sentence for the customer."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        issues: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        # The API's own words (masked), for the detail line under the readable message.
        self.detail = mask_secrets(detail)[:1000]
        self.issues = issues or []
        self.retry_after = retry_after


class PermanentError(TenantApiError):
    """Repeating the same call will fail the same way."""


class RetryableError(TenantApiError):
    """The API is slow, down or busy: the same call may work later."""

    retryable = True


class KeyUnavailable(PermanentError):
    """The tenant has no usable key: none, not held by the portal, unreadable, or refused."""


class NotFound(PermanentError):
    pass


class Rejected(PermanentError):
    """The API refused the request as it is (400, 405, 406, 409, 422)."""


# --- Plumbing --------------------------------------------------------------------------------
_clients: dict[tuple[int, str, float], httpx.Client] = {}
_clients_lock = threading.Lock()


def _http_client() -> httpx.Client:
    """One connection pool per process (forked workers get their own), reused by every call."""
    timeout = float(settings.EINVOICE_TIMEOUT_SECONDS)
    key = (os.getpid(), settings.EINVOICE_API_BASE_URL, timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None or client.is_closed:
            client = httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
                follow_redirects=False,
            )
            _clients[key] = client
        return client


def _detail(exc: e_invoice_api.APIStatusError) -> tuple[str, list[dict[str, Any]]]:
    """The API's message, and FastAPI-style field errors turned into validation issues."""
    body = exc.body
    if isinstance(body, dict):
        detail = body.get("detail", body.get("message", ""))
        if isinstance(detail, list):
            issues = []
            for item in detail:
                if not isinstance(item, dict):
                    continue
                loc = [str(p) for p in item.get("loc", []) if p != "body"]
                location = ""
                for part in loc:
                    location += (
                        f"[{part}]" if part.isdigit() else (f".{part}" if location else part)
                    )
                issues.append(
                    {
                        "message": str(item.get("msg", "")),
                        "location": location or None,
                        "type": "error",
                        "rule_id": None,
                    }
                )
            return "; ".join(i["message"] for i in issues), issues
        issues = [
            {
                "message": str(i.get("message", "")),
                "location": i.get("location"),
                "rule_id": i.get("rule_id"),
                "type": i.get("type") if i.get("type") in ("error", "warning") else "error",
            }
            for i in body.get("issues") or []
            if isinstance(i, dict)
        ]
        return str(detail), issues
    if isinstance(body, str):
        return body[:500], []
    return "", []


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


def translate(exc: Exception) -> TenantApiError:
    """SDK exception → our typed, readable exception (never carries the key)."""
    if isinstance(exc, TenantApiError):
        return exc
    if isinstance(exc, e_invoice_api.APITimeoutError):
        return RetryableError(_("e-invoice.be did not answer in time. Please try again."))
    if isinstance(exc, e_invoice_api.APIConnectionError):
        return RetryableError(_("e-invoice.be cannot be reached right now. Please try again."))
    if isinstance(exc, e_invoice_api.APIStatusError):
        status = exc.status_code
        detail, issues = _detail(exc)
        kw: dict[str, Any] = {"status": status, "detail": detail, "issues": issues}
        if status == 429:
            return RetryableError(
                _("e-invoice.be is busy (too many requests). Please try again in a moment."),
                retry_after=_retry_after(exc.response),
                **kw,
            )
        if status >= 500:
            return RetryableError(
                _("e-invoice.be had a temporary problem (error %(status)s). Please try again.")
                % {"status": status},
                **kw,
            )
        if status == 401:
            return KeyUnavailable(key_message("refused"), **kw)
        if status == 404:
            return NotFound(_("e-invoice.be does not know this document."), **kw)
        messages = {
            400: _("e-invoice.be refused the request: %(detail)s"),
            405: _("This document is no longer a draft at e-invoice.be: %(detail)s"),
            406: _("The document is not valid Peppol BIS Billing 3.0: %(detail)s"),
            409: _("e-invoice.be does not allow sending from this Peppol ID: %(detail)s"),
            422: _("e-invoice.be refused some fields: %(detail)s"),
        }
        template = messages.get(status, _("e-invoice.be refused the request: %(detail)s"))
        return Rejected(template % {"detail": mask_secrets(detail) or status}, **kw)
    if isinstance(exc, e_invoice_api.APIResponseValidationError):
        return RetryableError(_("e-invoice.be sent an answer the portal does not understand."))
    if isinstance(exc, crypto.SecretUnreadable):
        return KeyUnavailable(key_message("unreadable"))
    return RetryableError(_("Unexpected problem while calling e-invoice.be."))


def key_message(reason: str) -> str:
    """What happened to the key, and what the customer should do."""
    if reason == "none":
        return _(
            "Your e-invoicing access is not active: this account has no API key (it was revoked "
            "or never issued). Ask your reseller to issue a new key; your documents stay here."
        )
    if reason == "unreadable":
        return _(
            "Your e-invoicing access cannot be used right now: the portal cannot read your API "
            "key. Ask your reseller to check the portal's encryption keys or issue a new key."
        )
    return _(
        "e-invoice.be refused your API key: it was revoked or replaced. Ask your reseller to "
        "issue a new key; your documents stay here and nothing was sent."
    )


@dataclass
class ValidationResult:
    is_valid: bool
    issues: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PeppolCheck:
    peppol_id: str
    registered: bool
    can_receive: bool
    name: str = ""
    document_types: list[str] = field(default_factory=list)


INVOICE_DOCTYPE_MARK = "Invoice-2::Invoice"
CREDIT_NOTE_DOCTYPE_MARK = "CreditNote-2::CreditNote"


# --- The client ------------------------------------------------------------------------------
_NOT_READ = object()


def current_key(tenant: Tenant, *, fresh: bool = False) -> ApiKey | None:
    """The tenant's usable key, read once per tenant object (one request, one job step).

    The views' banner and every call of that request share one read; a 401 re-reads it
    (`fresh`), so a rotation or revocation takes effect on the next call at the latest.
    """
    cached = tenant.__dict__.get("_invoices_current_key", _NOT_READ)
    if fresh or cached is _NOT_READ:
        cached = ApiKey.objects.filter(
            tenant_id=tenant.pk, is_current=True, revoked_at__isnull=True
        ).first()
        tenant.__dict__["_invoices_current_key"] = cached
    return cached


@functools.cache
def _parameters(function: Callable[..., Any]) -> frozenset[str]:
    # inspect.signature is slow and the SDK's methods never change at run time.
    return frozenset(inspect.signature(function).parameters)


class TenantApi:
    """Calls with one tenant's current key. Cheap to create; create one per request or job."""

    def __init__(self, tenant: Tenant, *, http_client: httpx.Client | None = None) -> None:
        self.tenant = tenant
        self._http = http_client

    def _current_key(self, *, fresh: bool = False) -> ApiKey:
        key = current_key(self.tenant, fresh=fresh)
        if key is None or not key.is_held:
            raise KeyUnavailable(key_message("none"))
        return key

    def _sdk(self, key: ApiKey) -> EInvoice:
        try:
            value = key.reveal_value()
        except crypto.SecretUnreadable:
            raise KeyUnavailable(key_message("unreadable")) from None
        return EInvoice(
            api_key=value,
            base_url=settings.EINVOICE_API_BASE_URL,
            http_client=self._http or _http_client(),
            timeout=float(settings.EINVOICE_TIMEOUT_SECONDS),
            # No SDK retries: a retried create could make a second document. Callers decide.
            max_retries=0,
        )

    def call(self, operation: Callable[[EInvoice], T]) -> T:
        """Run one SDK call; on 401 re-read the current key and retry once."""
        key = self._current_key()
        try:
            return operation(self._sdk(key))
        except e_invoice_api.AuthenticationError:
            log.info(
                "tenant %s: 401 with key %s, re-reading the current key", self.tenant.pk, key.pk
            )
        except Exception as exc:
            raise translate(exc) from None
        fresh = self._current_key(fresh=True)
        try:
            return operation(self._sdk(fresh))
        except Exception as exc:
            raise translate(exc) from None

    # --- Documents ---------------------------------------------------------------------------
    @staticmethod
    def _split(method: Callable[..., Any], payload: dict[str, Any]) -> dict[str, Any]:
        """Known fields as SDK keyword arguments, the rest (e.g. billing_reference) as extra_body."""
        names = _parameters(method.__func__ if hasattr(method, "__func__") else method)
        kwargs = {k: v for k, v in payload.items() if k in names and not k.startswith("extra_")}
        extra = {k: v for k, v in payload.items() if k not in kwargs}
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def validate_json(self, payload: dict[str, Any]) -> ValidationResult:
        def op(c: EInvoice) -> Any:
            return c.validate.validate_json(**self._split(c.validate.validate_json, payload))

        try:
            result = self.call(op)
        except Rejected as exc:
            # 422 with field errors is a validation result, not a failure of the screen.
            if exc.issues:
                return ValidationResult(is_valid=False, issues=exc.issues)
            raise
        issues = [
            {
                "message": i.message,
                "location": i.location,
                "rule_id": i.rule_id,
                "type": i.type,
            }
            for i in result.issues
        ]
        return ValidationResult(is_valid=bool(result.is_valid), issues=issues)

    def create_document(self, payload: dict[str, Any]) -> Any:
        return self.call(lambda c: c.documents.create(**self._split(c.documents.create, payload)))

    def retrieve_document(self, remote_id: str) -> Any:
        return self.call(lambda c: c.documents.retrieve(remote_id))

    def send_document(self, remote_id: str, **query: str) -> Any:
        return self.call(lambda c: c.documents.send(remote_id, **query))

    def delete_document(self, remote_id: str) -> Any:
        return self.call(lambda c: c.documents.delete(remote_id))

    def timeline(self, remote_id: str) -> list[Any]:
        return list(self.call(lambda c: c.documents.retrieve_timeline(remote_id)).events)

    def ubl(self, remote_id: str) -> tuple[str, bytes]:
        """(file name, UBL XML). The signed URL is fetched without the API key on purpose."""
        info = self.call(lambda c: c.documents.ubl.get(remote_id))
        if not info.signed_url or not info.signed_url.startswith(("http://", "https://")):
            raise NotFound(_("e-invoice.be has no UBL file for this document yet."))
        try:
            response = (self._http or _http_client()).get(info.signed_url)
        except httpx.HTTPError:
            raise RetryableError(_("The UBL file cannot be downloaded right now.")) from None
        if response.status_code != 200:
            raise RetryableError(_("The UBL file cannot be downloaded right now."))
        return info.file_name or f"{remote_id}.xml", response.content

    def find_drafts(self, invoice_id: str) -> list[Any]:
        page = self.call(lambda c: c.drafts.list(search=invoice_id, state="DRAFT", page_size=20))
        return [d for d in page.items if d.invoice_id == invoice_id]

    def inbox(self, page: int = 1, page_size: int = 50) -> Any:
        return self.call(lambda c: c.inbox.list(page=page, page_size=page_size))

    def me(self) -> Any:
        return self.call(lambda c: c.me.retrieve())

    # --- Peppol ------------------------------------------------------------------------------
    def check_peppol_id(self, peppol_id: str, document_type: str) -> PeppolCheck:
        result = self.call(lambda c: c.validate.validate_peppol_id(peppol_id=peppol_id))
        types = list(result.supported_document_types or [])
        mark = CREDIT_NOTE_DOCTYPE_MARK if document_type == "CREDIT_NOTE" else INVOICE_DOCTYPE_MARK
        name = (
            result.business_card.name if result.business_card and result.business_card.name else ""
        )
        return PeppolCheck(
            peppol_id=peppol_id,
            registered=bool(result.is_valid),
            can_receive=bool(result.is_valid) and any(mark in t for t in types),
            name=name or "",
            document_types=types,
        )

    def search_participants(self, query: str, country_code: str | None = None) -> list[Any]:
        kwargs: dict[str, Any] = {"query": query}
        if country_code:
            kwargs["country_code"] = country_code
        result = self.call(lambda c: c.lookup.retrieve_participants(**kwargs))
        return list(result.participants or [])

    # --- Webhooks ----------------------------------------------------------------------------
    def list_webhooks(self) -> list[Any]:
        return list(self.call(lambda c: c.webhooks.list()))

    def delete_webhook(self, webhook_id: str) -> Any:
        return self.call(lambda c: c.webhooks.delete(webhook_id))

    def create_webhook(self, url: str) -> Any:
        return self.call(lambda c: c.webhooks.create(url=url, events=WEBHOOK_EVENTS, enabled=True))
