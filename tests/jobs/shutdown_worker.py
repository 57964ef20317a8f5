"""A real Celery worker for the warm-shutdown test, on the test's own database file.

python -m tests.jobs.shutdown_worker prefork   # pool processes, as bin/run and compose run
python -m tests.jobs.shutdown_worker solo      # the worker that resumes what was handed back

With TEST_PAUSE_DIR set, the key step pauses right after the key was created remotely (its
value known, nothing stored yet: the worst moment to die): it writes <dir>/paused and waits
for <dir>/go. The test sends SIGTERM there. The pause is injected here, not in the portal.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

import django

PAUSE_DIR = "TEST_PAUSE_DIR"
ARGS = ["worker", "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip",
        "--without-mingle"]  # fmt: skip


def _pausing(fn, folder: Path):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        result = fn(*args, **kwargs)
        (folder / "paused").touch()
        deadline = time.monotonic() + 120
        while not (folder / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return result

    return wrapper


def main(pool: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    if os.environ.get(PAUSE_DIR):
        from einvoice import admin

        admin.create_api_key = _pausing(admin.create_api_key, Path(os.environ[PAUSE_DIR]))
    from portal.celery import app

    extra = ["--pool", "solo"] if pool == "solo" else ["--concurrency", "2"]
    app.worker_main([*ARGS, *extra])


if __name__ == "__main__":
    main(sys.argv[1])
