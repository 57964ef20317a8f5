"""Staff screens of a tenant's Peppol registration: status, register, business card,
unregister. The status and the card change the tenant page's Peppol panel (htmx)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import admin_required, staff_required
from einvoice.errors import ApiError, Conflict, Invalid
from einvoice.messages import explain
from tenants import checks, peppol, watch
from tenants.errors import HeldElsewhere, PeppolUnavailable
from tenants.forms import BusinessCardForm, PeppolRegisterForm
from tenants.models import Tenant
from tenants.views.common import confirmed, get_tenant, registration
from tenants.views.tenants import detail_context, registration_warnings


def _peppol_panel(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    tenant = get_tenant(tenant.pk)
    if request.htmx:
        return render(request, "tenants/_peppol.html", detail_context(tenant))
    return redirect("tenants:tenant_detail", pk=tenant.pk)


@staff_required
@require_POST
def peppol_status(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_tenant(pk)
    try:
        peppol.refresh_peppol_status(tenant, request.user)
    except ApiError as e:
        messages.error(request, explain(e))
    return _peppol_panel(request, tenant)


def _register(
    request: HttpRequest, tenant: Tenant, form: PeppolRegisterForm
) -> tuple[bool, checks.PeppolVerdict | None]:
    """Register; a refusal goes on the form's field it is about. (registered, the verdict
    when the ID turned out to be held by another access point)."""
    try:
        peppol.register_peppol(
            tenant,
            request.user,
            company_name=form.cleaned_data["company_name"] or None,
            request=request,
        )
    except HeldElsewhere as e:
        form.add_error("peppol_id", e.verdict.text)
        return False, e.verdict
    except Conflict as e:
        form.add_error("peppol_id", explain(e, peppol_id=tenant.peppol_id, tenant=tenant))
    except Invalid as e:
        form.add_register_error(e)
    except PeppolUnavailable as e:
        form.add_error("peppol_id" if e.reason == "ours" else None, explain(e))
    except ApiError as e:
        form.add_error(None, explain(e))
    else:
        return True, None
    return False, None


@staff_required
def peppol_register(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_tenant(pk, active=True)
    form = PeppolRegisterForm(
        request.POST if request.method == "POST" else None,
        initial={"peppol_id": tenant.peppol_id, "company_name": ""},
    )
    verdict = None
    if request.method == "POST" and form.is_valid():
        registered, verdict = _register(request, tenant, form)
        if registered:
            messages.success(
                request,
                _("%(tenant)s is registered on Peppol as %(id)s.")
                % {"tenant": tenant.name, "id": tenant.peppol_id},
            )
            return redirect("tenants:tenant_detail", pk=tenant.pk)
    elif tenant.peppol_id and not tenant.test_mode:
        # Before anything is sent: who holds the ID now (a look-up, no Admin API call).
        verdict = checks.preflight(tenant.peppol_id, exclude=tenant)
    ctx = {
        "tenant": tenant,
        "form": form,
        "warnings": registration_warnings(tenant, tenant.peppol_id),
        "kbo": tenant.peppol_id.startswith("0208:"),
        "verdict": verdict,
        "advice": _advice(verdict),
        "watch": watch.active_watch(tenant),
    }
    return render(request, "tenants/peppol_register.html", ctx)


def _advice(verdict: checks.PeppolVerdict | None) -> str:
    if verdict is None or not verdict.held_elsewhere:
        return ""
    return checks.held_elsewhere_advice(verdict.holder, verdict.peppol_id)


@staff_required
@require_POST
def peppol_watch(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Register as soon as it is free": look the ID up again, and watch it if still held."""
    tenant = get_tenant(pk, active=True)
    if not tenant.peppol_id or tenant.test_mode:
        messages.error(request, _("This tenant cannot be registered on Peppol."))
        return redirect("tenants:tenant_detail", pk=tenant.pk)
    verdict = checks.preflight(tenant.peppol_id, exclude=tenant)
    if verdict.held_elsewhere:
        watch.start(tenant, verdict, request.user, user=request.user)
        messages.success(
            request,
            _("Watching %(id)s: the portal registers it as soon as it is free, and emails you.")
            % {"id": tenant.peppol_id},
        )
    elif verdict.free:
        messages.info(request, _("%(id)s is free now: register it.") % {"id": tenant.peppol_id})
        return redirect("tenants:peppol_register", pk=tenant.pk)
    else:
        messages.error(request, verdict.text)
    return redirect("tenants:tenant_detail", pk=tenant.pk)


@staff_required
@require_POST
def peppol_watch_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_tenant(pk)
    active = watch.active_watch(tenant)
    if active is not None and watch.cancel(active, request.user):
        messages.success(request, _("Stopped watching %(id)s.") % {"id": active.peppol_id})
    else:
        messages.warning(request, _("No watch to stop (it may have just finished)."))
    return redirect("tenants:tenant_detail", pk=tenant.pk)


@staff_required
@require_POST
def peppol_card(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_tenant(pk, active=True)
    form = BusinessCardForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the company name for the business card."))
        return _peppol_panel(request, tenant)
    try:
        peppol.update_business_card(
            tenant, form.cleaned_data["company_name"], request.user, request
        )
    except ApiError as e:
        messages.error(request, explain(e))
    else:
        messages.success(request, _("Business card updated."))
    return _peppol_panel(request, tenant)


@admin_required
def peppol_unregister(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_tenant(pk, active=True)
    error = confirmed(
        request,
        lambda: peppol.unregister_peppol(tenant, request.user, request),
        _("%(tenant)s is no longer on Peppol.") % {"tenant": tenant.name},
    )
    if error is None:
        return redirect("tenants:tenant_detail", pk=tenant.pk)
    return render(
        request,
        "tenants/peppol_unregister.html",
        {"tenant": tenant, "reg": registration(tenant), "error": error},
    )
