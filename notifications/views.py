"""Notification settings (each staff user's, each customer's), the reseller's webhook
endpoints (admins), the delivery log and "Send test"."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.access import admin_required, customer_required, staff_required
from core.paging import page_query, seek_page
from notifications import endpoints as hooks
from notifications import preferences as prefs
from notifications import webhooks
from notifications.kinds import KINDS, Mode
from notifications.models import WebhookDelivery, WebhookEndpoint


# --- each user's settings -------------------------------------------------------------------
class PreferenceForm(forms.Form):
    """One choice per event the user may get."""

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        for kind in prefs.kinds_for(user):
            self.fields[kind.code] = forms.ChoiceField(
                label=kind.label,
                choices=Mode.choices if user.is_reseller_staff else prefs.CUSTOMER_CHOICES,
                initial=prefs.mode_for(user, kind.code),
            )


def _settings_page(request: HttpRequest, template: str) -> HttpResponse:
    form = PreferenceForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        prefs.save(request.user, form.cleaned_data, request=request)
        messages.success(request, _("Your notification settings are saved."))
        return redirect(request.path)
    return render(request, template, {"form": form})


@staff_required
def staff_settings(request: HttpRequest) -> HttpResponse:
    return _settings_page(request, "notifications/settings.html")


@customer_required
def customer_settings(request: HttpRequest) -> HttpResponse:
    return _settings_page(request, "notifications/customer_settings.html")


# --- webhook endpoints ----------------------------------------------------------------------
class EndpointForm(forms.ModelForm):
    kinds = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=[(k.code, k.label) for k in KINDS],
        widget=forms.CheckboxSelectMultiple,
        initial=[k.code for k in KINDS],
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "kinds"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError(_("Use an http:// or https:// URL."))
        return url


@admin_required
def endpoints(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        endpoint, secret = hooks.add(
            data["url"], data["description"], data["kinds"], by=request.user, request=request
        )
        # The secret is shown once, on this answer (never in a message or a later page).
        ctx = {"endpoint": endpoint, "secret": secret}
        return render(request, "notifications/endpoint_secret.html", ctx)
    ctx = {"form": form, "endpoints": WebhookEndpoint.objects.all()}
    return render(request, "notifications/endpoints.html", ctx)


@admin_required
@require_POST
def endpoint_secret(request: HttpRequest, pk: int) -> HttpResponse:
    """A new signing secret, shown once; the old one stops verifying at once."""
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    secret = hooks.new_secret(endpoint, by=request.user, request=request)
    ctx = {"endpoint": endpoint, "secret": secret}
    return render(request, "notifications/endpoint_secret.html", ctx)


@admin_required
@require_POST
def endpoint_active(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    hooks.set_active(endpoint, not endpoint.is_active, by=request.user, request=request)
    text = (
        _("%(url)s gets events again.") if endpoint.is_active else _("%(url)s gets no more events.")
    )
    messages.success(request, text % {"url": endpoint.url})
    return redirect("notifications:endpoints")


@admin_required
@require_POST
def endpoint_test(request: HttpRequest, pk: int) -> HttpResponse:
    """One test event to this endpoint, its first attempt now (retries like any other)."""
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    delivery = webhooks.send_test(endpoint, by=request.user)
    if delivery.last_status is not None and 200 <= delivery.last_status < 300:
        messages.success(
            request,
            _("The test event was delivered: %(url)s answered %(status)s.")
            % {"url": endpoint.url, "status": delivery.last_status},
        )
    else:
        messages.error(
            request,
            _("The test event was not delivered (%(error)s); it is tried again with backoff.")
            % {"error": delivery.last_error or "?"},
        )
    return redirect("notifications:deliveries")


# --- the delivery log -----------------------------------------------------------------------
@staff_required
def deliveries(request: HttpRequest) -> HttpResponse:
    rows = WebhookDelivery.objects.select_related("event", "endpoint")
    endpoint = request.GET.get("endpoint", "")
    if endpoint.isdigit():
        rows = rows.filter(endpoint_id=int(endpoint))
    page = seek_page(rows, request.GET.get("page"), ["-created_at", "-pk"])
    ctx = {"page": page, "query": page_query(request)}
    template = "notifications/deliveries.html"
    if request.htmx:
        return render(request, "notifications/_deliveries.html", ctx)
    return render(request, template, ctx)
