"""The reseller's webhook endpoints: add one, give it a new signing secret, turn it off or
on. Each change is audited; a secret is returned to be shown once and never logged."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from core import audit
from notifications import webhooks
from notifications.models import WebhookEndpoint


def add(
    url: str, description: str, kinds: list[str], *, by, request: HttpRequest | None = None
) -> tuple[WebhookEndpoint, str]:
    secret = webhooks.new_secret()
    endpoint = WebhookEndpoint(url=url, description=description, kinds=kinds, created_by=by)
    endpoint.set_secret(secret)
    with transaction.atomic():
        endpoint.save()
        audit.record(
            "webhook.endpoint_add",
            target=endpoint.url,
            user=by,
            request=request,
            changes={"url": [None, endpoint.url], "kinds": [None, endpoint.kinds]},
        )
    return endpoint, secret


def new_secret(endpoint: WebhookEndpoint, *, by, request: HttpRequest | None = None) -> str:
    """A new signing secret; the old one stops verifying at once."""
    secret = webhooks.new_secret()
    endpoint.set_secret(secret)
    with transaction.atomic():
        endpoint.save(update_fields=["secret_encrypted"])
        audit.record("webhook.secret_rotate", target=endpoint.url, user=by, request=request)
    return secret


def set_active(
    endpoint: WebhookEndpoint, active: bool, *, by, request: HttpRequest | None = None
) -> None:
    if endpoint.is_active == active:
        return
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=active)
    audit.record(
        "webhook.endpoint_active",
        target=endpoint.url,
        user=by,
        request=request,
        changes={"is_active": [endpoint.is_active, active]},
    )
    endpoint.is_active = active
