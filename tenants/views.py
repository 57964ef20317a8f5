"""Staff screens: dashboard, tenants, keys, Peppol registration, customer logins, audit log.

Views parse, call a service, render. htmx requests get the named partial of the page.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import datetime, time, timedelta

from django import forms
from django.apps import apps
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import admin_required, staff_required
from tenants import admin_api, audit, checks, services
from tenants.forms import (
    SORTS,
    AuditFilterForm,
    BusinessCardForm,
    CustomerUserForm,
    KeyForm,
    PeppolRegisterForm,
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
from tenants.models import ApiKey, AuditEntry, PeppolRegistration, Tenant

PAGE_SIZE = 50


# --- access helpers -------------------------------------------------------------------
def _get_tenant(pk: int, *, active: bool = False) -> Tenant:
    tenant = get_object_or_404(Tenant.objects.select_related("peppol"), pk=pk)
    if active and tenant.is_deleted:
        raise Http404("tenant is deleted")
    return tenant


def _get_key(pk: int) -> ApiKey:
    return get_object_or_404(ApiKey.objects.select_related("tenant"), pk=pk)


def _peppol(tenant: Tenant) -> PeppolRegistration | None:
    try:
        return tenant.peppol
    except PeppolRegistration.DoesNotExist:
        return None


# --- dashboard ------------------------------------------------------------------------
def _failed_jobs() -> tuple[int | None, str | None]:
    """Failed background jobs and the link to them, when the jobs screens exist."""
    try:
        url = reverse("tenants:jobs") + "?state=failed"
    except NoReverseMatch:
        url = None
    from tenants.models import jobs as job_models

    base = getattr(job_models, "LeasedJob", None)
    if base is None:
        return None, url
    count = sum(
        model.objects.filter(state="failed").count()
        for model in apps.get_app_config("tenants").get_models()
        if issubclass(model, base)
    )
    return count, url


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    active = Tenant.objects.active()
    failed, failed_url = _failed_jobs()
    list_url = reverse("tenants:tenant_list")
    ctx = {
        "stats": [
            (_("Tenants"), active.count(), list_url),
            (
                _("Registered on Peppol"),
                active.filter(peppol__registered=True).count(),
                list_url + "?peppol=registered",
            ),
            (
                _("Keys due for rotation"),
                active.due_for_rotation().count(),
                list_url + "?due=on",
            ),
        ],
        "failed_jobs": failed,
        "failed_jobs_url": failed_url,
        "recent": AuditEntry.objects.select_related("tenant")[:10],
    }
    return render(request, "tenants/dashboard.html", ctx)


# --- tenant list ----------------------------------------------------------------------
def _valid_filters(form: forms.Form) -> dict:
    """The filters that passed their checks: one bad value (shown on its field) must not
    drop the others and list, or export, everything."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return form.cleaned_data


def _tenant_queryset(form: TenantFilterForm):
    current_key = ApiKey.objects.filter(tenant=OuterRef("pk"), is_current=True)
    qs = Tenant.objects.select_related("peppol").annotate(
        current_key_created=Subquery(current_key.values("created_at")[:1]),
        current_key_fingerprint=Subquery(current_key.values("fingerprint")[:1]),
    )
    data = _valid_filters(form)
    q = (data.get("q") or "").strip()
    if q:
        compact = q.replace(".", "").replace(" ", "")
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(description__icontains=q)
            | Q(company_tax_id__icontains=compact)
            | Q(company_number__icontains=compact)
            | Q(peppol_id__icontains=compact)
        )
    deleted = data.get("deleted") or ""
    if deleted == "only":
        qs = qs.filter(is_deleted=True)
    elif deleted != "all":
        qs = qs.filter(is_deleted=False)
    if data.get("peppol") == "registered":
        qs = qs.filter(peppol__registered=True)
    elif data.get("peppol") == "unregistered":
        qs = qs.exclude(peppol__registered=True)
    if data.get("test_mode") == "test":
        qs = qs.filter(test_mode=True)
    elif data.get("test_mode") == "production":
        qs = qs.filter(test_mode=False)
    if data.get("due"):
        qs = qs.due_for_rotation()
    return qs.order_by(*SORTS.get(data.get("sort") or "name", SORTS["name"]))


