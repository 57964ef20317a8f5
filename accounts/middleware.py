"""Staff must pass TOTP verification when they have a device, or when 2FA is mandatory."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

EXEMPT_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/webhooks/")


class StaffTwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and getattr(user, "is_reseller_staff", False)
            and not user.is_verified()
            and not request.path.startswith(EXEMPT_PREFIXES)
        ):
            from django_otp import devices_for_user

            if any(devices_for_user(user, confirmed=True)):
                return redirect(f"{reverse('otp_verify')}?next={request.path}")
            if settings.REQUIRE_STAFF_2FA:
                return redirect("otp_setup")
        return self.get_response(request)
