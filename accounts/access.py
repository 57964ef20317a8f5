"""Role checks for views. Every view is wrapped in exactly one of these."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def _role_required(check: Callable[[Any], bool]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# Reseller admin and operator: the staff screens.
staff_required = _role_required(lambda u: u.is_reseller_staff)
# Reseller admin only: key reveal and revoke, deletes, settings.
admin_required = _role_required(lambda u: u.is_reseller_admin)
# Customer users only: the invoice screens of their own tenant.
customer_required = _role_required(lambda u: u.is_customer)
