"""Login throttling limits for django-axes: per username+IP, and per IP across usernames.

Axes counts failures for each lockout parameter and compares the largest count with one
limit. A password spray (one IP, many usernames) never reaches the per-username limit, so the
IP has a limit of its own, higher because an office shares one address.
"""

from __future__ import annotations

from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def failure_limit(request: HttpRequest, credentials: dict | None = None) -> int:
    """The limit that the largest count is held against: the username+IP limit once that pair
    has reached it, else the IP's (so the pair locks at its limit, the IP at its own)."""
    username = get_client_username(request, credentials)
    pair_failures = (
        AccessAttempt.objects.filter(
            username=username, ip_address=getattr(request, "axes_ip_address", None)
        ).aggregate(total=Sum("failures_since_start"))["total"]
        or 0
    )
    if pair_failures >= settings.AXES_USER_FAILURE_LIMIT:
        return settings.AXES_USER_FAILURE_LIMIT
    return settings.AXES_IP_FAILURE_LIMIT
