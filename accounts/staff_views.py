"""Staff screens for a tenant's customer logins: invite, resend, deactivate, reactivate,
send a password reset. Staff never choose or see a customer's password."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts import invitations
from accounts.access import admin_required, staff_required
from accounts.models import Role
from tenants.views.common import get_tenant


class InviteForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Email address"))
    language = forms.ChoiceField(
        label=gettext_lazy("Language of the emails"), choices=settings.LANGUAGES
    )


@staff_required
def invite(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_tenant(pk, active=True)
    form = InviteForm(request.POST or None, initial={"language": request.LANGUAGE_CODE})
    if request.method == "POST" and form.is_valid():
        try:
            user = invitations.invite(
                tenant,
                form.cleaned_data["email"],
                form.cleaned_data["language"],
                by=request.user,
                request=request,
            )
        except ValidationError as e:
            for msg in e.messages:
                form.add_error("email", msg)
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s: the link works once, for %(hours)s hours.")
                % {
                    "email": user.email,
                    "hours": int(invitations.invitation_tokens.lifetime.total_seconds() // 3600),
                },
            )
            return redirect("tenants:tenant_detail", pk=tenant.pk)
    return render(request, "accounts/invite.html", {"form": form, "tenant": tenant})


def _customer(tenant_pk: int, user_pk: int):
    user = get_object_or_404(get_user_model(), pk=user_pk, tenant_id=tenant_pk, role=Role.CUSTOMER)
    if user.tenant.is_deleted:
        raise Http404("tenant is deleted")
    return user


@staff_required
@require_POST
def resend(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    user = _customer(pk, user_pk)
    if not invitations.is_pending(user):
        messages.error(request, _("%(user)s has chosen a password already.") % {"user": user})
    else:
        invitations.resend(user, by=request.user, request=request)
        messages.success(request, _("A new invitation went to %(email)s.") % {"email": user.email})
    return redirect("tenants:tenant_detail", pk=pk)


@admin_required
@require_POST
def set_active(request: HttpRequest, pk: int, user_pk: int, active: bool) -> HttpResponse:
    user = _customer(pk, user_pk)
    invitations.set_active(user, active, by=request.user, request=request)
    text = _("%(user)s can log in again.") if active else _("%(user)s can no longer log in.")
    messages.success(request, text % {"user": user})
    return redirect("tenants:tenant_detail", pk=pk)


@admin_required
@require_POST
def send_reset(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    user = _customer(pk, user_pk)
    if not user.is_active:
        messages.error(request, _("%(user)s is deactivated: reactivate first.") % {"user": user})
    else:
        invitations.reset_by_staff(user, by=request.user, request=request)
        messages.success(
            request, _("A link to choose a new password went to %(email)s.") % {"email": user.email}
        )
    return redirect("tenants:tenant_detail", pk=pk)
