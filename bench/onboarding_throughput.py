"""P1 benchmark: onboarding throughput against the sandbox's quota.

Starts a sandbox that enforces the organization quota (100/min, 1000/h) on a clock running
--time-scale times faster, a throwaway SQLite database and filesystem broker, and real Celery
workers; uploads a CSV of N customers through the bulk-onboarding code; plays the beat
(sweep + dispatch every second) for one scaled hour plus a little; then prints, from the
sandbox's own request log:

- calls in the busiest sliding minute and hour windows ÷ the quota of each (the hour binds:
  3 calls per onboarding, so 1000/h is at most 333 onboardings an hour);
- 429 answers received (target 0), duplicate tenants and keys (target 0);
- the peak number of jobs released to the broker or running, which bounds the task
  messages reserved by workers (target: JOBS_MAX_IN_FLIGHT, however large N is).

    .venv/bin/python bench/onboarding_throughput.py [--n 400] [--time-scale 30]
        [--concurrency 4] [--in-flight 6]

Target: hour ratio >= 0.95 with zero 429s and zero duplicates.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.portal_env import bench_settings, portal_env  # noqa: E402


def _csv(n: int) -> bytes:
    lines = ["company_name,name,country,company_number,vat_number,peppol_id"]
    for i in range(n):
        base = 3_000_000 + i
        number = f"0{base:07d}{97 - (base % 97):02d}"
        lines.append(f"Bench Customer {i} BV,bench-{i:05d},BE,{number},BE{number},")
    return ("\n".join(lines) + "\n").encode()


def _max_in_window(times: list[float], span: float) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - span:
            start += 1
        best = max(best, end - start + 1)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=400, help="customers in the CSV")
    parser.add_argument("--time-scale", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=4, help="Celery worker processes")
    parser.add_argument("--in-flight", type=int, default=6, help="JOBS_MAX_IN_FLIGHT")
    parser.add_argument("--margin", type=float, default=0.1, help="RATE_LIMIT_MARGIN_SECONDS")
    parser.add_argument(
        "--polling-interval",
        type=float,
        default=None,
        help="the filesystem broker's polling interval (kombu's default: 1 s)",
    )
    args = parser.parse_args()

    from sandbox.testing import SandboxProcess

    tmp = Path(tempfile.mkdtemp(prefix="bench-onboarding-"))
    sandbox_proc = SandboxProcess(
        env={
            "SANDBOX_TIME_SCALE": str(args.time_scale),
            "SANDBOX_RATE_PER_MINUTE": "100",
            "SANDBOX_RATE_PER_HOUR": "1000",
        }
    )
    sandbox = sandbox_proc.start()
    env = {
        **portal_env(tmp, sandbox),
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_DIR": str(tmp / "broker"),
        "RATE_LIMIT_TIME_SCALE": str(args.time_scale),
        "RATE_LIMIT_MARGIN_SECONDS": str(args.margin),
        "EINVOICE_RATE_PER_MINUTE": "100",
        "EINVOICE_RATE_PER_HOUR": "1000",
        "JOBS_MAX_IN_FLIGHT": str(args.in_flight),
    }
    # The broker transport that never hands a worker a half-written message (whatever the
    # project's settings say), and the poll interval asked for.
    lines = ['CELERY_BROKER_TRANSPORT = "tenants.jobs.broker:Transport"']
    if args.polling_interval is not None:
        lines.append(
            f"CELERY_BROKER_TRANSPORT_OPTIONS['polling_interval'] = {args.polling_interval!r}"
        )
    bench_settings(tmp, REPO, env, *lines)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from tenants.jobs import bulk, dispatcher
    from tenants.models.jobs import JobState, OnboardingJob

    call_command("migrate", verbosity=0)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "WARNING",
         "--concurrency", str(args.concurrency), "--without-heartbeat", "--without-gossip",
         "--without-mingle"],
        cwd=REPO, env={**os.environ}, stdout=open(tmp / "worker.log", "w"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    hour = 3600 / args.time_scale
    peak_in_flight = peak_queue = 0
    try:
        time.sleep(3)  # let the worker boot
        batch = bulk.create_batch(
            SimpleUploadedFile("bench.csv", _csv(args.n)), register_peppol=True, user=None
        )
        assert not batch.invalid_rows, batch.invalid_rows[:3]
        started = time.monotonic()
        bulk.start(batch, user=None)
        print(f"{args.n} onboardings queued; one scaled hour = {hour:.0f} s", flush=True)
        next_beat = 0.0
        while time.monotonic() < started + hour * 1.05:
            now = time.monotonic()
            if now >= next_beat:
                dispatcher.sweep()  # the beat's job
                next_beat = now + 1.0
            peak_in_flight = max(peak_in_flight, dispatcher.in_flight())
            peak_queue = max(peak_queue, len(list((tmp / "broker" / "queue").glob("*"))))
            if not OnboardingJob.objects.exclude(
                state__in=[JobState.SUCCEEDED, JobState.FAILED]
            ).exists():
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - started
    finally:
        worker.terminate()
        worker.wait(30)

    log = [r for r in sandbox.requests() if r["path"].startswith("/api/admin/")]
    times = sorted(
        datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() for r in log
    )
    statuses = Counter(r["status"] for r in log)
    minute = 60 / args.time_scale
    in_minute = _max_in_window(times, minute)
    in_hour = _max_in_window(times, hour)
    states = Counter(OnboardingJob.objects.values_list("state", flat=True))

    # Duplicates, read with the sandbox quota switched off (these reads are not the bench's).
    sandbox.configure(rate_per_minute=0, rate_per_hour=0)
    tenants = sandbox.admin("GET", "/api/admin/tenants", params={"limit": 1000}).json()["tenants"]
    dup_tenants = len(tenants) - len({t["company_number"] for t in tenants})
    dup_keys = 0
    for t in tenants:
        keys = sandbox.admin("GET", f"/api/admin/tenants/{t['id']}/api-keys").json()["api_keys"]
        dup_keys += max(0, sum(not k["is_deleted"] for k in keys) - 1)
    sandbox_proc.stop()

    print(f"time scale {args.time_scale:g}: minute = {minute:.2f} s, hour = {hour:.0f} s")
    print(f"ran {elapsed:.0f} s; jobs: {dict(states)}")
    print(f"Admin API calls: {len(log)}; statuses {dict(statuses)}")
    print(f"busiest minute window: {in_minute} calls / 100 = {in_minute / 100:.3f}")
    print(f"busiest hour window:   {in_hour} calls / 1000 = {in_hour / 1000:.3f}  (binding)")
    print(f"429 received: {statuses.get(429, 0)}")
    print(f"duplicate tenants: {dup_tenants}; duplicate live keys: {dup_keys}")
    print(
        f"peak jobs released or running (bounds reserved tasks): {peak_in_flight}; "
        f"peak broker queue depth: {peak_queue}; queued job rows: {args.n}"
    )
    ok = in_hour / 1000 >= 0.95 and not statuses.get(429) and not dup_tenants and not dup_keys
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
