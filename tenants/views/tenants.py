"""Staff screens of the mirror's tenants: list, create, edit (with live suggestions),
delete, refresh from e-invoice.be, and the tenant page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.contrib import messages
from django.db.models import F, FilteredRelation, Q, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import admin_required, staff_required
from core.models import AuditEntry
from core.trigram import any_contains, sqlite_candidates
from einvoice.errors import ApiError
from einvoice.messages import explain
from invoices.models import Direction, Document, State
from tenants import checks, handover, keys, listing, mirror, peppol
from tenants.errors import InvalidFields
from tenants.forms import (
    SORTS,
    BulkActionForm,
    BusinessCardForm,
    KeyForm,
    TenantFilterForm,
    TenantForm,
)
from tenants.identifiers import (
    clean_tenant_fields,
    infer_country,
    peppol_warnings,
    suggest_peppol_id,
    suggest_tenant_name,
)
from tenants.models import Tenant
from tenants.views import dashboard
from tenants.views.common import (
    confirmed,
    get_tenant,
    list_page,
    put_error_on_form,
    registration,
    valid_filters,
)
from tenants.views.handover import HandoverForm
from usage import fleet, panels

LIVE_FIELDS = ("name", "country", "company_number", "company_tax_id", "peppol_id")
SEARCH_TEXT = ("name", "description")
SEARCH_NUMBERS = ("company_tax_id", "company_number", "peppol_id")


# --- list -------------------------------------------------------------------------------------
def _search(qs: QuerySet, q: str) -> QuerySet:
    # Numbers are stored without dots and spaces: 0403.170.701 finds 0403170701.
    compact = q.replace(".", "").replace(" ", "")
    found = (
        any_contains("tenants_tenant", SEARCH_TEXT, q)
        | Q(company_tax_id__icontains=compact)
        | Q(company_number__icontains=compact)
        | Q(peppol_id__icontains=compact)
    )
    # On SQLite the trigram table narrows the scan to the rows that may match.
    narrowed = sqlite_candidates(
        "tenants_tenant",
        [(SEARCH_TEXT, q), (SEARCH_NUMBERS, compact)],
    )
    return qs.filter(found if narrowed is None else narrowed & found)


def _filtered(qs: QuerySet, data: dict) -> QuerySet:
    deleted = data.get("deleted") or ""
    if deleted == "only":
        qs = qs.filter(is_deleted=True)
    elif deleted != "all":
        qs = qs.filter(is_deleted=False)
    if data.get("peppol") == "registered":
        qs = qs.filter(peppol__registered=True)
    elif data.get("peppol") == "unregistered":
        qs = qs.exclude(peppol__registered=True)
    elif data.get("peppol"):
        qs = qs.in_peppol_state(data["peppol"])
    if data.get("test_mode") == "test":
        qs = qs.filter(test_mode=True)
    elif data.get("test_mode") == "production":
        qs = qs.filter(test_mode=False)
    if data.get("due"):
        qs = qs.due_for_rotation()
    return _usage_filtered(qs, data)


def _usage_filtered(qs: QuerySet, data: dict) -> QuerySet:
    """The dashboard's alerts as filters: a FAILED delivery lately, credit, usage problems."""
    if data.get("failed"):
        since = timezone.now() - timedelta(days=dashboard.FAILED_DAYS)
        failed = Document.objects.filter(
            direction=Direction.OUTBOUND, state=State.FAILED, state_changed_at__gte=since
        )
        qs = qs.filter(pk__in=failed.values("tenant_id"))
    credit = data.get("credit") or ""
    if credit:
        days = None if credit == "low" else int(credit)
        qs = qs.filter(pk__in=fleet.running_low(days).values("pk"))
    if data.get("usage") == "key_problem":
        qs = qs.filter(pk__in=fleet.key_problems().values("pk"))
    return qs


def tenant_queryset(form: TenantFilterForm | None) -> tuple[QuerySet, tuple[str, ...]]:
    """The filtered tenants and the order to list them in (None: no filter)."""
    data = {} if form is None else valid_filters(form)
    qs = Tenant.objects.all()
    q = (data.get("q") or "").strip()
    if q:
        qs = _search(qs, q)
    qs = listing.filtered(_filtered(qs, data), data)
    return qs, SORTS.get(data.get("sort") or "name", SORTS["name"])


