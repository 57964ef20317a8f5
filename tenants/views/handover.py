"""Staff send, withdraw and resend key hand-over links (admins: it hands out a key).
POST only: a GET answers 405 (404 for a missing tenant)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.access import admin_required
from tenants import handover
from tenants.models.jobs import KeyRevealLink
from tenants.views.common import get_tenant


class HandoverForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Technical contact's email"))
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES)


@admin_required
def handover_send(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_tenant(pk, active=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = HandoverForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a valid email address for the technical contact."))
        return redirect("tenants:tenant_detail", pk=pk)
    try:
        link = handover.send_link(
            tenant,
            form.cleaned_data["email"],
            form.cleaned_data["language"],
            by=request.user,
            request=request,
        )
    except handover.HandoverRefused as e:
        messages.error(request, str(e))
    else:
        messages.success(
            request, _("A one-time link to the key went to %(email)s.") % {"email": link.sent_to}
        )
    return redirect("tenants:tenant_detail", pk=pk)


def _link(request: HttpRequest, tenant_pk: int) -> KeyRevealLink:
    # The link's id is in the form: one URL per tenant, like the tenant's other actions.
    get_tenant(tenant_pk, active=True)
    links = KeyRevealLink.objects.select_related("tenant", "api_key").exclude(sent_to="")
    return get_object_or_404(links, tenant_id=tenant_pk, pk=request.POST.get("link") or 0)


@admin_required
def handover_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method != "POST":
        get_tenant(pk)
        return HttpResponseNotAllowed(["POST"])
    link = _link(request, pk)
    if handover.revoke_link(link, by=request.user, request=request):
        messages.success(
            request, _("The link to %(email)s no longer works.") % {"email": link.sent_to}
        )
    else:
        messages.error(request, _("The link was used or withdrawn already."))
    return redirect("tenants:tenant_detail", pk=link.tenant_id)


@admin_required
def handover_resend(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method != "POST":
        get_tenant(pk)
        return HttpResponseNotAllowed(["POST"])
    link = _link(request, pk)
    try:
        new = handover.resend_link(link, by=request.user, request=request)
    except handover.HandoverRefused as e:
        messages.error(request, str(e))
    else:
        messages.success(
            request,
            _("A new link went to %(email)s; the old one no longer works.")
            % {"email": new.sent_to},
        )
    return redirect("tenants:tenant_detail", pk=link.tenant_id)
