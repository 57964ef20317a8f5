"""P3 benchmark: mirror reconciliation over N remote tenants, within its share of the quota.

Creates N tenants in a fresh sandbox (its quota off while seeding; the seconds per 1 000
creates, first and last, show whether a create scans the names), mirrors all but three into
a throwaway SQLite database, changes one and adds one unknown remotely. Then, with the quota
on (100/min, 1000/h on a clock --time-scale times faster, the portal's limiter likewise),
the sync runs in a process of its own that plays its worker (run, then wait until
next_page_at); --kill-at kills it (SIGKILL) once it has stored that share of the pages, and
a second process resumes the report once the dead run's lease has passed. With
--onboard M, M CSV onboardings run meanwhile in a real Celery worker (the bench plays beat).

Calls are counted from the sandbox's request log read incrementally by sequence number
(`since=`), so nothing is lost to its 10 000-entry cap (a gap in the numbers is reported).
Prints the sync's calls ÷ ceil(remote total/100) (target 1.0; a kill can repeat the one page whose
answer came but was not stored yet), its busiest minute and hour against its share
(SYNC_QUOTA_SHARE), the onboarding's calls and onboardings in the same windows, and 429s.

    .venv/bin/python bench/sync.py [--n 1000] [--time-scale 60] [--share 0.5]
        [--kill-at 0.5] [--onboard 0]
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.portal_env import bench_settings, busiest_window, portal_env  # noqa: E402


def drive(report_id: int) -> int:
    """The sync's worker: run, wait until its share frees a call, run again."""
    import django

    django.setup()
    from django.utils import timezone

    from tenants import reconcile

    reconcile._send_run = lambda *a, **k: None  # this loop is the continuation
    while True:
        report = reconcile.run(report_id)
        if report.state != "running":
            return 0
        wait = 0.2 if report.next_page_at is None else 0.0
        if report.next_page_at is not None:
            wait = (report.next_page_at - timezone.now()).total_seconds()
        time.sleep(max(0.01, wait))


def _csv(n: int) -> bytes:
    lines = ["company_name,name,country,company_number,vat_number,peppol_id"]
    for i in range(n):
        base = 3_000_000 + i
        number = f"0{base:07d}{97 - (base % 97):02d}"
        lines.append(f"Bench Customer {i} BV,bench-{i:05d},BE,{number},BE{number},")
    return ("\n".join(lines) + "\n").encode()


def _seed_http(sandbox, first: int, last: int) -> list[float]:
    """Create tenants first..last-1 over HTTP, quota off; seconds per 1 000 creates."""
    sandbox.configure(rate_per_minute=0, rate_per_hour=0)
    per_thousand: list[float] = []
    started = time.perf_counter()
    for i in range(first, last):
        body = {"name": f"sync-{i:06d}", "description": f"S {i}"}
        sandbox.admin("POST", "/api/admin/tenants", json=body).raise_for_status()
        if (i + 1 - first) % 1000 == 0:
            per_thousand.append(time.perf_counter() - started)
            started = time.perf_counter()
    return per_thousand


class Log:
    """The sandbox's request log, read on by sequence number."""

    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox
        self.last = max((r["seq"] for r in sandbox.requests()), default=0)
        self.entries: list[dict] = []
        self.gaps = 0

    def read(self) -> None:
        for r in self.sandbox.requests(since=self.last):
            if r["seq"] != self.last + 1:
                self.gaps += r["seq"] - self.last - 1
            self.last = r["seq"]
            self.entries.append(r)


