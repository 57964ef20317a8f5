"""What a customer's request may reach (only their own tenant's documents: any other id is a
404) and what to tell them when the tenant's key is the problem."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from einvoice.errors import KeyUnavailable
from einvoice.messages import key_message
from einvoice.tenant import current_key
from invoices.models import Document
from tenants.models import Tenant


def tenant_of(request: HttpRequest) -> Tenant:
    return request.user.tenant


def documents_of(request: HttpRequest) -> QuerySet[Document]:
    return Document.objects.filter(tenant_id=request.user.tenant_id)


def document_of(request: HttpRequest, pk: int) -> Document:
    return get_object_or_404(documents_of(request).select_related("tenant", "corrects"), pk=pk)


def key_problem(tenant: Tenant) -> str:
    """A sentence for the banner when the tenant has no usable key (revoked, never issued)."""
    key = current_key(tenant)
    if key is None or not key.is_held:
        return key_message("none")
    return ""


def error_text(exc: Exception, tenant: Tenant) -> str:
    """What to say about a failed call: nothing when the key banner already says it."""
    if isinstance(exc, KeyUnavailable) and str(exc) == key_problem(tenant):
        return ""
    return str(exc)
