"""Staff sessions are short: they end a fixed time after login, whatever happens in between."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone


@receiver(user_logged_in)
def limit_staff_session(sender, request, user, **kwargs) -> None:
    if request is not None and getattr(user, "is_reseller_staff", False):
        # A datetime is an absolute end (an int would slide with every session write).
        request.session.set_expiry(timezone.now() + timedelta(hours=settings.STAFF_SESSION_HOURS))