def with_list_columns(qs: QuerySet) -> QuerySet:
    """`qs` with the facts of other tables that the list, its bulk bar and the export show:
    the current key's fingerprint and the Peppol registration's state."""
    # The key's date is on the tenant row; its fingerprint is a join, not a subquery per
    # row: at most one current key per tenant (a constraint). The Peppol registration's two
    # facts the list and export show are columns of the same row (listing._peppol_state),
    # not a registration object built per tenant.
    return qs.annotate(
        current=FilteredRelation("api_keys", condition=Q(api_keys__is_current=True)),
        current_key_fingerprint=F("current__fingerprint"),
        peppol_registered=F("peppol__registered"),
        peppol_state=F("peppol__state"),
    )


@staff_required
def tenant_list(request: HttpRequest) -> HttpResponse:
    # Unfiltered, the filter form only fills its fragment, cached per language and filter
    # (tenant_list.html): it is made for a fragment not cached yet, as the bulk bar's is.
    form = TenantFilterForm(request.GET) if request.GET else None
    qs, ordering = tenant_queryset(form)
    return list_page(
        request,
        form or SimpleLazyObject(TenantFilterForm),
        listing.for_page(with_list_columns(qs), ordering),
        ordering,
        "tenants/tenant_list.html",
        "tenants/_tenant_results.html",
        "tenant-results",
        counted=qs,
        # The bulk bar is a cached fragment: its form is made only when it is rendered.
        extra={
            "filters_bound": form is not None,
            "bulk_form": SimpleLazyObject(lambda: BulkActionForm(user=request.user)),
        },
        rows=listing.page_rows,
    )


