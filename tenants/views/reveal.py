"""The one-time view of a key by link: a rotated key (to the tenant's customer users, from
the rotation email) or a hand-over (to a technical contact, tenants.handover)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from tenants import rotation


def _show(request: HttpRequest, token: str) -> HttpResponse:
    result = rotation.open_reveal_link(token, request.user, request)
    ctx = {"result": result, "base_url": settings.EINVOICE_API_BASE_URL}
    return render(
        request,
        "tenants/jobs/key_reveal.html",
        ctx,
        status=200 if result.ok else 410 if result.gone else 404,
    )


@never_cache
def key_reveal(request: HttpRequest, token: str) -> HttpResponse:
    link = rotation.find_reveal_link(token)
    if link is not None and link.is_handover:
        # Opened by a button: a mail scanner that fetches the link leaves it unused.
        if request.method == "POST":
            return _show(request, token)
        return render(request, "tenants/jobs/key_handover.html", {"link": link})
    # A rotation link, or none: a customer user of the tenant, logged in.
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not request.user.is_customer:
        raise PermissionDenied
    return _show(request, token)
