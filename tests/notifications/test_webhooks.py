"""Signed outbound webhooks: retried with backoff until the reseller's system answers 2xx,
never redirected, given up after the last attempt; endpoints, "Send test" and the log."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry
from jobs.models import JobState
from notifications import emit, webhooks
from notifications.models import WebhookDelivery, WebhookEndpoint
from tests.notifications.conftest import drive, make_due


def failed_document_event(acme):
    emit.emit(
        "document.failed",
        "document.failed:test-1",
        tenant=acme,
        data={"document": {"number": "INV-9", "failure_reason": "Receiver unknown"}},
    )


def test_it_signs_with_a_timestamp_the_receiver_checks():
    body = b'{"type":"document.failed"}'
    header = webhooks.sign("whsec_x", 1_700_000_000, body)
    assert webhooks.verify("whsec_x", header, body, now=1_700_000_100)
    assert not webhooks.verify("whsec_other", header, body, now=1_700_000_100)
    assert not webhooks.verify("whsec_x", header, body + b" ", now=1_700_000_100)
    # A replay ten minutes later is refused, though the signature is right.
    assert not webhooks.verify("whsec_x", header, body, now=1_700_000_600)


def test_it_retries_with_backoff_after_a_500(client, alice, acme, endpoint, receiver, settings):
    settings.NOTIFY_WEBHOOK_RETRY_BASE_SECONDS = 60
    receiver.answers = [500]
    failed_document_event(acme)
    before = timezone.now()
    drive()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == JobState.WAITING and delivery.last_status == 500
    # Not before half the base (full jitter over the upper half), not after the base.
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 30 <= wait <= 61, wait
    drive()  # not due yet: nothing is sent
    assert len(receiver.received) == 1

    make_due(delivery)
    drive()
    delivery.refresh_from_db()
    assert delivery.state == JobState.SUCCEEDED and delivery.last_status == 200
    assert [h["status"] for h in delivery.history] == [500, 200]
    client.force_login(alice)
    log = client.get(reverse("notifications:deliveries")).content.decode()
    assert "· 500 ·" in log and "Answered 500." in log and 'data-state="succeeded"' in log
    first, second = receiver.received
    assert first.verified and second.verified
    # The same delivery id on the retry: the receiver can tell it is the same event.
    assert first.headers["X-Portal-Delivery"] == second.headers["X-Portal-Delivery"]
    assert first.event == second.event


def test_it_doubles_the_wait_after_each_failure(settings):
    settings.NOTIFY_WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.NOTIFY_WEBHOOK_RETRY_MAX_SECONDS = 1000
    assert 5 <= webhooks.backoff(1) <= 10
    assert 20 <= webhooks.backoff(3) <= 40
    assert 500 <= webhooks.backoff(20) <= 1000


def test_it_never_follows_a_redirect(acme, endpoint, receiver):
    receiver.answers = [302]
    failed_document_event(acme)
    drive()
    delivery = WebhookDelivery.objects.get()
    assert len(receiver.received) == 1  # /moved was not asked for
    assert delivery.state == JobState.WAITING and "redirect" in delivery.last_error


def test_it_gives_up_after_the_last_attempt(acme, endpoint, receiver, settings):
    settings.NOTIFY_WEBHOOK_MAX_ATTEMPTS = 2
    receiver.answers = [503, 503]
    failed_document_event(acme)
    drive()
    make_due(WebhookDelivery.objects.get())
    drive()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == JobState.FAILED and "Gave up after 2 attempts" in delivery.last_error
    assert len(receiver.received) == 2


def test_it_sends_only_the_events_an_endpoint_chose(acme, endpoint, receiver):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(kinds=["document.received"])
    failed_document_event(acme)
    drive()
    assert not receiver.received and not WebhookDelivery.objects.exists()


def test_it_shows_the_secret_once_and_sends_a_test(client, alice, receiver):
    client.force_login(alice)
    url = reverse("notifications:endpoints")
    created = client.post(url, {"url": receiver.url, "kinds": ["document.failed"]})
    endpoint = WebhookEndpoint.objects.get()
    secret = endpoint.reveal_secret()
    assert secret.startswith("whsec_") and secret in created.content.decode()
    assert secret not in client.get(url).content.decode()
    assert AuditEntry.objects.filter(action="webhook.endpoint_add").exists()
    assert secret not in str(list(AuditEntry.objects.values_list("changes", flat=True)))

    receiver.secret = secret
    done = client.post(reverse("notifications:endpoint_test", args=[endpoint.pk]), follow=True)
    assert "The test event was delivered" in done.content.decode()
    [hook] = receiver.received
    assert hook.verified and hook.event["type"] == "webhook.test"
    log = client.get(reverse("notifications:deliveries")).content.decode()
    assert 'data-state="succeeded"' in log and receiver.url in log


def test_it_leaves_endpoints_to_admins(client, otto):
    client.force_login(otto)
    assert client.get(reverse("notifications:endpoints")).status_code == 403
    assert client.get(reverse("notifications:deliveries")).status_code == 200


def test_it_gives_a_silent_receiver_up_at_the_timeout_and_retries(acme, settings):
    # A receiver that never answers: the attempt ends at the timeout and is retried later.
    import socket

    settings.NOTIFY_WEBHOOK_TIMEOUT_SECONDS = 0.5
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        hook = WebhookEndpoint(
            url=f"http://127.0.0.1:{silent.getsockname()[1]}/", kinds=["document.failed"]
        )
        hook.set_secret("whsec_s")
        hook.save()
        failed_document_event(acme)
        drive()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == JobState.WAITING and "timed out" in delivery.last_error.lower()


@pytest.mark.parametrize("bad", ["ftp://example.com/", "javascript:alert(1)"])
def test_it_refuses_an_endpoint_that_is_not_http(client, alice, bad):
    client.force_login(alice)
    client.post(reverse("notifications:endpoints"), {"url": bad, "kinds": ["job.failed"]})
    assert not WebhookEndpoint.objects.exists()


def test_it_sends_a_due_retry_once_and_hands_back_a_dead_runs_delivery(acme, endpoint):
    """The sweep on beat: a retry whose backoff passed goes once (not on every sweep while a
    busy worker has not taken it yet); a delivery whose worker died is handed back and sent."""
    from datetime import timedelta

    from core import tasks as core_tasks
    from notifications import tasks

    failed_document_event(acme)
    drive()  # delivered (the receiver answers 200)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=JobState.WAITING, next_attempt_at=timezone.now(), dispatched_at=None
    )
    tasks.run_delivery.delay.reset_mock()
    core_tasks.sweep_local_jobs()
    core_tasks.sweep_local_jobs()  # the message is out already: not sent twice
    assert [c.args for c in tasks.run_delivery.delay.call_args_list] == [(delivery.pk,)]

    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=JobState.RUNNING, owner="dead", lease_until=timezone.now() - timedelta(seconds=1)
    )
    core_tasks.sweep_local_jobs()
    delivery.refresh_from_db()
    assert delivery.state == JobState.WAITING and delivery.owner == ""
    assert len(tasks.run_delivery.delay.call_args_list) == 2


def test_it_stops_sending_to_a_turned_off_endpoint_and_rotates_its_secret(
    client, alice, acme, endpoint, receiver
):
    client.force_login(alice)
    client.post(reverse("notifications:endpoint_active", args=[endpoint.pk]))
    failed_document_event(acme)
    drive()
    assert not receiver.received and not WebhookDelivery.objects.exists()

    client.post(reverse("notifications:endpoint_active", args=[endpoint.pk]))  # on again
    page = client.post(reverse("notifications:endpoint_secret", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.reveal_secret() in page.content.decode()
    assert endpoint.reveal_secret() != receiver.secret
    emit.emit("document.failed", "document.failed:test-2", tenant=acme, data={})
    drive()
    [hook] = receiver.received
    assert not hook.verified  # the receiver still holds the old secret
    receiver.secret = endpoint.reveal_secret()
    assert webhooks.verify(receiver.secret, hook.headers[webhooks.SIGNATURE_HEADER], hook.body)
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"webhook.endpoint_active", "webhook.secret_rotate"} <= actions
