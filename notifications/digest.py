"""The daily digest: one email per user with every event queued for it since the last one.

A run claims a user's waiting lines with one conditional UPDATE (a random token and a claim
that runs out), sends the email, and only then marks the lines sent. If the email fails the
lines are handed back at once; if the worker dies instead, its claim runs out and
`resume_abandoned` (on beat) sends them again. So two runs never send the same lines at
once, no line is ever lost, and a worker that died after the email went out but before
marking it causes one repeat of that digest, no more.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from core import mail
from notifications import fanout
from notifications.models import DigestItem

logger = logging.getLogger(__name__)

# Long past a send's few round trips of EMAIL_TIMEOUT each: a live but slow run must not
# see its lines taken over and sent a second time.
CLAIM_MINUTES = 10


def _free(now) -> Q:
    """Lines not sent and not claimed by a run that may still be sending them."""
    return Q(sent_at__isnull=True) & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))


def send_due() -> int:
    """Send every user with waiting lines their digest; returns how many emails went."""
    return _send(DigestItem.objects.filter(_free(timezone.now())))


def resume_abandoned() -> int:
    """Send again the digests whose run died with its lines claimed; returns how many went."""
    now = timezone.now()
    return _send(DigestItem.objects.filter(sent_at__isnull=True, claimed_until__lt=now))


def _send(lines) -> int:
    users = set(lines.values_list("user_id", flat=True))
    sent = 0
    for user in get_user_model().objects.filter(pk__in=users, is_active=True):
        sent += int(send_to(user))
    return sent


def send_to(user) -> bool:
    now = timezone.now()
    token = secrets.token_hex(16)
    claimed = DigestItem.objects.filter(_free(now), user=user).update(
        claim=token, claimed_until=now + timedelta(minutes=CLAIM_MINUTES)
    )
    if not claimed:
        return False
    mine = DigestItem.objects.filter(claim=token, sent_at__isnull=True)
    try:
        lines = [
            {
                "event": item.event,
                "data": item.event.data,
                "summary_template": fanout.summary_template(item.event.kind),
                "url": fanout.link(item.event, user),
            }
            for item in mine.select_related("event").order_by("event__created_at", "pk")
        ]
        context = {"lines": lines, "settings_url": fanout.settings_link(user)}
        mail.send_to_user("digest", context, user)
    except Exception:
        mine.update(claim="", claimed_until=None)
        logger.warning("digest of user %s not sent; it goes with the next", user.pk, exc_info=True)
        return False
    mine.update(sent_at=timezone.now(), claimed_until=None)
    return True
