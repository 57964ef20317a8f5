"""A real prefork Celery worker gets SIGTERM in the middle of an onboarding's key step (the
key created remotely, not stored yet): it stores the key, hands the job back and exits; a
second worker finishes the job at once, with one tenant and one live key.

Both ways a worker is stopped: SIGTERM to the whole process group (systemd, `kill -- -PGID`,
bin/run's terminal) and to the main process alone (`docker stop`). No beat runs and the
lease is 30 s: only a job handed back is resumed within the test, not one left to expire.

The workers and this test share a SQLite database file and a filesystem broker in a
temporary folder, whatever database the rest of the suite uses.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import crypto
from tests.jobs import shutdown_worker
from tests.tenants.jobs.conftest import key_works, remote_keys

REPO = Path(__file__).resolve().parents[2]


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
        JOBS_LEASE_SECONDS="30",
        FIELD_ENCRYPTION_KEYS=",".join(crypto.settings.FIELD_ENCRYPTION_KEYS),
    )
    return env


def _job(db: Path) -> dict:
    with sqlite3.connect(db, timeout=30) as conn:
        conn.row_factory = sqlite3.Row
        (row,) = conn.execute("SELECT * FROM tenants_onboardingjob").fetchall()
        job = dict(row)
        key = conn.execute(
            "SELECT remote_id, encrypted_value, is_current FROM tenants_apikey WHERE id = ?",
            (job["api_key_id"],),
        ).fetchone()
    job["key"] = key and (key[0], crypto.decrypt(key[1]), bool(key[2]))
    return job


def _wait_for(what, seconds: float, log: Path, label: str) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        if time.monotonic() > deadline:
            pytest.fail(f"no {label} after {seconds} s; worker log:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("whom", ["process group", "main process"])
def test_it_hands_back_the_job_of_a_worker_stopped_mid_step(sandbox, tmp_path, whom):
    env = _env(tmp_path, sandbox)
    db = tmp_path / "portal.sqlite3"
    log_path = tmp_path / "worker.log"
    run = {"cwd": REPO, "env": env, "check": True, "timeout": 60}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], **run)
    subprocess.run([sys.executable, "-m", "tests.tenants.jobs.worker_helper", "create", "1"], **run)
    pause = tmp_path / "pause"
    pause.mkdir()

    log = open(log_path, "w")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.shutdown_worker", "prefork"],
        cwd=REPO, env={**env, shutdown_worker.PAUSE_DIR: str(pause)},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    second = None
    try:
        _wait_for((pause / "paused").exists, 60, log_path, "pause in the key step")
        if whom == "process group":
            os.killpg(worker.pid, signal.SIGTERM)
        else:
            worker.send_signal(signal.SIGTERM)
        # The pool process running the step heard it and carries on (it used to die here).
        heard = lambda: "finishing the current step" in log_path.read_text()  # noqa: E731
        _wait_for(heard, 30, log_path, "pool process finishing its step")
        (pause / "go").touch()
        assert worker.wait(60) == 0, log_path.read_text()[-3000:]

        handed_back = _job(db)
        assert handed_back["state"] == "waiting", handed_back
        assert handed_back["step"] == "register_peppol" and handed_back["key"] is not None
        assert handed_back["owner"] == "" and handed_back["lease_until"] is None

        second = subprocess.Popen(
            [sys.executable, "-m", "tests.jobs.shutdown_worker", "solo"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        ended = lambda: _job(db)["state"] in ("succeeded", "failed")  # noqa: E731
        _wait_for(ended, 60, log_path, "end of the job")
    finally:
        for proc in (worker, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # with its pool processes
                proc.wait(10)
        log.close()

    job = _job(db)
    assert job["state"] == "succeeded" and job["peppol_outcome"] == "registered", job
    remote = sandbox.admin("GET", "/api/admin/tenants").json()["tenants"]
    assert [t["name"] for t in remote] == [job["name"]]
    # One key ever created (none orphaned and revoked), the one the portal holds, working.
    keys = remote_keys(sandbox, job["remote_tenant_id"])
    remote_id, value, current = job["key"]
    assert [(k["id"], k["is_deleted"]) for k in keys] == [(remote_id, False)] and current
    assert key_works(sandbox, value)