def _list_page(
    request: HttpRequest, form: forms.Form, qs, template: str, results: str, target: str
) -> HttpResponse:
    """A filtered list, a page at a time; an htmx request aimed at the results (`target`)
    gets only the `results` partial. `query` keeps the filters in the pagination links."""
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    ctx = {"form": form, "page": page, "query": params.urlencode()}
    if request.htmx and request.htmx.target == target:
        return render(request, results, ctx)
    return render(request, template, ctx)


@staff_required
def tenant_list(request: HttpRequest) -> HttpResponse:
    form = TenantFilterForm(request.GET or None)
    return _list_page(
        request,
        form,
        _tenant_queryset(form),
        "tenants/tenant_list.html",
        "tenants/_tenant_results.html",
        "tenant-results",
    )


# --- tenant create / edit / delete ----------------------------------------------------
def _handle_api_error(
    form: TenantForm | KeyForm, error: Exception, name: str | None = None
) -> None:
    """Put a failed save on the form: field errors (the service's or the API's) on their
    fields, a conflict on the tenant name when `name` is given (the tenant forms), the rest
    above the form."""
    if isinstance(error, services.InvalidFields):
        form.add_field_errors(error.errors)
    elif isinstance(error, admin_api.ValidationFailed):
        form.add_api_error(error)
    elif isinstance(error, admin_api.Conflict) and name is not None:
        form.add_error("name", services.explain(error, name=name))
    else:
        form.add_error(None, services.explain(error))


def _save_tenant(
    request: HttpRequest, form: TenantForm, save: Callable[[], Tenant], done: str
) -> HttpResponse | None:
    """Run the create or update; on success queue `done` (with the saved name) and go to the
    tenant page, else put the error on the form and answer None (the form is shown again)."""
    try:
        tenant = save()
    except (admin_api.AdminApiError, services.InvalidFields) as e:
        _handle_api_error(form, e, form.cleaned_data["name"])
        return None
    messages.success(request, done % {"name": tenant.name})
    # Peppol warnings stay on the tenant page's Peppol panel; these would not.
    for warning in form.flash_warnings:
        messages.warning(request, warning)
    return redirect("tenants:tenant_detail", pk=tenant.pk)


@staff_required
def tenant_create(request: HttpRequest) -> HttpResponse:
    form = TenantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        saved = _save_tenant(
            request,
            form,
            lambda: services.create_tenant(form.cleaned_data, request.user, request),
            _("Tenant %(name)s created."),
        )
        if saved is not None:
            return saved
    return render(request, "tenants/tenant_form.html", {"form": form, "tenant": None})


