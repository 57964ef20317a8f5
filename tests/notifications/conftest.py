"""Fixtures of the notification tests: a receiver of the reseller's own (a small local HTTP
server that checks each signature), an endpoint pointing at it, and a helper that runs the
due events and deliveries the way a worker does.

The invoice fixtures (Carol's seller tenant, Bob's buyer tenant on the sandbox, the live
portal the sandbox's webhooks reach) come from tests/invoices.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from jobs import local
from jobs.models import JobState
from notifications import fanout, webhooks
from notifications.kinds import CODES
from notifications.models import Event, WebhookDelivery, WebhookEndpoint
from tests.invoices.conftest import buyer, portal_url, seller  # noqa: F401 - fixtures

SECRET = "whsec_receiver_test_secret"  # noqa: S105 - a test value


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """The reseller's system: answers each POST with the next status of `answers` (then 200)."""

    url: str = ""
    secret: str = SECRET
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    @property
    def verified(self) -> list[Received]:
        return [r for r in self.received if r.verified]


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            signature = self.headers.get(webhooks.SIGNATURE_HEADER, "")
            ok = webhooks.verify(state.secret, signature, body)
            state.received.append(Received(dict(self.headers.items()), body, ok))
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/moved")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/portal"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def endpoint(db, receiver) -> WebhookEndpoint:
    hook = WebhookEndpoint(url=receiver.url, description="ERP", kinds=list(CODES))
    hook.set_secret(receiver.secret)
    hook.save()
    return hook


def drive(max_rounds: int = 5) -> None:
    """Run every due event, then every due delivery, like the workers (backoff waits kept)."""
    for _ in range(max_rounds):
        events = local.due(Event, sent_too=True)
        for pk in events:
            fanout.run(pk)
        deliveries = local.due(WebhookDelivery, sent_too=True)
        for pk in deliveries:
            webhooks.run(pk)
        if not events and not deliveries:
            return


def make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk, state=JobState.WAITING).update(
        next_attempt_at=timezone.now()
    )
