"""Celery tasks of the generic machinery."""

from celery import shared_task

from jobs import local


@shared_task(ignore_result=True)
def sweep_local_jobs() -> int:
    # Every few seconds on beat: due retries (webhook backoff), lost messages, dead runs.
    return local.sweep()