@staff_required
def tenant_edit(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _get_tenant(pk, active=True)
    initial = {
        f: getattr(tenant, f)
        for f in ("name", "description", "company_number", "company_tax_id", "peppol_id")
    }
    initial["test_mode"] = tenant.test_mode
    country = infer_country(initial)
    initial["country"] = country if country in ("BE", "NL", "LU") else ""
    form = TenantForm(request.POST or None, initial=initial, tenant=tenant)
    if request.method == "POST" and form.is_valid():
        saved = _save_tenant(
            request,
            form,
            lambda: services.update_tenant(tenant, form.cleaned_data, request.user, request),
            _("Tenant %(name)s saved."),
        )
        if saved is not None:
            return saved
    return render(request, "tenants/tenant_form.html", {"form": form, "tenant": tenant})


LIVE_FIELDS = ("name", "country", "company_number", "company_tax_id", "peppol_id")


@staff_required
def tenant_suggest(request: HttpRequest) -> HttpResponse:
    """Live suggestions while the tenant form is filled in (htmx): suggested name and Peppol
    ID, warnings, and each field's errors next to the field (out-of-band swaps)."""
    data = request.GET.dict()
    editing = None
    if str(data.get("tenant", "")).isdigit():
        editing = Tenant.objects.filter(pk=int(data["tenant"])).first()
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


def _confirmed(request: HttpRequest, action: Callable[[], object], done: str) -> str | None:
    """The POST of a confirmation page runs the Admin API call. None when it went through
    (`done` is queued as the success message), else the error for the page ("" on GET)."""
    if request.method != "POST":
        return ""
    try:
        action()
    except admin_api.AdminApiError as e:
        return services.explain(e)
    messages.success(request, done)
    return None


@admin_required
def tenant_delete(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _get_tenant(pk, active=True)
    error = _confirmed(
        request,
        lambda: services.delete_tenant(tenant, request.user, request),
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
    tenant = _get_tenant(pk)
    try:
        tenant = services.refresh_tenant(tenant)
        services.sync_keys(tenant)
        if not tenant.is_deleted:
            services.refresh_peppol_status(tenant, request.user)
    except admin_api.AdminApiError as e:
        messages.error(request, services.explain(e))
    else:
        messages.success(request, _("Refreshed from e-invoice.be."))
    return redirect("tenants:tenant_detail", pk=tenant.pk)


# --- tenant page ----------------------------------------------------------------------
def _peppol_warnings(tenant: Tenant, peppol_id: str) -> list[str]:
    """What looks wrong about registering `peppol_id` for this tenant's company numbers."""
    return peppol_warnings(
        {
            "peppol_id": peppol_id,
            "company_number": tenant.company_number,
            "company_tax_id": tenant.company_tax_id,
        }
    )


def _detail_context(request: HttpRequest, tenant: Tenant, **extra) -> dict:
    reg = _peppol(tenant)
    peppol_id = (reg.peppol_id if reg and reg.registered else "") or tenant.peppol_id
    ctx = {
        "tenant": tenant,
        "keys": list(tenant.api_keys.select_related("created_by").order_by("-created_at")),
        "reg": reg,
        "peppol_warnings": _peppol_warnings(tenant, peppol_id),
        "key_form": KeyForm(),
        "card_form": BusinessCardForm(
            initial={"company_name": (reg.company_name if reg else "") or tenant.description}
        ),
        "users": list(tenant.users.order_by("username")),
        "recent": AuditEntry.objects.filter(tenant=tenant)[:10],
        "rotation_days": tenant.effective_rotation_days,
    }
    ctx["has_usable_key"] = any(k.is_current and not k.is_revoked for k in ctx["keys"])
    ctx.update(extra)
    return ctx


@staff_required
def tenant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _get_tenant(pk)
    return render(request, "tenants/tenant_detail.html", _detail_context(request, tenant))


# --- keys -----------------------------------------------------------------------------
@staff_required
def key_create(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _get_tenant(pk, active=True)
    form = KeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key, _value = services.create_key(
                tenant,
                form.cleaned_data["name"],
                form.cleaned_data["description"],
                request.user,
                request,
            )
        except admin_api.AdminApiError as e:
            _handle_api_error(form, e)
        else:
            if request.user.is_reseller_admin:
                messages.success(
                    request,
                    _("Key %(name)s created: it is now the tenant's current key.")
                    % {"name": key.name},
                )
                return redirect("tenants:api_key_reveal", pk=key.pk)
            messages.success(
                request,
                _(
                    "Key %(name)s created and stored encrypted. A reseller admin can reveal "
                    "it once to hand it to the customer."
                )
                % {"name": key.name},
            )
            return redirect("tenants:tenant_detail", pk=tenant.pk)
    return render(request, "tenants/key_form.html", {"form": form, "tenant": tenant, "key": None})


@admin_required
def key_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a key's value exactly once: the POST that wins the claim sees it, nobody else."""
    key = _get_key(pk)
    value = None
    if request.method == "POST":
        if key.claim_reveal():
            value = key.reveal_value()
            audit.record(
                "key.reveal", tenant=key.tenant, target=key.name, user=request.user, request=request
            )
        else:
            key.refresh_from_db()  # the page then says when it was shown, or that it is revoked
    response = render(request, "tenants/key_reveal.html", {"key": key, "value": value})
    # Never kept by the browser or a proxy: the back button must not show the value again.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@staff_required
def key_edit(request: HttpRequest, pk: int) -> HttpResponse:
    key = _get_key(pk)
    if key.tenant.is_deleted or key.is_revoked:
        raise Http404("key cannot be changed")
    form = KeyForm(request.POST or None, initial={"name": key.name, "description": key.description})
    if request.method == "POST" and form.is_valid():
        try:
            services.rename_key(
                key,
                form.cleaned_data["name"],
                form.cleaned_data["description"],
                request.user,
                request,
            )
        except admin_api.AdminApiError as e:
            _handle_api_error(form, e)
        else:
            messages.success(request, _("Key renamed to %(name)s.") % {"name": key.name})
            return redirect("tenants:tenant_detail", pk=key.tenant_id)
    ctx = {"form": form, "tenant": key.tenant, "key": key}
    return render(request, "tenants/key_form.html", ctx)


@admin_required
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = _get_key(pk)
    if key.is_revoked:
        messages.info(request, _("Key %(name)s is already revoked.") % {"name": key.name})
        return redirect("tenants:tenant_detail", pk=key.tenant_id)
    error = _confirmed(
        request,
        lambda: services.revoke_key(key, request.user, request),
        _("Key %(name)s revoked.") % {"name": key.name},
    )
    if error is None:
        return redirect("tenants:tenant_detail", pk=key.tenant_id)
    others = (
        key.tenant.api_keys.filter(revoked_at__isnull=True)
        .exclude(pk=key.pk)
        .exclude(encrypted_value="")
    )
    ctx = {"key": key, "tenant": key.tenant, "error": error, "has_other_key": others.exists()}
    return render(request, "tenants/key_revoke.html", ctx)


# --- Peppol ---------------------------------------------------------------------------
def _peppol_panel(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    tenant = _get_tenant(tenant.pk)
    if request.htmx:
        return render(request, "tenants/_peppol.html", _detail_context(request, tenant))
    return redirect("tenants:tenant_detail", pk=tenant.pk)


@staff_required
@require_POST
def peppol_status(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _get_tenant(pk)
    try:
        services.refresh_peppol_status(tenant, request.user)
    except admin_api.AdminApiError as e:
        messages.error(request, services.explain(e))
    return _peppol_panel(request, tenant)


@staff_required
def peppol_register(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _get_tenant(pk, active=True)
    form = PeppolRegisterForm(
        request.POST if request.method == "POST" else None,
        initial={"peppol_id": tenant.peppol_id, "company_name": ""},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.register_peppol(
                tenant,
                request.user,
                company_name=form.cleaned_data["company_name"] or None,
                request=request,
            )
        except admin_api.Conflict as e:
            form.add_error(
                "peppol_id", services.explain(e, peppol_id=tenant.peppol_id, tenant=tenant)
            )
        except admin_api.ValidationFailed as e:
            form.add_register_error(e)
        except (admin_api.AdminApiError, services.PeppolUnavailable) as e:
            form.add_error(None, services.explain(e))
        else:
            messages.success(
                request,
                _("%(tenant)s is registered on Peppol as %(id)s.")
                % {"tenant": tenant.name, "id": tenant.peppol_id},
            )
            return redirect("tenants:tenant_detail", pk=tenant.pk)
    ctx = {
        "tenant": tenant,
        "form": form,
        "warnings": _peppol_warnings(tenant, tenant.peppol_id),
        "kbo": tenant.peppol_id.startswith("0208:"),
    }
    return render(request, "tenants/peppol_register.html", ctx)


@staff_required
@require_POST
def peppol_card(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _get_tenant(pk, active=True)
    form = BusinessCardForm(request.POST)
    if form.is_valid():
        try:
            services.update_business_card(
                tenant, form.cleaned_data["company_name"], request.user, request
            )
        except admin_api.AdminApiError as e:
            messages.error(request, services.explain(e))
        else:
            messages.success(request, _("Business card updated."))
    else:
        messages.error(request, _("Give the company name for the business card."))
    return _peppol_panel(request, tenant)


@admin_required
def peppol_unregister(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _get_tenant(pk, active=True)
    error = _confirmed(
        request,
        lambda: services.unregister_peppol(tenant, request.user, request),
        _("%(tenant)s is no longer on Peppol.") % {"tenant": tenant.name},
    )
    if error is None:
        return redirect("tenants:tenant_detail", pk=tenant.pk)
    return render(
        request,
        "tenants/peppol_unregister.html",
        {"tenant": tenant, "reg": _peppol(tenant), "error": error},
    )


# --- customer logins ------------------------------------------------------------------
@admin_required
def user_create(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _get_tenant(pk, active=True)
    form = CustomerUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.create_customer_user(
                tenant,
                form.cleaned_data["username"],
                form.cleaned_data["email"],
                form.cleaned_data["password1"],
                request.user,
                request,
            )
        except ValidationError as e:
            for field, msgs in getattr(e, "message_dict", {"password1": e.messages}).items():
                target = "password1" if field in ("password", "__all__") else field
                for msg in msgs:
                    form.add_error(target if target in form.fields else None, msg)
        else:
            messages.success(
                request,
                _("%(user)s can now log in to the invoice screens of %(tenant)s.")
                % {"user": user.username, "tenant": tenant.name},
            )
            return redirect("tenants:tenant_detail", pk=tenant.pk)
    return render(request, "tenants/user_form.html", {"form": form, "tenant": tenant})


# --- audit log ------------------------------------------------------------------------
def _audit_queryset(form: AuditFilterForm):
    qs = AuditEntry.objects.select_related("tenant").order_by("-sequence")
    data = _valid_filters(form)
    if data.get("actor"):
        qs = qs.filter(actor__icontains=data["actor"])
    if data.get("action"):
        qs = qs.filter(action=data["action"])
    if data.get("tenant"):
        qs = qs.filter(
            Q(tenant__name__icontains=data["tenant"]) | Q(target__icontains=data["tenant"])
        )
    if data.get("outcome"):
        qs = qs.filter(outcome=data["outcome"])
    tz = timezone.get_current_timezone()
    if data.get("date_from"):
        qs = qs.filter(created_at__gte=datetime.combine(data["date_from"], time.min, tz))
    if data.get("date_to"):
        end = datetime.combine(data["date_to"], time.min, tz) + timedelta(days=1)
        qs = qs.filter(created_at__lt=end)
    return qs


def _audit_form(request: HttpRequest) -> AuditFilterForm:
    actions = list(
        AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct()
    )
    return AuditFilterForm(request.GET or None, actions=actions)


@staff_required
def audit_list(request: HttpRequest) -> HttpResponse:
    form = _audit_form(request)
    return _list_page(
        request,
        form,
        _audit_queryset(form),
        "tenants/audit_list.html",
        "tenants/_audit_results.html",
        "audit-results",
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting with = + - @ as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


AUDIT_COLUMNS = [
    "sequence",
    "time",
    "actor",
    "action",
    "tenant",
    "target",
    "outcome",
    "error",
    "changes",
    "ip",
    "user_agent",
    "prev_hash",
    "hash",
]


@staff_required
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    form = _audit_form(request)
    qs = _audit_queryset(form)
    used = {k: v for k, v in _valid_filters(form).items() if v not in ("", None)}
    audit.record(
        "audit.export",
        target=", ".join(f"{k}={v}" for k, v in used.items())[:200] or "all",
        user=request.user,
        request=request,
    )
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(AUDIT_COLUMNS)
        for e in qs.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    _cell(v)
                    for v in (
                        e.sequence,
                        # The time the screens show (with its UTC offset).
                        timezone.localtime(e.created_at).isoformat(),
                        e.actor,
                        e.action,
                        e.tenant.name if e.tenant_id and e.tenant else "",
                        e.target,
                        e.outcome,
                        e.error,
                        json.dumps(e.changes, ensure_ascii=False, sort_keys=True),
                        e.ip,
                        e.user_agent,
                        e.prev_hash,
                        e.hash,
                    )
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response
