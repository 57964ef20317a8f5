"""Staff screens of a tenant's API keys: create, the one-time reveal, rename, revoke."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.access import admin_required, staff_required
from core import audit
from einvoice.errors import ApiError
from tenants import keys
from tenants.forms import KeyForm
from tenants.models import ApiKey
from tenants.views.common import confirmed, get_key, get_tenant, put_error_on_form


def _saved(form: KeyForm, save: Callable[[str, str], ApiKey]) -> ApiKey | None:
    """Create or rename with the form's name and description; None (the error on the form)
    when e-invoice.be refused."""
    try:
        return save(form.cleaned_data["name"], form.cleaned_data["description"])
    except (ApiError, keys.KeyNotCreated) as e:
        put_error_on_form(form, e)
        return None


def _created(request: HttpRequest, key: ApiKey) -> HttpResponse:
    if request.user.is_reseller_admin:
        messages.success(
            request,
            _("Key %(name)s created: it is now the tenant's current key.") % {"name": key.name},
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
    return redirect("tenants:tenant_detail", pk=key.tenant_id)


@staff_required
def key_create(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_tenant(pk, active=True)
    form = KeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        key = _saved(
            form, lambda name, text: keys.create_key(tenant, name, text, request.user, request)[0]
        )
        if key is not None:
            return _created(request, key)
    return render(request, "tenants/key_form.html", {"form": form, "tenant": tenant, "key": None})


@admin_required
def key_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a key's value exactly once: the POST that wins the claim sees it, nobody else."""
    key = get_key(pk)
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
    key = get_key(pk)
    if key.tenant.is_deleted or key.is_revoked:
        raise Http404("key cannot be changed")
    form = KeyForm(request.POST or None, initial={"name": key.name, "description": key.description})
    if request.method == "POST" and form.is_valid():
        saved = _saved(
            form, lambda name, text: keys.rename_key(key, name, text, request.user, request)
        )
        if saved is not None:
            messages.success(request, _("Key renamed to %(name)s.") % {"name": key.name})
            return redirect("tenants:tenant_detail", pk=key.tenant_id)
    ctx = {"form": form, "tenant": key.tenant, "key": key}
    return render(request, "tenants/key_form.html", ctx)


@admin_required
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_key(pk)
    if key.is_revoked:
        messages.info(request, _("Key %(name)s is already revoked.") % {"name": key.name})
        return redirect("tenants:tenant_detail", pk=key.tenant_id)
    error = confirmed(
        request,
        lambda: keys.revoke_key(key, request.user, request),
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
