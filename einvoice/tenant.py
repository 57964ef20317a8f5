"""The one client of the e-invoice.be tenant API, through the official `e-invoice-api` SDK.

Every call the portal makes with a tenant's key goes through `TenantApi`. It:
- reads the tenant's current key once per tenant object and builds one SDK client with it
  (decrypted there only), shared by every call of that request or job step;
- on 401, re-reads the current key (a rotation may just have switched it) and retries once;
- can begin a call in another thread (`start`) while the caller goes on, answering as the
  call would;
- turns SDK errors into einvoice.errors with a readable message (einvoice.messages), marked
  `retryable` (timeouts, connection errors, 5xx, 429) or permanent (everything else);
- never puts a key value in an exception message or a log line.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, Literal, TypeVar

import e_invoice_api
import httpx
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from e_invoice_api import EInvoice
from e_invoice_api.types import DocumentResponse, UblDocumentValidation

from core import crypto
from einvoice import http
from einvoice.errors import ApiError, KeyUnavailable, NotFound, Rejected, Unavailable
from einvoice.messages import key_message, translate
from tenants.models import ApiKey, Tenant

log = logging.getLogger(__name__)
T = TypeVar("T")

WEBHOOK_EVENTS = ["document.sent", "document.sent.failed", "document.received"]


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


@dataclass
class ParticipantLookup:
    """Who holds a Peppol ID on the network, as validate/peppol-id and lookup reveal it."""

    peppol_id: str
    found: bool
    name: str = ""
    country_code: str = ""
    registration_date: str = ""
    access_point: str = ""
    smp_host: str = ""
    document_types: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "peppol_id": self.peppol_id,
            "name": self.name,
            "country_code": self.country_code,
            "registration_date": self.registration_date,
            "access_point": self.access_point,
            "smp_host": self.smp_host,
            "document_types": list(self.document_types),
        }


def _validation(result: Any) -> ValidationResult:
    """validate/json's and validate/ubl's answer: valid or not, and its issues as dicts."""
    issues = [
        {"message": i.message, "location": i.location, "rule_id": i.rule_id, "type": i.type}
        for i in result.issues
    ]
    return ValidationResult(is_valid=bool(result.is_valid), issues=issues)


def _access_point_of(result: Any) -> str:
    """The holder's access point: the endpoint's service description, else the CN of its
    certificate."""
    for endpoint in result.service_metadata.endpoints or []:
        for process in endpoint.processes or []:
            for ep in process.endpoints or []:
                if ep.service_description:
                    return str(ep.service_description)
                details = getattr(ep.certificate, "details", None) or {}
                subject = details.get("subject") if isinstance(details, dict) else None
                if subject and "CN=" in subject:
                    return subject.split("CN=", 1)[1].split(",", 1)[0]
    return ""


INVOICE_DOCTYPE_MARK = "Invoice-2::Invoice"
CREDIT_NOTE_DOCTYPE_MARK = "CreditNote-2::CreditNote"


# --- The client ------------------------------------------------------------------------------
_NOT_READ = object()


class _KeyRefused(Exception):
    """A first 401: the caller re-reads the current key and tries once more."""


_threads: tuple[int, ThreadPoolExecutor] | None = None
_threads_lock = threading.Lock()


def _thread_pool() -> ThreadPoolExecutor:
    """The threads of this process that carry calls begun with `TenantApi.start` (a forked
    worker makes its own: threads do not survive a fork)."""
    global _threads
    with _threads_lock:
        if _threads is None or _threads[0] != os.getpid():
            _threads = (os.getpid(), ThreadPoolExecutor(8, thread_name_prefix="tenant-api"))
        return _threads[1]


class Pending(Generic[T]):
    """A call under way in another thread (`TenantApi.start`); `result()` waits for it and
    answers or raises as the call itself would have."""

    def __init__(self, future: Future[T] | None, again: Callable[[], T]) -> None:
        self._future = future
        self._again = again

    def result(self) -> T:
        if self._future is None:  # not started: the call runs now, here
            return self._again()
        try:
            return self._future.result()
        except _KeyRefused:  # a 401: the key is read again here, in the caller's thread
            return self._again()


def current_key(tenant: Tenant, *, fresh: bool = False) -> ApiKey | None:
    """The tenant's usable key, read once per tenant object (one request, one job step).

    The views' banner and every call of that request share one read; a 401 re-reads it
    (`fresh`), so a rotation or revocation takes effect on the next call at the latest.
    """
    cached = tenant.__dict__.get("_invoices_current_key", _NOT_READ)
    if fresh or cached is _NOT_READ:
        cached = tenant.current_key()
        tenant.__dict__["_invoices_current_key"] = cached
    return cached


def remember_current_key(tenant: Tenant, key: ApiKey) -> None:
    """`key`, read by the caller just now as the tenant's current one, is what
    current_key() answers for this tenant object (one read fewer)."""
    tenant.__dict__["_invoices_current_key"] = key


class TenantApi:
    """Calls with one tenant's current key. Cheap to create; create one per request or job."""

    def __init__(
        self,
        tenant: Tenant,
        *,
        http_client: httpx.Client | None = None,
        _on_401: Literal["retry", "raise", "final"] = "retry",
    ) -> None:
        self.tenant = tenant
        self._http = http_client
        # "retry": re-read the current key and try once more; "raise": leave that to the
        # thread that started the call (`start`); "final": the key was just read again.
        self._on_401 = _on_401

    def _current_key(self, *, fresh: bool = False) -> ApiKey:
        key = current_key(self.tenant, fresh=fresh)
        if key is None or not key.is_held:
            raise KeyUnavailable(key_message("none"))
        return key

    def _sdk(self, key: ApiKey) -> EInvoice:
        # One SDK client per tenant object (one request, one job step), decrypted once: every
        # TenantApi of that request shares it. Another key (a 401 re-read) builds a new one.
        cached = self.tenant.__dict__.get("_einvoice_sdk")
        if cached is not None and cached[0] == (key.pk, id(self._http)):
            return cached[1]
        try:
            value = key.reveal_value()
        except crypto.SecretUnreadable:
            raise KeyUnavailable(key_message("unreadable")) from None
        sdk = EInvoice(
            api_key=value,
            base_url=settings.EINVOICE_API_BASE_URL,
            http_client=self._http or http.client(),
            timeout=float(settings.EINVOICE_TIMEOUT_SECONDS),
            # No SDK retries: a retried create could make a second document. Callers decide.
            max_retries=0,
        )
        self.tenant.__dict__["_einvoice_sdk"] = ((key.pk, id(self._http)), sdk)
        return sdk

    def call(self, operation: Callable[[EInvoice], T]) -> T:
        """Run one SDK call; on 401 re-read the current key and retry once."""
        key = self._current_key()
        try:
            return self._run(operation, key, retry_on_401=self._on_401 != "final")
        except _KeyRefused:
            if self._on_401 == "raise":
                raise
            self._refused(key)
        return self._run(operation, self._current_key(fresh=True), retry_on_401=False)

    def _refused(self, key: ApiKey) -> None:
        log.info("tenant %s: 401 with key %s, re-reading the current key", self.tenant.pk, key.pk)

    def start(self, method: Callable[[TenantApi], T]) -> Pending[T]:
        """Begin `method(api)` (one of this class's calls) in another thread, so the caller
        does its own work while e-invoice.be answers: the editor's Check draws its page
        meanwhile. The key is read and the client built here, so that thread touches no
        database; it speaks the caller's language; a 401 re-reads the key in `result()`."""
        try:
            self._sdk(self._current_key())
        except ApiError:  # no usable key: result() makes the call here, and it fails as it would
            return Pending(None, lambda: method(self))
        in_thread = TenantApi(self.tenant, http_client=self._http, _on_401="raise")
        language = translation.get_language()

        def run() -> T:
            with translation.override(language):
                return method(in_thread)

        def again() -> T:
            self._refused(self._current_key())
            self._current_key(fresh=True)
            return method(TenantApi(self.tenant, http_client=self._http, _on_401="final"))

        return Pending(_thread_pool().submit(run), again)

    def _run(self, operation: Callable[[EInvoice], T], key: ApiKey, *, retry_on_401: bool) -> T:
        error: Exception
        try:
            return operation(self._sdk(key))
        except e_invoice_api.AuthenticationError as exc:
            error = _KeyRefused() if retry_on_401 else translate(exc)
        except Exception as exc:
            error = translate(exc)
        # Raised out here, not in the handler, so that not even __context__ keeps the SDK's
        # exception (its request carries the key).
        raise error

    # --- Documents -----------------------------------------------------------------------------
    # The portal's payloads (invoices.payload) are built in the API's wire form, so they go
    # through the SDK's raw `post` with the typed methods' response models: the typed methods
    # run the SDK's TypedDict transform over the whole body on every call (typing.get_type_hints
    # of about 50 annotated fields each time: 5-6 ms of CPU a call here), which leaves such a
    # body unchanged (tests/einvoice/test_wire_payload.py holds that). Fields the SDK does not
    # model (billing_reference) travel in the same body.
    def validate_json(self, payload: dict[str, Any]) -> ValidationResult:
        def op(c: EInvoice) -> Any:
            return c.post("/api/validate/json", body=payload, cast_to=UblDocumentValidation)

        try:
            result = self.call(op)
        except Rejected as exc:
            # 422 with field errors is a validation result, not a failure of the screen.
            if exc.issues:
                return ValidationResult(is_valid=False, issues=exc.issues)
            raise
        return _validation(result)

    def create_document(self, payload: dict[str, Any]) -> Any:
        return self.call(
            lambda c: c.post("/api/documents/", body=payload, cast_to=DocumentResponse)
        )

    def retrieve_document(self, remote_id: str) -> Any:
        return self.call(lambda c: c.documents.retrieve(remote_id))

    def send_document(self, remote_id: str, **query: str) -> Any:
        return self.call(lambda c: c.documents.send(remote_id, **query))

    def delete_document(self, remote_id: str) -> Any:
        return self.call(lambda c: c.documents.delete(remote_id))

    def timeline(self, remote_id: str) -> list[Any]:
        return list(self.call(lambda c: c.documents.retrieve_timeline(remote_id)).events)

    def _download(self, url: str | None, unavailable: str) -> bytes:
        """A signed URL's file, fetched without the API key on purpose (the URL is the
        credential, and the key must not leave for another host)."""
        if not url or not url.startswith(("http://", "https://")):
            raise NotFound(unavailable)
        try:
            response = (self._http or http.client()).get(url)
        except httpx.HTTPError:
            raise Unavailable(unavailable) from None
        if response.status_code != 200:
            raise Unavailable(unavailable)
        return response.content

    def ubl(self, remote_id: str) -> tuple[str, bytes]:
        """(file name, UBL XML)."""
        info = self.call(lambda c: c.documents.ubl.get(remote_id))
        if not info.signed_url:
            raise NotFound(_("e-invoice.be has no UBL file for this document yet."))
        content = self._download(info.signed_url, _("The UBL file cannot be downloaded right now."))
        return info.file_name or f"{remote_id}.xml", content

    def attachments(self, remote_id: str) -> list[Any]:
        return list(self.call(lambda c: c.documents.attachments.list(remote_id)))

    def attachment_content(self, remote_id: str, attachment_id: str) -> bytes:
        """A document's attachment, through its signed link (valid for an hour)."""
        info = self.call(
            lambda c: c.documents.attachments.retrieve(attachment_id, document_id=remote_id)
        )
        return self._download(info.file_url, _("The attachment cannot be downloaded right now."))

    # --- Uploads (multipart) -------------------------------------------------------------
    def validate_ubl(self, file_name: str, content: bytes) -> ValidationResult:
        return _validation(self.call(lambda c: c.validate.validate_ubl(file=(file_name, content))))

    def create_from_ubl(self, file_name: str, content: bytes) -> Any:
        return self.call(lambda c: c.documents.ubl.create_from_ubl(file=(file_name, content)))

    def convert_pdf(self, file_name: str, content: bytes) -> Any:
        """Start the asynchronous conversion of a PDF; its task (id and status)."""
        return self.call(lambda c: c.conversion.create_pdf(file=(file_name, content)))

    def conversion_status(self, task_id: str) -> Any:
        return self.call(lambda c: c.conversion.retrieve_pdf(task_id))

    def conversion_result(self, task_id: str) -> Any:
        return self.call(lambda c: c.conversion.retrieve_pdf_result(task_id))

    def find_drafts(self, invoice_id: str) -> list[Any]:
        page = self.call(lambda c: c.drafts.list(search=invoice_id, state="DRAFT", page_size=20))
        return [d for d in page.items if d.invoice_id == invoice_id]

    def inbox(self, page: int = 1, page_size: int = 50) -> Any:
        return self.call(lambda c: c.inbox.list(page=page, page_size=page_size))

    def me(self) -> Any:
        return self.call(lambda c: c.me.retrieve())

    def stats(self, start_date: date, end_date: date) -> Any:
        """Documents sent and received per day (the API's billing counters) in the period."""
        return self.call(
            lambda c: c.stats.retrieve(aggregation="DAY", start_date=start_date, end_date=end_date)
        )

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

    def lookup_participant(self, peppol_id: str) -> ParticipantLookup:
        """validate/peppol-id (one call); only for an ID the network knows, lookup too (the
        SMP host and access point). Not in the SML (no DNS entry) = free."""
        valid = self.call(lambda c: c.validate.validate_peppol_id(peppol_id=peppol_id))
        if not valid.dns_valid and not valid.is_valid:
            return ParticipantLookup(peppol_id=peppol_id, found=False)
        card = valid.business_card
        found = ParticipantLookup(
            peppol_id=peppol_id,
            found=True,
            name=(card.name if card and card.name else "") or "",
            country_code=(card.country_code if card and card.country_code else "") or "",
            registration_date=str(card.registration_date)
            if card and card.registration_date
            else "",
            document_types=list(valid.supported_document_types or []),
        )
        result = self.call(lambda c: c.lookup.retrieve(peppol_id=peppol_id))
        found.smp_host = str(result.dns_info.smp_hostname or "")
        found.access_point = _access_point_of(result)
        entities = result.business_card.entities or []
        if entities and not found.name:
            found.name = entities[0].name or ""
        if entities and not found.registration_date:
            found.registration_date = entities[0].registration_date or ""
        if not found.document_types:
            found.document_types = [
                t.value for e in result.service_metadata.endpoints for t in e.document_types
            ]
        return found

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
