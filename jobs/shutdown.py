"""A warm shutdown stops a worker within a step, not within a job, and keeps no job waiting.

On SIGTERM the process running a job lets the step in progress finish and record itself as
usual, then hands the job back (jobs.runner: waiting, due now, no owner, no lease): another
worker resumes it at the next step at once instead of one lease later, and no step that
wrote remotely is cut off before recording it.

- The worker's main process (where the jobs run with the solo or threads pool) sets the flag
  from Celery's worker_shutting_down, and passes the SIGTERM on to the prefork pool
  processes running a task: `docker stop` signals the main process alone.
- A prefork pool process exits on SIGTERM (billiard's handler), so a SIGTERM to the whole
  process group (systemd, `kill -- -PGID`) ended the task mid-step, and the main process
  then waited for its result for ever (billiard's pool.join). Here a pool process running a
  task sets the flag and lets the task end; an idle one exits at once as before.

A SIGTERM to the whole group can still reach an idle pool process while it writes a result:
it dies holding the pool's queue lock, and the main process waits for that lock for ever
(seen under bin/run: the worker killed after its 30 s). So the worker's main process should
be the only one signalled: `docker stop` does that, systemd with KillMode=mixed, bin/run by
running the worker in a session of its own (with `stop_with_parent` for when its supervisor
is killed outright).

portal/celery.py connects these to Celery's signals.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from contextlib import suppress
from typing import Any

logger = logging.getLogger(__name__)

# Set once this process is stopping: a job run hands its job back after the current step.
stopping = threading.Event()

# Celery tasks running in this process (a prefork pool process runs one at a time).
_running = 0
_pool_process = False
# The SIGTERM handler ours replaced in a pool process: what an idle one does.
_idle_handler: Any = None


def on_worker_shutting_down(**kwargs: Any) -> None:
    """Celery's warm shutdown began (in the worker's main process, from its signal handler)."""
    stopping.set()
    from celery.worker import state

    try:
        pids = {request.worker_pid for request in list(state.active_requests)}
    except RuntimeError:  # the set changed while copied (threads pool): signal them all
        pids = set()
    for pid in pids - {None, os.getpid()}:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


def on_pool_process_init(**kwargs: Any) -> None:
    """A prefork pool process started (Celery's worker_process_init)."""
    global _pool_process
    _pool_process = True


def _on_sigterm_in_pool_process(signum: int, frame: Any) -> None:
    if not _running:
        # Idle: nothing to finish. Exit the way billiard's own handler does.
        if callable(_idle_handler):
            _idle_handler(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    if not stopping.is_set():
        logger.warning("SIGTERM: finishing the current step, then handing the job back")
    stopping.set()


def on_task_prerun(**kwargs: Any) -> None:
    global _running, _idle_handler
    _running += 1
    if _pool_process and _idle_handler is None:
        # Here, not at worker_process_init: billiard installs its SIGTERM handler (exit at
        # once, mid-task too) after that signal, before the first task. Ignored SIGTERM
        # (REMAP_SIGTERM) stays ignored.
        _idle_handler = signal.getsignal(signal.SIGTERM)
        if _idle_handler != signal.SIG_IGN:
            signal.signal(signal.SIGTERM, _on_sigterm_in_pool_process)


def on_task_postrun(**kwargs: Any) -> None:
    global _running
    _running = max(0, _running - 1)


def stop_with_parent(**kwargs: Any) -> None:
    """With STOP_WITH_PARENT set (bin/run): SIGTERM this process (a warm shutdown) once its
    parent, the supervisor that would have signalled it, is gone. A process of a session
    of its own does not die with its supervisor's process group."""
    if not os.environ.get("STOP_WITH_PARENT"):
        return
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        logger.warning("the supervisor %s is gone: stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
