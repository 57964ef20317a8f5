import os

from celery import Celery, signals

from jobs import shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# SIGTERM lets the step in progress finish and hands its job back (jobs.shutdown).
signals.worker_shutting_down.connect(shutdown.on_worker_shutting_down, weak=False)
signals.worker_process_init.connect(shutdown.on_pool_process_init, weak=False)
signals.task_prerun.connect(shutdown.on_task_prerun, weak=False)
signals.task_postrun.connect(shutdown.on_task_postrun, weak=False)
signals.worker_init.connect(shutdown.stop_with_parent, weak=False)
signals.beat_init.connect(shutdown.stop_with_parent, weak=False)


def reuse_database_connections(**kwargs) -> None:
    """Before and after each task, what Django does around each request: a connection older
    than CONN_MAX_AGE, left in a transaction or broken by an error is closed, any other is
    kept (and checked before its next use: CONN_HEALTH_CHECKS). See CELERY_DB_REUSE_MAX."""
    from django.db import close_old_connections

    close_old_connections()


signals.task_prerun.connect(reuse_database_connections, weak=False)
signals.task_postrun.connect(reuse_database_connections, weak=False)


def warm_up(**kwargs) -> None:
    """In the worker's main process, before the pool forks: what each pool process would
    otherwise load on its first task, loaded once and inherited by all of them. The first
    reverse() imports every view module of the URLconf (over half a second of CPU)."""
    from django.conf import settings
    from django.urls import reverse

    from einvoice import http

    reverse("home")
    reverse("tenants:jobs")  # an app's namespace is read on its first reverse
    http.warm_up()
    if settings.RATE_LIMIT_REDIS_URL:
        # The limiter's client; redis-py imports its asyncio half too (0.23 s of CPU), which
        # each pool process paid on its first call otherwise. Imported only: no connection
        # is made before the fork.
        import redis  # noqa: F401


signals.worker_init.connect(warm_up, weak=False)
