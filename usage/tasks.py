"""Celery tasks of usage collection; beat runs collect_due once a minute (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from usage import collect, panels


@shared_task(name="usage.tasks.collect_due", ignore_result=True)
def collect_due() -> int:
    ran = collect.collect_due()
    # Here, once a minute, rather than in the first staff view after the figures moved (or
    # the day did): a few small queries when nothing did.
    panels.prepare_fleet_panels()
    return ran
