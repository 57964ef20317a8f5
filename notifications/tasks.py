"""Celery tasks of the notifications; each calls the functions the views and tests call.

Events and deliveries are local jobs (jobs.local): released at once, swept on beat by
core.tasks.sweep_local_jobs. Beat runs `send_digests` once a day at NOTIFY_DIGEST_HOUR.
"""

from __future__ import annotations

from celery import shared_task

from notifications import digest, fanout, webhooks


@shared_task(ignore_result=True)
def run_event(event_id: int) -> None:
    fanout.run(event_id)


@shared_task(ignore_result=True)
def run_delivery(delivery_id: int) -> None:
    webhooks.run(delivery_id)


@shared_task(ignore_result=True)
def send_digests() -> int:
    return digest.send_due()
