"""Customer logins of a tenant: local accounts for the customer's own invoice screens."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.http import HttpRequest

from core import audit
from tenants.models import Tenant


def create_customer_user(
    tenant: Tenant,
    username: str,
    email: str,
    password: str,
    actor: audit.Actor,
    request: HttpRequest | None = None,
):
    """A login for the customer's own invoice screens (local only)."""
    User = get_user_model()
    user = User(username=username, email=email, role="customer", tenant=tenant)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    audit.record(
        "user.create",
        actor=actor,
        request=request,
        tenant=tenant,
        target=username,
        changes={"username": [None, username], "email": [None, email], "role": [None, "customer"]},
    )
    return user
