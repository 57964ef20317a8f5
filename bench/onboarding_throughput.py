"""P1 benchmark: onboarding throughput against the sandbox's quota.

Starts a sandbox that enforces the organization quota (100/min, 1000/h) on a clock running
--time-scale times faster, a throwaway database, broker and limiter (--stack filesystem:
SQLite, the filesystem broker and the limiter's SQLite file; --stack redis: a PostgreSQL
database of its own, Redis for the broker and the limiter), and real Celery workers; uploads
a CSV of N customers through the bulk-onboarding code; plays the beat (sweep + dispatch
every second) for one scaled hour plus a little; then prints, from the sandbox's own
request log and the job rows:

- calls in the busiest sliding minute and hour windows ÷ the quota of each (the hour binds:
  3 calls per onboarding, so 1000/h is at most 333 onboardings an hour);
- onboardings finished in the busiest sliding hour ÷ 333 (target >= 0.98: every call of the
  hour spent on an onboarding that finishes in it);
- re-check GETs (a key list or a Peppol status read before a step's write): calls spent on
  no onboarding's progress;
- 429 answers received (target 0), duplicate tenants and keys (target 0);
- the peak number of jobs released to the broker or running, which bounds the task
  messages reserved by workers (target: JOBS_MAX_IN_FLIGHT, however large N is).

    .venv/bin/python bench/onboarding_throughput.py [--n 400] [--time-scale 30]
        [--concurrency 4] [--in-flight 6] [--stack filesystem|redis]

Target: hour ratio >= 0.95, onboardings >= 0.98 × 333, zero 429s and zero duplicates.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.portal_env import bench_settings, busiest_window, portal_env  # noqa: E402


def _csv(n: int) -> bytes:
    lines = ["company_name,name,country,company_number,vat_number,peppol_id"]
    for i in range(n):
        base = 3_000_000 + i
        number = f"0{base:07d}{97 - (base % 97):02d}"
        lines.append(f"Bench Customer {i} BV,bench-{i:05d},BE,{number},BE{number},")
    return ("\n".join(lines) + "\n").encode()


def _finished_in_busiest_hour(finished: list[float], hour: float) -> int:
    return busiest_window(sorted(finished), hour) if finished else 0


def _wait_for_pool(pid: int, processes: int, limit: float = 60.0) -> None:
    """Until the worker has forked its pool (and a moment for its consumer): at time scale
    240 an hour is 15 s, and a worker booting on a busy machine may take several."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        children = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                children += stat.read_text().rsplit(")", 1)[1].split()[1] == str(pid)
            except (OSError, IndexError):
                continue
        if children >= processes:
            break
        time.sleep(0.2)
    time.sleep(1.0)


def _stack_env(args, tmp: Path, run_id: str) -> dict[str, str]:
    """The database, broker and limiter of the run (the sandbox and the rest are common)."""
    if args.stack == "filesystem":
        return {"CELERY_BROKER_URL": "filesystem://", "CELERY_BROKER_DIR": str(tmp / "broker")}
    import psycopg

    with psycopg.connect(f"{args.postgres_url}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {run_id}")
    return {
        "DATABASE_URL": f"{args.postgres_url}/{run_id}",
        "CELERY_BROKER_URL": args.redis_url,
        "RATE_LIMIT_REDIS_URL": args.redis_url,
        "RATE_LIMIT_KEY_PREFIX": run_id,
    }