def _seconds(entry: dict) -> float:
    return datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="remote tenants")
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--share", type=float, default=0.5, help="SYNC_QUOTA_SHARE")
    parser.add_argument("--kill-at", type=float, default=0.5, help="0 = no kill")
    parser.add_argument("--onboard", type=int, default=0, help="onboardings meanwhile")
    parser.add_argument(
        "--seed-http",
        type=int,
        default=5000,
        help="of N, created over HTTP (timed); the rest come from a sandbox state file",
    )
    parser.add_argument("--drive", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        return drive(args.drive)

    from sandbox.testing import SandboxProcess

    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    args.seed_http = min(args.n, args.seed_http)
    sandbox_proc = SandboxProcess(env={"SANDBOX_TIME_SCALE": str(args.time_scale)})
    sandbox = sandbox_proc.start()
    env = {
        **portal_env(tmp, sandbox),
        "RATE_LIMIT_TIME_SCALE": str(args.time_scale),
        "SYNC_QUOTA_SHARE": str(args.share),
        "JOBS_LEASE_SECONDS": "3",
        "JOBS_MAX_IN_FLIGHT": "6",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_DIR": str(tmp / "broker"),
    }
    bench_settings(tmp, REPO, env, 'CELERY_BROKER_TRANSPORT = "jobs.broker:Transport"')
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from tenants import reconcile
    from tenants.models import Tenant
    from tenants.models.jobs import ReconcileReport

    call_command("migrate", verbosity=0)
    procs: list[subprocess.Popen] = []
    try:
        if args.n > args.seed_http:  # the rest at once, through the sandbox's control API
            seeded = sandbox._control(
                "POST", "/seed-tenants", json={"count": args.n - args.seed_http, "prefix": "sync"}
            )
            assert seeded["created"] == args.n - args.seed_http, seeded
        per_thousand = _seed_http(sandbox, args.n - args.seed_http, args.n)
        remote: list[dict] = []
        while len(remote) < args.n:
            page = sandbox.admin(
                "GET", "/api/admin/tenants", params={"limit": 1000, "skip": len(remote)}
            )
            remote += page.json()["tenants"]
        Tenant.objects.bulk_create(
            Tenant(remote_id=r["id"], name=r["name"], description=r["description"] or "")
            for r in remote[3:]
        )
        Tenant.objects.filter(name="sync-000010").update(description="changed locally")
        Tenant.objects.create(remote_id="tenant_unknown", name="unknown-remotely")
        sandbox.configure(rate_per_minute=100, rate_per_hour=1000)  # the real quota again
        log = Log(sandbox)

        if args.onboard:
            from django.core.files.uploadedfile import SimpleUploadedFile

            from jobs import dispatcher
            from tenants.onboarding import bulk

            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "portal",
                        "worker",
                        "--loglevel",
                        "WARNING",
                        "--concurrency",
                        "4",
                        "--without-heartbeat",
                        "--without-gossip",
                        "--without-mingle",
                    ],
                    cwd=REPO,
                    env={**os.environ},
                    stdout=open(tmp / "worker.log", "w"),
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
            time.sleep(3)
            batch = bulk.create_batch(
                SimpleUploadedFile("b.csv", _csv(args.onboard)), register_peppol=True, user=None
            )
            bulk.start(batch, user=None)

        report = ReconcileReport.objects.create()
        driver = [sys.executable, str(Path(__file__).resolve()), "--drive", str(report.pk)]
        sync_proc = subprocess.Popen(driver, cwd=REPO, env={**os.environ})
        procs.append(sync_proc)
        t0 = time.monotonic()
        killed_at = None
        next_beat = 0.0
        while True:
            time.sleep(0.5)
            log.read()
            if args.onboard and time.monotonic() >= next_beat:
                dispatcher.sweep()
                next_beat = time.monotonic() + 1.0
            report.refresh_from_db()
            if (
                killed_at is None
                and args.kill_at
                and report.position >= args.kill_at * args.n
                and report.state == "running"
            ):
                sync_proc.send_signal(signal.SIGKILL)
                sync_proc.wait()
                killed_at = report.position
                print(f"killed the sync at position {killed_at} of {args.n}", flush=True)
                sync_proc = subprocess.Popen(driver, cwd=REPO, env={**os.environ})
                procs.append(sync_proc)
            if report.state != "running" and sync_proc.poll() is not None:
                break
        sync_seconds = time.monotonic() - t0
        if args.onboard:
            from jobs.models import JobState
            from tenants.models.jobs import OnboardingJob

            while (
                OnboardingJob.objects.exclude(
                    state__in=[JobState.SUCCEEDED, JobState.FAILED]
                ).exists()
                and time.monotonic() - t0 < 6 * 3600 / args.time_scale
            ):
                dispatcher.sweep()
                log.read()
                time.sleep(1)
            log.read()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(30)
        sandbox_proc.stop()

    admin = [r for r in log.entries if r["path"].startswith("/api/admin/")]
    sync_calls = [r for r in admin if r["path"] == "/api/admin/tenants" and r["method"] == "GET"]
    other = [r for r in admin if r not in sync_calls]
    statuses = Counter(r["status"] for r in admin)
    # Onboarding meanwhile adds tenants (at the end of the listing): the fewest calls are
    # those of the total at the last page.
    fewest = max(1, math.ceil(max(args.n, report.remote_total) / 100))
    distinct = len({r["query"] for r in sync_calls})
    minute, hour = 60 / args.time_scale, 3600 / args.time_scale
    s_times = sorted(_seconds(r) for r in sync_calls)
    o_times = sorted(_seconds(r) for r in other)
    per_minute, per_hour = reconcile.share_limits()
    print(f"N = {args.n} remote tenants; time scale {args.time_scale:g} (hour = {hour:.0f} s)")
    if per_thousand:
        print(
            f"seeding over HTTP on top of {args.n - args.seed_http} tenants: "
            f"first 1000 creates {per_thousand[0]:.2f} s, last 1000 "
            f"{per_thousand[-1]:.2f} s (ratio {per_thousand[-1] / per_thousand[0]:.2f})"
        )
    print(f"sync calls: {len(sync_calls)} ({distinct} distinct pages; report says {report.calls})")
    print(
        f"remote tenants at the last page: {report.remote_total}; ceil(that/100) = {fewest}; "
        f"ratio {len(sync_calls) / fewest:.3f} (distinct {distinct / fewest:.3f})"
    )
    print(
        f"sync ran {sync_seconds:.0f} s = {sync_seconds / hour:.2f} scaled hours; state {report.state}"
    )
    print(
        f"sync busiest minute {busiest_window(s_times, minute)} / share {per_minute}, "
        f"busiest hour {busiest_window(s_times, hour)} / share {per_hour}"
    )
    if args.onboard:
        done = OnboardingJob.objects.filter(state=JobState.SUCCEEDED).count()
        print(
            f"onboarding meanwhile: {done}/{args.onboard} finished; its calls {len(o_times)}, "
            f"busiest minute {busiest_window(o_times, minute)}, "
            f"busiest hour {busiest_window(o_times, hour)}"
        )
        both = sorted(s_times + o_times)
        print(
            f"all calls: busiest minute {busiest_window(both, minute)} / 100, "
            f"busiest hour {busiest_window(both, hour)} / 1000"
        )
    print(f"429 received: {statuses.get(429, 0)}; request-log gaps: {log.gaps}")
    print(f"drift: {dict(Counter(i['kind'] for i in report.items))}")
    ok = (
        report.state == "done"
        and distinct == fewest
        and len(sync_calls) <= fewest + (1 if killed_at else 0)
        and not statuses.get(429)
        and not log.gaps
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
