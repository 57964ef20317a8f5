"""Run inside a subprocess of the crash-recovery test, on the test's own database file.

python -m tests.tenants.jobs.worker_helper create 4     # queue 4 onboardings
python -m tests.tenants.jobs.worker_helper beat 60      # the beat: sweep + dispatch
python -m tests.tenants.jobs.worker_helper worker       # a Celery worker (solo pool) that
                                                        # dies at the points CRASH_AT names

The crashes are injected here, not in the portal's code: the worker wraps the functions that
end each named point, and the process dies right after such a function returns, before the
step's next write. CRASH_AT="point[:mode],..." picks the points; mode "exit" (the default)
is os._exit, as abrupt as a SIGKILL; "hang" sleeps there so that the test can SIGKILL it. A
point may be listed several times. With CRASH_ONCE_DIR, each listing fires once, in order
(marker files <point>.<n>), the way a restarted worker meets the point again.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import django

CRASH_AT = "TEST_CRASH_AT"
CRASH_ONCE_DIR = "TEST_CRASH_ONCE_DIR"

# Each point and the function whose return it follows (module, attribute). The steps call
# these through their modules (admin_api.create_tenant, keys.create_job_key, ...), so
# replacing the module attribute reaches them.
SEAMS: dict[str, tuple[str, str]] = {
    # The tenant exists remotely, the mirror and the job do not know it yet.
    "after_tenant_created": ("einvoice.admin", "create_tenant"),
    # The key exists remotely and its value was shown once; nothing is stored (an orphan).
    "after_key_created": ("einvoice.admin", "create_api_key"),
    # The key is stored and the job advanced to the Peppol step.
    "after_key_stored": ("tenants.keys", "create_job_key"),
    # Registered on Peppol; the job is not marked done yet.
    "after_registered": ("tenants.peppol", "register_peppol"),
}

WORKER_ARGS = [
    "worker", "--pool", "solo", "--loglevel", "WARNING",
    "--without-heartbeat", "--without-gossip", "--without-mingle",
]  # fmt: skip

logger = logging.getLogger(__name__)


def _mode_now(name: str, modes: list[str], once_dir: str | None) -> str | None:
    """The mode of this arrival at the point, or None when it should pass."""
    if not once_dir:
        return modes[0]
    for n, mode in enumerate(modes):
        try:
            (Path(once_dir) / f"{name}.{n}").touch(exist_ok=False)
        except FileExistsError:
            continue
        return mode
    return None


def crash(name: str, modes: list[str], once_dir: str | None) -> None:
    mode = _mode_now(name, modes, once_dir)
    if mode is None:
        return
    logger.warning("crash test: %s at %s", mode, name)
    if mode == "hang":
        time.sleep(3600)
    os._exit(137)


def _crashing(fn: Callable[..., Any], name: str, modes: list[str], once_dir: str | None):
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        crash(name, modes, once_dir)
        return result

    return wrapper


def parse_points(spec: str) -> dict[str, list[str]]:
    points: dict[str, list[str]] = {}
    for item in filter(None, spec.split(",")):
        name, _, mode = item.partition(":")
        if name not in SEAMS:
            raise SystemExit(f"{CRASH_AT}: unknown point {name!r} (known: {', '.join(SEAMS)})")
        points.setdefault(name, []).append(mode or "exit")
    return points


def install_crashes(spec: str, once_dir: str | None) -> None:
    """Wrap the function of every point `spec` names."""
    for name, modes in parse_points(spec).items():
        module_name, attribute = SEAMS[name]
        module = importlib.import_module(module_name)
        original = getattr(module, attribute)  # AttributeError: the seam moved, update SEAMS
        setattr(module, attribute, _crashing(original, name, modes, once_dir))


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from jobs import dispatcher

    command = argv[0]
    if command == "create":
        from tenants.onboarding import steps as onboarding
        from tests.tenants.jobs.conftest import customer

        for i in range(int(argv[1])):
            onboarding.start(customer(100 + i), register_peppol=True, kick=False)
        dispatcher.dispatch()
    elif command == "beat":
        deadline = time.monotonic() + int(argv[1])
        while time.monotonic() < deadline:
            dispatcher.sweep()
            time.sleep(0.3)
    elif command == "worker":
        install_crashes(os.environ.get(CRASH_AT, ""), os.environ.get(CRASH_ONCE_DIR))
        from portal.celery import app

        app.worker_main(WORKER_ARGS)


if __name__ == "__main__":
    main(sys.argv[1:])
