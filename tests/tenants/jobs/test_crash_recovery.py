"""R1: a real Celery worker dies at every onboarding step; every job still converges.

The worker (solo pool, so the task runs in the worker process itself) is killed at each
named point: after the tenant was created remotely, after a key was created remotely but
before it was stored (an orphan), after the key was stored, after the Peppol registration;
once by a real SIGKILL while it hangs after creating a key. The crashes are injected by
the test's worker_helper (it wraps the functions that end each point), not by the portal. The sandbox also drops one key
creation's answer after performing it. A supervisor loop restarts the worker; a beat process
sweeps (expired leases, lost messages) and dispatches.

The worker, the beat and this test share a SQLite database file and a filesystem broker in
a temporary folder, whatever database the rest of the suite uses.
"""

from __future__ import annotations

import importlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import crypto
from tests.tenants.jobs import worker_helper
from tests.tenants.jobs.conftest import key_works, remote_keys

REPO = Path(__file__).resolve().parents[3]
JOBS = 4
POINTS = ["after_tenant_created", "after_key_created", "after_key_stored", "after_registered"]


def _env(tmp: Path, sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "CELERY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DATABASE_URL=f"sqlite:///{tmp / 'portal.sqlite3'}",
        CELERY_BROKER_URL="filesystem://",
        CELERY_BROKER_DIR=str(tmp / "broker"),
        RATE_LIMIT_REDIS_URL="",
        RATE_LIMIT_SQLITE_PATH=str(tmp / "quota.sqlite3"),
        EINVOICE_API_BASE_URL=sandbox.url,
        EINVOICE_ORG_API_KEY=sandbox.org_key,
        EINVOICE_RETRY_BACKOFF_SECONDS="0.05",
        JOBS_LEASE_SECONDS="2",  # renewed every third of it while a run is alive
        JOBS_DISPATCH_TIMEOUT_SECONDS="3",
        JOBS_RETRY_BASE_SECONDS="0.1",
        JOBS_RETRY_MAX_SECONDS="0.5",
        FIELD_ENCRYPTION_KEYS=",".join(crypto.settings.FIELD_ENCRYPTION_KEYS),
    )
    return env


def _jobs(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(db, timeout=30) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM tenants_onboardingjob ORDER BY id").fetchall()


def _key_value(db: Path, key_pk: int) -> tuple[str, str, bool]:
    with sqlite3.connect(db, timeout=30) as conn:
        remote_id, token, current = conn.execute(
            "SELECT remote_id, encrypted_value, is_current FROM tenants_apikey WHERE id = ?",
            (key_pk,),
        ).fetchone()
    return remote_id, crypto.decrypt(token), bool(current)


def _worker(env: dict[str, str], log) -> subprocess.Popen:
    # A Celery worker (solo pool) that dies where worker_helper.CRASH_AT says.
    return subprocess.Popen(
        [sys.executable, "-m", "tests.tenants.jobs.worker_helper", "worker"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


@pytest.mark.slow
def test_it_converges_after_the_worker_dies_at_every_step(sandbox, tmp_path):
    env = _env(tmp_path, sandbox)
    db = tmp_path / "portal.sqlite3"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True, timeout=60
    )
    # One key creation is performed but its answer never arrives (on top of the crashes).
    sandbox.set_faults(
        rules=[
            {
                "method": "POST",
                "path": "/api/admin/tenants/*/api-keys",
                "action": "drop_after_write",
                "times": 1,
            }
        ]
    )
    marks = tmp_path / "crashed"
    marks.mkdir()
    crash_env = {
        **env,
        worker_helper.CRASH_AT: ",".join([*POINTS, "after_key_created:hang"]),
        worker_helper.CRASH_ONCE_DIR: str(marks),
    }
    subprocess.run(
        [sys.executable, "-m", "tests.tenants.jobs.worker_helper", "create", str(JOBS)],
        cwd=REPO, env=env, check=True, timeout=60,
    )  # fmt: skip
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
    beat = subprocess.Popen(
        [sys.executable, "-m", "tests.tenants.jobs.worker_helper", "beat", "55"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deaths = 0
    worker = None
    deadline = time.monotonic() + 50
    try:
        while time.monotonic() < deadline:
            if worker is None or worker.poll() is not None:
                if worker is not None:
                    deaths += 1
                worker = _worker(crash_env, log)
            if (marks / "after_key_created.1").exists() and not (marks / "killed").exists():
                worker.send_signal(signal.SIGKILL)  # a real SIGKILL, mid-step
                worker.wait(10)
                (marks / "killed").touch()
                continue
            states = [j["state"] for j in _jobs(db)]
            if all(s in ("succeeded", "failed") for s in states):
                break
            time.sleep(0.3)
    finally:
        for proc in (worker, beat):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
        log.close()

    jobs = _jobs(db)
    crashed = {p.name for p in marks.iterdir()}
    expected = {f"{p}.0" for p in POINTS} | {"after_key_created.1", "killed"}
    assert expected <= crashed, (tmp_path / "worker.log").read_text()[-3000:]
    assert deaths >= len(POINTS)
    assert [j["state"] for j in jobs] == ["succeeded"] * JOBS, [dict(j) for j in jobs]
    remote = sandbox.admin("GET", "/api/admin/tenants").json()["tenants"]
    assert sorted(t["name"] for t in remote) == sorted(j["name"] for j in jobs)
    orphans = 0
    for job in jobs:
        keys = remote_keys(sandbox, job["remote_tenant_id"])
        live = [k for k in keys if not k["is_deleted"]]
        # Exactly one working key, the one the portal holds; every other one revoked.
        remote_id, value, current = _key_value(db, job["api_key_id"])
        assert [k["id"] for k in live] == [remote_id] and current
        assert key_works(sandbox, value)
        orphans += len(keys) - 1
        assert job["peppol_outcome"] == "registered"
    assert orphans >= 2  # the crash after creating a key, and the dropped answer


def test_it_finds_the_function_that_ends_every_crash_point():
    # If a step's code moves, the crash test must not silently stop crashing there.
    assert set(POINTS) == set(worker_helper.SEAMS)
    for module_name, attribute in worker_helper.SEAMS.values():
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attribute)), (module_name, attribute)
    assert worker_helper.parse_points("after_key_created,after_key_created:hang") == {
        "after_key_created": ["exit", "hang"]
    }
