"""Run inside a subprocess of the crash-recovery test, on the test's own database file.

python -m tests.tenants.jobs.worker_helper create 4     # queue 4 onboardings
python -m tests.tenants.jobs.worker_helper beat 60      # the beat: sweep + dispatch
"""

from __future__ import annotations

import os
import sys
import time

import django


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from tenants.jobs import dispatcher, onboarding
    from tests.tenants.jobs.conftest import customer

    command, arg = argv[0], int(argv[1])
    if command == "create":
        for i in range(arg):
            onboarding.start(customer(100 + i), register_peppol=True, kick=False)
        dispatcher.dispatch()
    elif command == "beat":
        deadline = time.monotonic() + arg
        while time.monotonic() < deadline:
            dispatcher.sweep()
            time.sleep(0.3)


if __name__ == "__main__":
    main(sys.argv[1:])
