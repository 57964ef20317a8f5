"""Staff screens of key rotation: every rotation, a tenant's policy and rotations (live),
and the manual start of a rotation."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.access import admin_required, staff_required
from core.paging import seek_page
from tenants import rotation
from tenants.forms import RotationPolicyForm
from tenants.models import Tenant
from tenants.models.jobs import KeyRotation
from tenants.views.common import confirm_page, polled_page


def _with_link_counts(rotations: QuerySet) -> QuerySet:
    """Each rotation with how many reveal links it mailed and how many were opened."""
    # An aggregate drops Meta.ordering: newest first again (the page reads the first as active).
    return rotations.annotate(
        links_sent=Count("links"),
        links_opened=Count("links", filter=Q(links__used_at__isnull=False)),
    ).order_by("-created_at", "-id")


@staff_required
def rotations(request: HttpRequest) -> HttpResponse:
    rows = _with_link_counts(KeyRotation.objects.select_related("tenant"))
    page = seek_page(rows, request.GET.get("page"), ("-created_at", "-pk"))
    return render(request, "tenants/jobs/rotations.html", {"page": page})


@staff_required
def tenant_rotation(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_object_or_404(Tenant, pk=pk)
    form = RotationPolicyForm(request.POST or None, initial={"rotation_days": tenant.rotation_days})
    if request.method == "POST":
        if not request.user.is_reseller_admin:
            raise PermissionDenied
        if form.is_valid():
            rotation.set_policy(tenant, form.cleaned_data["rotation_days"], user=request.user)
            messages.success(request, _("Rotation policy saved."))
            return redirect("tenants:tenant_rotation", tenant.pk)
    ctx = {
        "tenant": tenant,
        "form": form,
        "rotations": _with_link_counts(tenant.rotations.all())[:20],
        "customer_emails": tenant.users.filter(is_active=True).exclude(email="").count(),
        "due_at": rotation.due_at(tenant),
        "tenant_url": reverse("tenants:tenant_detail", args=[tenant.pk]),
    }
    return polled_page(request, "tenant_rotation", ctx)


@admin_required
@require_http_methods(["GET", "POST"])
def rotate_now(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_object_or_404(Tenant, pk=pk)
    if request.method == "GET":  # the button without JavaScript: ask first (issue 17)
        return confirm_page(
            request,
            _("Create a new key now? The old key stays valid during the grace period."),
            _("Rotate now"),
            reverse("tenants:tenant_rotation", args=[tenant.pk]),
            button_class="primary",
        )
    try:
        rotation.start(tenant, reason=KeyRotation.REASON_MANUAL, user=request.user)
    except rotation.RotationRefused as e:
        messages.error(request, str(e))
    else:
        messages.success(request, _("Key rotation started."))
    return redirect("tenants:tenant_rotation", tenant.pk)