@staff_required
def tenant_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The list's current filter (the same query string) as CSV or XLSX, every page."""
    form = TenantFilterForm(request.GET or None)
    qs, ordering = tenant_queryset(form)
    table = listing.rows(with_list_columns(qs), ordering)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "xlsx":
        return FileResponse(
            listing.xlsx_file(table, _("Tenants")),
            as_attachment=True,
            filename=f"tenants-{stamp}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response = StreamingHttpResponse(
        listing.csv_lines(table), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="tenants-{stamp}.csv"'
    return response


# --- create / edit / delete -------------------------------------------------------------------
def _save_tenant(
    request: HttpRequest, form: TenantForm, save: Callable[[], Tenant], done: str
) -> HttpResponse | None:
    """Run the create or update; on success queue `done` (with the saved name) and go to the
    tenant page, else put the error on the form and answer None (the form is shown again)."""
    try:
        tenant = save()
    except (ApiError, InvalidFields) as e:
        put_error_on_form(form, e, form.cleaned_data["name"])
        return None
    messages.success(request, done % {"name": tenant.name})
    # Peppol warnings stay on the tenant page's Peppol panel; these would not.
    for warning in form.flash_warnings:
        messages.warning(request, warning)
    return redirect("tenants:tenant_detail", pk=tenant.pk)


def _create(request: HttpRequest, form: TenantForm, adopted: list[bool]) -> Tenant:
    """The create (mirror.create_or_adopt_tenant: the onboarding jobs' recovery after a lost
    answer); a company another live onboarding is creating is refused with that job."""
    try:
        tenant, was_adopted = mirror.create_or_adopt_tenant(
            form.cleaned_data, request.user, request
        )
    except mirror.NotAdoptable as e:
        job = e.refusal.job
        raise InvalidFields(
            {
                "__all__": [
                    _(
                        "This company is being onboarded by job #%(job)s (%(name)s): follow "
                        "that job instead of creating the tenant."
                    )
                    % {"job": job.pk, "name": job.name}
                ]
            }
        ) from None
    adopted.append(was_adopted)
    return tenant


@staff_required
def tenant_create(request: HttpRequest) -> HttpResponse:
    form = TenantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        adopted: list[bool] = []
        saved = _save_tenant(
            request, form, lambda: _create(request, form, adopted), _("Tenant %(name)s created.")
        )
        if saved is not None:
            if any(adopted):
                messages.info(
                    request,
                    _(
                        "e-invoice.be's answer was lost on the way: the portal found the tenant "
                        "it had created and took it over."
                    ),
                )
            return saved
    return render(request, "tenants/tenant_form.html", {"form": form, "tenant": None})


def _initial(tenant: Tenant) -> dict:
    initial = {
        f: getattr(tenant, f)
        for f in ("name", "description", "company_number", "company_tax_id", "peppol_id")
    }
    initial["test_mode"] = tenant.test_mode
    country = infer_country(initial)
    initial["country"] = country if country in ("BE", "NL", "LU") else ""
    return initial


@staff_required
def tenant_edit(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_tenant(pk, active=True)
    form = TenantForm(request.POST or None, initial=_initial(tenant), tenant=tenant)
    if request.method == "POST" and form.is_valid():
        saved = _save_tenant(
            request,
            form,
            lambda: mirror.update_tenant(tenant, form.cleaned_data, request.user, request),
            _("Tenant %(name)s saved."),
        )
        if saved is not None:
            return saved
    return render(request, "tenants/tenant_form.html", {"form": form, "tenant": tenant})


@staff_required
def tenant_suggest(request: HttpRequest) -> HttpResponse:
    """Live suggestions while the tenant form is filled in (htmx): suggested name and Peppol
    ID, warnings, and each field's errors next to the field (out-of-band swaps)."""
    data = request.GET.dict()
    editing = None
    editing_pk = data.get("tenant", "")
    if editing_pk.isascii() and editing_pk.isdigit():  # "²".isdigit() too, and int() refuses it
        editing = Tenant.objects.filter(pk=int(editing_pk)).first()
    country = infer_country(data)
    name = suggest_tenant_name(data.get("description", ""))
    peppol_id = suggest_peppol_id(data.get("company_number", ""), country)
    cleaned, errors = clean_tenant_fields(data, suggest=True)
    errors = {field: msgs for field, msgs in errors.items() if data.get(field)}
    if cleaned["name"] and "name" not in errors:
        taken = checks.name_taken(cleaned["name"], exclude=editing)
        if taken:
            errors["name"] = [taken]
    duplicates = [] if errors else checks.duplicate_warnings(cleaned, exclude=editing)
    ctx = {
        "name": name if not data.get("name") and "name" not in errors else "",
        "peppol_id": peppol_id if not data.get("peppol_id") else "",
        "warnings": (peppol_warnings(data) if not errors.get("peppol_id") else []) + duplicates,
        "field_errors": [(field, errors.get(field, [])) for field in LIVE_FIELDS],
    }
    return render(request, "tenants/_suggestions.html", ctx)


@admin_required
def tenant_delete(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_tenant(pk, active=True)
    error = confirmed(
        request,
        lambda: mirror.delete_tenant(tenant, request.user, request),
        _("Tenant %(name)s deleted.") % {"name": tenant.name},
    )
    if error is None:
        return redirect("tenants:tenant_list")
    logins = list(tenant.users.filter(is_active=True).values_list("username", flat=True))
    ctx = {"tenant": tenant, "error": error, "logins": logins}
    return render(request, "tenants/tenant_delete.html", ctx)


@staff_required
@require_POST
def tenant_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    """Bring the mirror up to date with e-invoice.be: tenant, keys, Peppol status."""
    tenant = get_tenant(pk)
    try:
        tenant = mirror.refresh_tenant(tenant)
        keys.sync_keys(tenant, request.user)
        if not tenant.is_deleted:
            peppol.refresh_peppol_status(tenant, request.user)
    except ApiError as e:
        messages.error(request, explain(e))
    else:
        messages.success(request, _("Refreshed from e-invoice.be."))
    return redirect("tenants:tenant_detail", pk=tenant.pk)


# --- the tenant page --------------------------------------------------------------------------
def registration_warnings(tenant: Tenant, peppol_id: str) -> list[str]:
    """What looks wrong about registering `peppol_id` for this tenant's company numbers."""
    return peppol_warnings(
        {
            "peppol_id": peppol_id,
            "company_number": tenant.company_number,
            "company_tax_id": tenant.company_tax_id,
        }
    )


def detail_context(tenant: Tenant) -> dict:
    """What the tenant page (and its Peppol panel, on its own) shows."""
    reg = registration(tenant)
    peppol_id = (reg.peppol_id if reg and reg.registered else "") or tenant.peppol_id
    ctx = {
        "tenant": tenant,
        "keys": list(tenant.api_keys.select_related("created_by").order_by("-created_at")),
        "reg": reg,
        "peppol_warnings": registration_warnings(tenant, peppol_id),
        "key_form": KeyForm(),
        "card_form": BusinessCardForm(
            initial={"company_name": (reg.company_name if reg else "") or tenant.description}
        ),
        "users": list(tenant.users.order_by("username")),
        "handover_links": handover.links_of(tenant),
        "handover_form": HandoverForm(),
        "recent": AuditEntry.objects.filter(tenant=tenant)[:10],
        "rotation_days": tenant.effective_rotation_days,
        "watch": tenant.peppol_watches.order_by("-created_at", "-id").first(),
    }
    watch = ctx["watch"]
    ctx["watch_advice"] = (
        checks.held_elsewhere_advice(watch.holder, watch.peppol_id) if watch else ""
    )
    ctx["has_usable_key"] = any(k.is_current and not k.is_revoked for k in ctx["keys"])
    ctx.update(panels.tenant_panel(tenant))
    return ctx


@staff_required
def tenant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_tenant(pk)
    return render(request, "tenants/tenant_detail.html", detail_context(tenant))
