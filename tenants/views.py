from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import staff_required
from tenants.models import Tenant


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    ctx = {"tenant_count": Tenant.objects.filter(is_deleted=False).count()}
    return render(request, "tenants/dashboard.html", ctx)
