"""Signed outbound webhooks to the reseller's own systems.

Each delivery POSTs the event as JSON with

    X-Portal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body, keyed by the
                        endpoint's secret>
    X-Portal-Event: <kind>        X-Portal-Delivery: <event id, the same on every retry>

A receiver recomputes v1 over the raw body and refuses a t too far from its clock (replays).
A 2xx answer ends the delivery; anything else (a 3xx included: redirects are never followed,
a receiver that moved must be edited here) is tried again with exponential backoff and
jitter, as a leased job row, until NOTIFY_WEBHOOK_MAX_ATTEMPTS. The payload carries ids,
names, states and reasons, never a key, token or secret.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import random
import secrets
import ssl
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from core import audit, mail
from core.logfilter import mask_secrets
from jobs import runner
from notifications.models import Event, WebhookDelivery

SIGNATURE_HEADER = "X-Portal-Signature"
USER_AGENT = "PeppolResellerPortal-Webhooks/1"
MAX_READ = 64 * 1024


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, tolerance: float = 300, now=None) -> bool:
    """What a receiver does (the tests' receiver too): the signature and a fresh timestamp."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def payload(event: Event) -> dict:
    data = {k: v for k, v in event.data.items() if k not in ("path", "customer_path")}
    body = {
        "id": str(event.uid),
        "type": event.kind,
        "created_at": event.created_at.isoformat(),
        "data": data,
    }
    if event.data.get("path"):
        body["url"] = mail.absolute(event.data["path"])
    return body


def body_of(event: Event) -> bytes:
    return json.dumps(payload(event), sort_keys=True, separators=(",", ":")).encode()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """(status, error): one POST, no redirect followed, the answer read at most MAX_READ."""
    parts = urlsplit(url)
    timeout = float(settings.NOTIFY_WEBHOOK_TIMEOUT_SECONDS)
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    else:
        return None, _("Not an http(s) URL.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(MAX_READ)
        status = response.status
        if 300 <= status < 400:
            return status, _(
                "Answered with a redirect (%(status)s): redirects are not followed."
            ) % {"status": status}
        if not 200 <= status < 300:
            return status, _("Answered %(status)s.") % {"status": status}
        return status, ""
    except (OSError, http.client.HTTPException) as e:
        return None, mask_secrets(f"{type(e).__name__}: {e}")[:300]
    finally:
        conn.close()


def backoff(attempts: int) -> float:
    base = float(settings.NOTIFY_WEBHOOK_RETRY_BASE_SECONDS)
    cap = float(settings.NOTIFY_WEBHOOK_RETRY_MAX_SECONDS)
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not crypto


def run(delivery_id: int) -> WebhookDelivery | None:
    return runner.claim_and_execute(WebhookDelivery, delivery_id, attempt)


def attempt(delivery: WebhookDelivery) -> bool:
    endpoint, event = delivery.endpoint, delivery.event
    if not endpoint.is_active:
        raise runner.PermanentFailure(_("The endpoint is turned off."))
    body = body_of(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Portal-Event": event.kind,
        "X-Portal-Delivery": str(event.uid),
        SIGNATURE_HEADER: sign(endpoint.reveal_secret(), int(time.time()), body),
    }
    started = time.monotonic()
    status, error = post(endpoint.url, body, headers)
    took = round((time.monotonic() - started) * 1000)
    tried = {"at": timezone.now().isoformat(), "status": status, "error": error, "ms": took}
    history = [*delivery.history, tried]
    runner.save_progress(delivery, history=history, last_status=status)
    if not error:
        return True
    if len(history) >= int(settings.NOTIFY_WEBHOOK_MAX_ATTEMPTS):
        raise runner.PermanentFailure(
            _("Gave up after %(n)s attempts: %(error)s") % {"n": len(history), "error": error}
        )
    raise runner.RetryLater(backoff(len(history)), note=error)


def send_test(endpoint, *, by) -> WebhookDelivery:
    """A test event to `endpoint` only, its first attempt made now (then retried as usual)."""
    from notifications import kinds

    event = Event.objects.create(
        kind=kinds.TEST,
        key=f"{kinds.TEST}:{secrets.token_hex(8)}",
        only_endpoint=endpoint,
        data={"test": True, "sent_by": by.get_username()},
        state="succeeded",
        finished_at=timezone.now(),
    )
    delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint)
    audit.record("webhook.test", target=endpoint.url, user=by)
    run(delivery.pk)
    delivery.refresh_from_db()
    return delivery
