"""An event's run: one webhook delivery per subscribed endpoint, then each person it concerns
emailed now or queued for their daily digest, by their preference.

Who: staff (admins and operators) for every kind; the customer users of the event's tenant
for the kinds about their own documents. A resumed run skips the people reached already.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse

from accounts.models import Role
from core import mail
from jobs import local, runner
from notifications import kinds, preferences
from notifications.kinds import Mode
from notifications.models import DigestItem, Event, WebhookDelivery, WebhookEndpoint


def run(event_id: int) -> Event | None:
    return runner.claim_and_execute(Event, event_id, fan_out)


def recipients(event: Event) -> list:
    """Everyone the event may concern, before their preferences."""
    kind = kinds.BY_CODE.get(event.kind)
    if kind is None:
        return []
    who = Q(role__in=[Role.ADMIN, Role.OPERATOR])
    if kind.customer is not None and event.tenant_id:
        who |= Q(role=Role.CUSTOMER, tenant_id=event.tenant_id)
    users = get_user_model().objects.filter(who, is_active=True).exclude(email="")
    return list(users.order_by("pk"))


def link(event: Event, user) -> str:
    path = event.data.get("customer_path" if user.is_customer else "path") or reverse("home")
    return mail.absolute(path)


def settings_link(user) -> str:
    return mail.absolute(
        reverse("notifications:customer_settings" if user.is_customer else "notifications:settings")
    )


def email_context(event: Event, user) -> dict:
    return {
        "event": event,
        "data": event.data,
        "summary_template": summary_template(event.kind),
        "url": link(event, user),
        "settings_url": settings_link(user),
    }


def summary_template(code: str) -> str:
    return f"notifications/summary/{code.replace('.', '_')}.txt"


def _deliveries(event: Event) -> None:
    endpoints = WebhookEndpoint.objects.filter(is_active=True)
    if event.only_endpoint_id:
        endpoints = endpoints.filter(pk=event.only_endpoint_id)
    for endpoint in endpoints:
        if event.only_endpoint_id or endpoint.wants(event.kind):
            delivery, created = WebhookDelivery.objects.get_or_create(
                event=event, endpoint=endpoint
            )
            if created:
                local.release(delivery)


def fan_out(event: Event) -> bool:
    _deliveries(event)  # once each: a resumed run finds them made
    if event.kind == kinds.TEST:
        return True
    reached = list(event.reached)
    for user in recipients(event):
        if user.pk in reached:
            continue
        mode = preferences.mode_for(user, event.kind)
        if mode == Mode.IMMEDIATE:
            mail.send_to_user("notification", email_context(event, user), user)
        elif mode == Mode.DIGEST:
            DigestItem.objects.get_or_create(user=user, event=event)
        reached.append(user.pk)
        runner.save_progress(event, reached=reached)
    return True
