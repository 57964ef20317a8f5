"""Staff screen that gives a customer a login to its invoice screens."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.access import admin_required
from tenants import users
from tenants.forms import CustomerUserForm
from tenants.views.common import get_tenant


def _put_on_form(form: CustomerUserForm, error: ValidationError) -> None:
    # The password checks answer without a field: they are about password1.
    for field, msgs in getattr(error, "message_dict", {"password1": error.messages}).items():
        target = "password1" if field in ("password", "__all__") else field
        for msg in msgs:
            form.add_error(target if target in form.fields else None, msg)


@admin_required
def user_create(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_tenant(pk, active=True)
    form = CustomerUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = users.create_customer_user(
                tenant,
                form.cleaned_data["username"],
                form.cleaned_data["email"],
                form.cleaned_data["password1"],
                request.user,
                request,
            )
        except ValidationError as e:
            _put_on_form(form, e)
        else:
            messages.success(
                request,
                _("%(user)s can now log in to the invoice screens of %(tenant)s.")
                % {"user": user.username, "tenant": tenant.name},
            )
            return redirect("tenants:tenant_detail", pk=tenant.pk)
    return render(request, "tenants/user_form.html", {"form": form, "tenant": tenant})
