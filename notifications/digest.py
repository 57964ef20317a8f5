"""The daily digest: one email per user with every event queued for it since the last one.

A user's lines are claimed with one conditional UPDATE (sent_at) before the email goes, so
two runs never send the same lines; if the email fails they are released for the next run.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.utils import timezone

from core import mail
from notifications import fanout
from notifications.models import DigestItem

logger = logging.getLogger(__name__)


def send_due() -> int:
    """Send every user with waiting lines their digest; returns how many emails went."""
    users = DigestItem.objects.filter(sent_at__isnull=True).values_list("user_id", flat=True)
    sent = 0
    for user in get_user_model().objects.filter(pk__in=set(users), is_active=True):
        sent += int(send_to(user))
    return sent


def send_to(user) -> bool:
    waiting = list(
        DigestItem.objects.filter(user=user, sent_at__isnull=True).values_list("pk", flat=True)
    )
    now = timezone.now()
    claimed = DigestItem.objects.filter(pk__in=waiting, sent_at__isnull=True)
    if not claimed.update(sent_at=now):
        return False
    items = DigestItem.objects.filter(pk__in=waiting, sent_at=now).select_related("event")
    lines = [
        {
            "event": item.event,
            "data": item.event.data,
            "summary_template": fanout.summary_template(item.event.kind),
            "url": fanout.link(item.event, user),
        }
        for item in items.order_by("event__created_at", "pk")
    ]
    if not lines:
        return False
    try:
        context = {"lines": lines, "settings_url": fanout.settings_link(user)}
        mail.send_to_user("digest", context, user)
    except Exception:
        DigestItem.objects.filter(pk__in=waiting, sent_at=now).update(sent_at=None)
        logger.warning("digest of user %s not sent; it goes with the next", user.pk, exc_info=True)
        return False
    return True
