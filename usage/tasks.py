"""Celery tasks of usage collection; beat runs collect_due once a minute (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from usage import collect


@shared_task(name="usage.tasks.collect_due", ignore_result=True)
def collect_due() -> int:
    return collect.collect_due()
