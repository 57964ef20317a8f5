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
