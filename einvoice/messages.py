"""What staff and customers are told when a call to e-invoice.be fails.

`explain` is for reseller staff (screens, job rows) about Admin API errors; `translate` and
`key_message` are for customers about tenant API errors. Every text says what happened and
what to do, is translated, and never carries a key.
"""

from __future__ import annotations

import math

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from core import crypto, texts
from core.logfilter import mask_secrets
from einvoice import http
from einvoice.errors import (
    ApiError,
    Conflict,
    Invalid,
    KeyUnavailable,
    NotFound,
    RateLimited,
    ServerError,
    TimedOut,
    TransportError,
    Unauthorized,
    Unavailable,
)
from tenants import checks
from tenants.models import Tenant


# --- staff: the Admin API ---------------------------------------------------------------
def describe_for_staff(method: str, path: str) -> http.Describe:
    """The texts of a failed Admin API call: for logs and job rows, and the detail that
    `explain` puts into words. Untranslated on purpose: they quote the API and the setting."""
    where = f"{method} {path}"

    def describe(failure: http.Failure) -> str:
        kind, status, text = failure.kind, failure.status, failure.detail
        if issubclass(kind, TimedOut):
            return f"The Admin API did not answer in time ({where})."
        if issubclass(kind, TransportError):
            return f"Could not reach the Admin API ({where}): {text}."
        if issubclass(kind, Unauthorized):
            return (
                f"The Admin API refused the organization key (HTTP {status}) on {where}. "
                "Check EINVOICE_ORG_API_KEY."
            )
        if issubclass(kind, NotFound):
            return text or f"Not found: {where}"
        if issubclass(kind, Conflict):
            return text or "Conflict"
        if issubclass(kind, Invalid):
            return text or f"Invalid request (HTTP {status})"
        if issubclass(kind, RateLimited):
            return f"The Admin API rate limit was reached; retry in {failure.retry_after:.0f}s."
        if issubclass(kind, ServerError):
            return f"The Admin API failed (HTTP {status}) on {where}: {text}".rstrip(": ")
        return f"Unexpected HTTP {status} on {where}: {text}"

    return describe


REGISTERED_BY_OUR_TENANT = texts.define(
    "peppol.registered_by_our_tenant",
    gettext_lazy(
        "Peppol ID %(id)s is already registered on Peppol by your tenant %(other)s. "
        "If that registration is a mistake, unregister %(other)s first; otherwise "
        "check the ID with the customer."
    ),
)


def registered_by_our_tenant(peppol_id: str, other: str) -> str:
    """A Coded text: the audit log keeps a registration refused for it as a code."""
    return texts.Coded(REGISTERED_BY_OUR_TENANT, id=peppol_id, other=other)


def _explain_conflict(error: Conflict, peppol_id: str, name: str, tenant: Tenant | None) -> str:
    owner = checks.peppol_owner(peppol_id, exclude=tenant) if peppol_id else None
    if owner is not None:
        return registered_by_our_tenant(peppol_id, owner.name)
    if peppol_id:
        return _(
            "Peppol ID %(id)s is already registered on the Peppol network by someone else. "
            "Check the ID with the customer: if they are registered with another access "
            "point, they must ask that provider to deregister it before it can be registered "
            "here. (e-invoice.be said: %(detail)s)"
        ) % {"id": peppol_id, "detail": error}
    if name:
        return _(
            "The name %(name)s (or one differing only in hyphens or dots) is already used on "
            "e-invoice.be; names stay taken after a delete. Try %(suggestion)s."
        ) % {"name": name, "suggestion": checks.suggest_free_name(name)}
    return str(error)


def _explain_unavailable(error: Unavailable) -> str:
    if isinstance(error, RateLimited):
        return _(
            "The e-invoice.be quota is used up for now. Nothing was sent; try again in "
            "%(seconds)d seconds."
        ) % {"seconds": max(1, round(error.retry_after or 0))}
    if isinstance(error, TransportError):
        return _(
            "e-invoice.be did not answer (%(detail)s). The change may or may not have been "
            "made: refresh the tenant before you try again."
        ) % {"detail": error}
    return _(
        "e-invoice.be had an error (%(detail)s). Try again in a minute; refresh the tenant "
        "first if this was a change."
    ) % {"detail": error}


