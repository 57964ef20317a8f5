"""P3 benchmark: mirror reconciliation over N remote tenants.

Creates N tenants in a fresh sandbox (its quota switched off while seeding), mirrors all but a
few into a throwaway SQLite database, changes one and adds one unknown remotely, then runs the
reconciliation once and prints the Admin API calls it made ÷ ceil(N/100) (the fewest possible
with the API's page size of 100; target 1.0), the seconds it took, and the drift it found.

    .venv/bin/python bench/sync.py [--n 1000]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.portal_env import portal_env  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="remote tenants")
    args = parser.parse_args()

    from sandbox.testing import SandboxProcess

    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    sandbox_proc = SandboxProcess()
    sandbox = sandbox_proc.start()
    os.environ.update(portal_env(tmp, sandbox))
    import django

    django.setup()
    from django.core.management import call_command

    from tenants import services
    from tenants.jobs import reconcile
    from tenants.models import Tenant

    call_command("migrate", verbosity=0)
    try:
        sandbox.configure(rate_per_minute=0, rate_per_hour=0)
        for i in range(args.n):
            sandbox.admin(
                "POST",
                "/api/admin/tenants",
                json={"name": f"sync-{i:05d}", "description": f"S {i}"},
            ).raise_for_status()
        listing = sandbox.admin("GET", "/api/admin/tenants", params={"limit": 1000, "skip": 0})
        remote = listing.json()["tenants"]
        skip = len(remote)
        while skip < args.n:
            page = sandbox.admin("GET", "/api/admin/tenants", params={"limit": 1000, "skip": skip})
            remote += page.json()["tenants"]
            skip = len(remote)
        for r in remote[3:]:
            services.mirror_tenant(r)
        Tenant.objects.filter(name="sync-00010").update(description="changed locally")
        Tenant.objects.create(remote_id="tenant_unknown", name="unknown-remotely")
        sandbox.configure(rate_per_minute=100, rate_per_hour=1000)  # the real quota again
        before = len(sandbox.requests())
        started = time.perf_counter()
        report = reconcile.run()
        seconds = time.perf_counter() - started
        calls = [r for r in sandbox.requests()[before:] if r["path"].startswith("/api/admin/")]
    finally:
        sandbox_proc.stop()

    fewest = max(1, math.ceil(args.n / 100))
    print(f"N = {args.n} remote tenants")
    print(f"calls used: {len(calls)} (report says {report.calls}); ceil(N/100) = {fewest}")
    print(f"ratio: {len(calls) / fewest:.2f}  (target 1.0)")
    print(f"seconds: {seconds:.2f}")
    print(f"drift: {dict(Counter(i['kind'] for i in report.items))}")
    ok = len(calls) == fewest and report.state == "done"
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
