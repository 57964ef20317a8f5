"""What the staff views share: finding the object of a URL, lists a page at a time, the
confirmation pages' POST, errors put on forms, and polled pages with their htmx partial."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from core.paging import page_query, seek_page
from einvoice.errors import ApiError, Conflict, Invalid
from einvoice.messages import explain
from tenants.errors import InvalidFields
from tenants.forms import ApiErrorsMixin
from tenants.models import ApiKey, PeppolRegistration, Tenant

# Each polled page and the partial its htmx polling swaps (the page includes the partial).
PARTIALS = {
    "job": "_job_status",
    "bulk": "_bulk_status",
    "tenant_rotation": "_rotation_status",
    "sync": "_sync_report",
    "bulk_action": "_bulk_action_status",
}


# --- access -----------------------------------------------------------------------------------
def get_tenant(pk: int, *, active: bool = False) -> Tenant:
    """The tenant of the URL; with `active`, 404 for a deleted one (nothing to change)."""
    tenant = get_object_or_404(Tenant.objects.select_related("peppol"), pk=pk)
    if active and tenant.is_deleted:
        raise Http404("tenant is deleted")
    return tenant


def get_key(pk: int) -> ApiKey:
    return get_object_or_404(ApiKey.objects.select_related("tenant"), pk=pk)


def registration(tenant: Tenant) -> PeppolRegistration | None:
    try:
        return tenant.peppol
    except PeppolRegistration.DoesNotExist:
        return None


# --- lists ------------------------------------------------------------------------------------
def valid_filters(form: forms.Form) -> dict:
    """The filters that passed their checks: one bad value (shown on its field) must not
    drop the others and list, or export, everything."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return form.cleaned_data


def list_page(
    request: HttpRequest,
    form: forms.Form,
    qs: QuerySet,
    ordering: Sequence[str],
    template: str,
    results: str,
    target: str,
    counted: QuerySet | None = None,
    extra: dict | None = None,
    rows: Callable[[list], list] | None = None,
) -> HttpResponse:
    """A filtered list in `ordering`, a page at a time; an htmx request aimed at the results
    (`target`) gets only the `results` partial. `query` keeps the filters in the page links.
    `rows` makes of the page's objects what the template's rows show (context `rows`)."""
    page = seek_page(qs, request.GET.get("page"), ordering, counted=counted)
    ctx = {"form": form, "page": page, "query": page_query(request), "target": target}
    if rows is not None:
        ctx["rows"] = rows(page.object_list)
    ctx.update(extra or {})
    if request.htmx and request.htmx.target == target:
        return render(request, results, ctx)
    return render(request, template, ctx)


def polled_page(request: HttpRequest, name: str, ctx: dict) -> HttpResponse:
    """The whole page, or for htmx's polling only the part that changes."""
    template = PARTIALS[name] if request.htmx else name
    return render(request, f"tenants/jobs/{template}.html", ctx)


# --- changes ----------------------------------------------------------------------------------
def put_error_on_form(form: ApiErrorsMixin, error: Exception, name: str | None = None) -> None:
    """Put a failed save on the form: field errors (the service's or the API's) on their
    fields, a conflict on the tenant name when `name` is given (the tenant forms), the rest
    above the form."""
    if isinstance(error, InvalidFields):
        form.add_field_errors(error.errors)
    elif isinstance(error, Invalid):
        form.add_api_error(error)
    elif isinstance(error, Conflict) and name is not None:
        form.add_error("name", explain(error, name=name))
    else:
        form.add_error(None, explain(error))


def confirmed(request: HttpRequest, action: Callable[[], object], done: str) -> str | None:
    """The POST of a confirmation page runs the Admin API call. None when it went through
    (`done` is queued as the success message), else the error for the page ("" on GET)."""
    if request.method != "POST":
        return ""
    try:
        action()
    except ApiError as e:
        return explain(e)
    messages.success(request, done)
    return None


def confirm_page(
    request: HttpRequest, question: str, button: str, cancel_url: str, **extra: object
) -> HttpResponse:
    """The question a destructive POST's button asks without JavaScript (a GET of its URL;
    with JavaScript, portal.js asks with confirm() and posts straight away)."""
    ctx = {"question": question, "button": button, "cancel_url": cancel_url, **extra}
    return render(request, "confirm.html", {"action_url": request.path, **ctx})