def explain(
    error: Exception, *, peppol_id: str = "", name: str = "", tenant: Tenant | None = None
) -> str:
    """A message that says what happened and what to do, for staff (screens, job rows).

    `tenant` is the tenant acted on, so that a Peppol ID held by another of our own tenants
    can be named. Errors that are not e-invoice.be's (our own checks) speak for themselves."""
    if not isinstance(error, ApiError) or isinstance(error, KeyUnavailable):
        return str(error)
    if isinstance(error, Unauthorized):
        return _(
            "e-invoice.be refused the portal's organization key. An administrator must check "
            "EINVOICE_ORG_API_KEY; nothing was changed."
        )
    if isinstance(error, NotFound):
        return _(
            "e-invoice.be does not know this tenant or key (any more): %(detail)s. Refresh the "
            "tenant to bring the portal up to date."
        ) % {"detail": error}
    if isinstance(error, Conflict):
        return _explain_conflict(error, peppol_id, name, tenant)
    if isinstance(error, Unavailable):
        return _explain_unavailable(error)
    if isinstance(error, Invalid):
        return _("e-invoice.be refused the request: %(detail)s") % {"detail": error}
    return str(error)


# --- customers: the tenant API ----------------------------------------------------------
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


def _refusal(status: int, detail: str) -> str:
    templates = {
        400: _("e-invoice.be refused the request: %(detail)s"),
        405: _("This document is no longer a draft at e-invoice.be: %(detail)s"),
        406: _("The document is not valid Peppol BIS Billing 3.0: %(detail)s"),
        409: _("e-invoice.be does not allow sending from this Peppol ID: %(detail)s"),
        422: _("e-invoice.be refused some fields: %(detail)s"),
    }
    template = templates.get(status, _("e-invoice.be refused the request: %(detail)s"))
    return template % {"detail": mask_secrets(detail) or status}


def _without_answer(kind: type[ApiError]) -> str:
    if issubclass(kind, TimedOut):
        return _("e-invoice.be did not answer in time. Please try again.")
    if issubclass(kind, TransportError):
        return _("e-invoice.be cannot be reached right now. Please try again.")
    if issubclass(kind, ServerError):
        return _("e-invoice.be sent an answer the portal does not understand.")
    return _("Unexpected problem while calling e-invoice.be.")


def _rate_limited(wait: float | None) -> str:
    if wait is None:  # no Retry-After: the quotas are not published; a minute is safe
        return _(
            "e-invoice.be received too many requests from your account. Nothing was done: "
            "please wait a minute, then try again."
        )
    seconds = max(1, math.ceil(wait))
    return ngettext(
        "e-invoice.be received too many requests from your account. Nothing was done: "
        "please wait %(seconds)d second, then try again.",
        "e-invoice.be received too many requests from your account. Nothing was done: "
        "please wait %(seconds)d seconds, then try again.",
        seconds,
    ) % {"seconds": seconds}


def describe_for_customer(failure: http.Failure) -> str:
    """The customer's sentence for a failed tenant API call (an einvoice.http.Describe)."""
    status = failure.status
    if status is None:
        return _without_answer(failure.kind)
    if status == 429:
        return _rate_limited(failure.retry_after)
    if status >= 500:
        return _("e-invoice.be had a temporary problem (error %(status)s). Please try again.") % {
            "status": status
        }
    if status == 401:
        return key_message("refused")
    if status == 404:
        return _("e-invoice.be does not know this document.")
    return _refusal(status, failure.detail)


def translate(exc: Exception) -> ApiError:
    """Any failure of a tenant API call (SDK, httpx, ours) → our typed, readable error."""
    if isinstance(exc, crypto.SecretUnreadable):
        return KeyUnavailable(key_message("unreadable"))
    error = http.error_for_exception(exc, describe_for_customer)
    if error.status == 401 and not isinstance(error, KeyUnavailable):
        # The tenant's key was refused (the one retry with a re-read key is the caller's).
        return KeyUnavailable(str(error), status=401, detail=error.detail)
    return error
