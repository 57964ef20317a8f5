"""Celery tasks of the accounts app.

"Forgot password?" looks the address up and sends the link here, in a worker: the request
does the same work whether or not an account has that address (it only queues the
address), so neither its answer nor its time tells a visitor which addresses exist.
"""

from __future__ import annotations

from types import SimpleNamespace

from celery import shared_task
from django.contrib.auth import get_user_model

from accounts import invitations
from core import audit


@shared_task(ignore_result=True)
def send_password_reset(email: str, ip: str | None = None, user_agent: str = "") -> int:
    """A reset link to each active account with this address; returns how many went."""
    # What the audit log keeps of the request that asked (its address and browser).
    asked = SimpleNamespace(META={"REMOTE_ADDR": ip or "", "HTTP_USER_AGENT": user_agent})
    users = get_user_model().objects.filter(email__iexact=email, is_active=True)
    sent = 0
    for user in users:
        audit.record(
            "user.password_reset_request",
            tenant=user.tenant,
            target=user.get_username(),
            actor_label="self",
            request=asked,
        )
        invitations.send_reset(user)
        sent += 1
    return sent