def _drop_stack(args, run_id: str) -> None:
    if args.stack != "redis":
        return
    import psycopg
    import redis
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{args.postgres_url}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {run_id} WITH (FORCE)")
    client = redis.Redis.from_url(args.redis_url)
    # Only this run's keys: other runs and test sessions may share the Redis server.
    keys = [run_id, *client.scan_iter(f"*{run_id}*")]
    client.delete(*keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=400, help="customers in the CSV")
    parser.add_argument("--time-scale", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=4, help="Celery worker processes")
    parser.add_argument("--in-flight", type=int, default=6, help="JOBS_MAX_IN_FLIGHT")
    parser.add_argument(
        "--margin",
        type=float,
        default=None,
        help="RATE_LIMIT_MARGIN_SECONDS (default: the setting's)",
    )
    parser.add_argument("--stack", choices=["filesystem", "redis"], default="filesystem")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument(
        "--polling-interval",
        type=float,
        default=None,
        help="the filesystem broker's polling interval (kombu's default: 1 s)",
    )
    args = parser.parse_args()

    from sandbox.testing import SandboxProcess

    tmp = Path(tempfile.mkdtemp(prefix="bench-onboarding-"))
    run_id = f"bench_onboarding_{uuid.uuid4().hex[:12]}"
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
        **_stack_env(args, tmp, run_id),
        "RATE_LIMIT_TIME_SCALE": str(args.time_scale),
        "EINVOICE_RATE_PER_MINUTE": "100",
        "EINVOICE_RATE_PER_HOUR": "1000",
        "JOBS_MAX_IN_FLIGHT": str(args.in_flight),
    }
    if args.margin is not None:
        env["RATE_LIMIT_MARGIN_SECONDS"] = str(args.margin)
    if args.stack == "filesystem":
        # The broker transport that never hands a worker a half-written message (whatever
        # the project's settings say), and the poll interval asked for.
        lines = ['CELERY_BROKER_TRANSPORT = "jobs.broker:Transport"']
    else:
        # A queue of the run's own: a worker of another run or test session on the same
        # Redis never takes these tasks, nor this run's worker theirs.
        lines = [f"CELERY_TASK_DEFAULT_QUEUE = {run_id!r}"]
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

    from jobs import dispatcher
    from jobs.models import JobState
    from tenants.models.jobs import OnboardingJob
    from tenants.onboarding import bulk

    call_command("migrate", verbosity=0)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    children_cpu_before = before.ru_utime + before.ru_stime
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "WARNING",
         "--concurrency", str(args.concurrency), "--without-heartbeat", "--without-gossip",
         "--without-mingle"],
        cwd=REPO, env={**os.environ}, stdout=open(tmp / "worker.log", "w"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    hour = 3600 / args.time_scale
    peak_in_flight = peak_queue = 0
    if args.stack == "filesystem":

        def queue_depth() -> int:
            return len(list((tmp / "broker" / "queue").glob("*")))
    else:
        import redis

        broker = redis.Redis.from_url(args.redis_url)

        def queue_depth() -> int:
            return int(broker.llen(run_id))

    try:
        _wait_for_pool(worker.pid, args.concurrency)
        batch = bulk.create_batch(
            SimpleUploadedFile("bench.csv", _csv(args.n)), register_peppol=True, user=None
        )
        assert not batch.invalid_rows, batch.invalid_rows[:3]
        queued_at = time.monotonic()
        bulk.start(batch, user=None)
        # The scaled hour starts when the jobs exist (the batch's transaction committed):
        # queuing 400 rows takes seconds, a third of an hour at time scale 240.
        started = time.monotonic()
        print(
            f"{args.n} onboardings queued in {started - queued_at:.1f} s; "
            f"one scaled hour = {hour:.0f} s",
            flush=True,
        )
        next_beat = 0.0
        while time.monotonic() < started + hour * 1.05:
            now = time.monotonic()
            if now >= next_beat:
                dispatcher.sweep()  # the beat's job
                next_beat = now + 1.0
            peak_in_flight = max(peak_in_flight, dispatcher.in_flight())
            peak_queue = max(peak_queue, queue_depth())
            if not OnboardingJob.objects.exclude(
                state__in=[JobState.SUCCEEDED, JobState.FAILED]
            ).exists():
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - started
    finally:
        worker.terminate()
        worker.wait(30)
    # The worker's processes, reaped now (the sandbox is still running): CPU it spent, boot
    # included, a figure the machine's other load changes far less than the throughput.
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = used.ru_utime + used.ru_stime - children_cpu_before

    log = [r for r in sandbox.requests() if r["path"].startswith("/api/admin/")]
    times = sorted(
        datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() for r in log
    )
    statuses = Counter(r["status"] for r in log)
    rechecks = sum(
        r["method"] == "GET" and r["path"].endswith(("/api-keys", "/peppol/status")) for r in log
    )
    minute = 60 / args.time_scale
    in_minute = busiest_window(times, minute)
    in_hour = busiest_window(times, hour)
    states = Counter(OnboardingJob.objects.values_list("state", flat=True))
    finished = [
        t.timestamp()
        for t in OnboardingJob.objects.filter(state=JobState.SUCCEEDED).values_list(
            "finished_at", flat=True
        )
    ]
    onboardings = _finished_in_busiest_hour(finished, hour)
    per_hour = 1000 // 3

    # Duplicates, read with the sandbox quota switched off (these reads are not the bench's).
    sandbox.configure(rate_per_minute=0, rate_per_hour=0)
    tenants = sandbox.admin("GET", "/api/admin/tenants", params={"limit": 1000}).json()["tenants"]
    dup_tenants = len(tenants) - len({t["company_number"] for t in tenants})
    dup_keys = 0
    for t in tenants:
        keys = sandbox.admin("GET", f"/api/admin/tenants/{t['id']}/api-keys").json()["api_keys"]
        dup_keys += max(0, sum(not k["is_deleted"] for k in keys) - 1)
    sandbox_proc.stop()
    _drop_stack(args, run_id)

    print(f"stack: {args.stack}")
    print(f"time scale {args.time_scale:g}: minute = {minute:.2f} s, hour = {hour:.0f} s")
    print(f"ran {elapsed:.0f} s; jobs: {dict(states)}")
    print(f"Admin API calls: {len(log)}; statuses {dict(statuses)}")
    print(f"busiest minute window: {in_minute} calls / 100 = {in_minute / 100:.3f}")
    print(f"busiest hour window:   {in_hour} calls / 1000 = {in_hour / 1000:.3f}  (binding)")
    print(f"onboardings in busiest hour: {onboardings} / {per_hour} = {onboardings / per_hour:.3f}")
    done = states.get(JobState.SUCCEEDED, 0)
    print(
        f"worker CPU: {worker_cpu:.1f} s, {1000 * worker_cpu / max(1, done):.0f} ms per finished "
        "onboarding (boot included)"
    )
    print(f"re-check GETs: {rechecks} ({rechecks / max(1, len(log)):.1%} of calls)")
    print(f"429 received: {statuses.get(429, 0)}")
    print(f"duplicate tenants: {dup_tenants}; duplicate live keys: {dup_keys}")
    print(
        f"peak jobs released or running (bounds reserved tasks): {peak_in_flight}; "
        f"peak broker queue depth: {peak_queue}; queued job rows: {args.n}"
    )
    ok = (
        in_hour / 1000 >= 0.95
        and onboardings / per_hour >= 0.98
        and not statuses.get(429)
        and not dup_tenants
        and not dup_keys
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
