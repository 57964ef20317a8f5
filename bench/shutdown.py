"""How long SIGTERM takes to stop a Celery worker and the whole of bin/run (issue 11 item 9).

Three cases, each run --runs times on the embedded defaults (SQLite, filesystem broker):

- idle worker: `celery -A portal worker --concurrency 2`, SIGTERM to its main process;
- idle bin/run: SIGTERM to bin/run's whole process group (as systemd or `kill -- -PGID` do),
  timed until every process it started is gone (Celery runs in sessions of its own);
- bin/run with an onboarding running against its sandbox, every Admin API call slowed to
  --latency seconds so that a step is in progress when SIGTERM arrives. Printed with the
  job's state afterwards: handed back (waiting, no owner) or finished.

bin/run runs in a throwaway copy of the working tree (sharing .venv and .env) on free ports,
so the project's var/ is left alone. The target: every exit well within a job lease
(JOBS_LEASE_SECONDS, 30 s), none killed by bin/run's own deadline.

    .venv/bin/python bench/shutdown.py [--runs 3] [--latency 1.5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

START_ONBOARDING = """
from tenants.onboarding import steps
base = 3_000_000
number = f"0{base:07d}{97 - (base % 97):02d}"
steps.start({"name": "bench-shutdown", "description": "Bench Shutdown BV",
    "company_number": number, "company_tax_id": f"BE{number}",
    "peppol_id": f"0208:{number}"}, register_peppol=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, process group) of every live process."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            found[int(stat.parent.name)] = (int(fields[1]), int(fields[2]))
    return found


def _family(pgid: int) -> set[int]:
    """The group's processes and all their descendants (bin/run runs Celery in sessions of
    its own: they are bin/run's, though not in its group)."""
    table = _processes()
    family = {pid for pid, (_, group) in table.items() if group == pgid}
    while True:
        more = {pid for pid, (parent, _) in table.items() if parent in family} - family
        if not more:
            return family
        family |= more


def _group_alive(pgid: int, family: set[int] = frozenset()) -> bool:
    table = _processes()
    return any(group == pgid for _, group in table.values()) or bool(family & table.keys())


def _wait(what, seconds: float, label: str) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {label}")
        time.sleep(0.1)


def _stop_group(pgid: int, limit: float) -> float:
    """SIGTERM the group; seconds until its last process, and the last of their descendants,
    is gone (SIGKILL after `limit`)."""
    family = _family(pgid)
    started = time.monotonic()
    os.killpg(pgid, signal.SIGTERM)
    while _group_alive(pgid, family):
        if time.monotonic() - started > limit:
            for pid in family:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            print(f"  still running after {limit:.0f} s: killed")
            return float("inf")
        time.sleep(0.02)
    return time.monotonic() - started


def idle_worker(tree: Path, tmp: Path) -> float:
    copy = _copy_tree(tree, tmp)
    env = {**os.environ, "PYTHONPATH": str(copy)}  # the copy's code, not the editable install's
    py = str(copy / ".venv/bin/python")
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=copy, env=env, check=True)
    log = tmp / "worker.log"
    with open(log, "w") as out:
        worker = subprocess.Popen(
            [py, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO",
             "--concurrency", "2"],
            cwd=copy, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        _wait(lambda: "ready." in log.read_text(), 60, "the worker")
        time.sleep(1)
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(300)
        return time.monotonic() - started


def _copy_tree(tree: Path, tmp: Path) -> Path:
    """A copy of the working tree `tree` (its own var/, the tree's .venv and .env)."""
    dest = tmp / "repo"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=tree, check=True, capture_output=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, files):
        src = tree / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    (dest / ".venv").symlink_to(tree / ".venv")
    shutil.copy2(tree / ".env", dest / ".env")
    (dest / "var").mkdir(exist_ok=True)
    return dest


def _job(db: Path) -> dict | None:
    with sqlite3.connect(db, timeout=30) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute(
            "SELECT state, step, owner FROM tenants_onboardingjob WHERE name = 'bench-shutdown'"
        ).fetchone()
    return dict(row) if row else None


def bin_run(
    tree: Path, tmp: Path, latency: float | None, limit: float
) -> tuple[float, dict | None]:
    copy = _copy_tree(tree, tmp)
    port, sandbox_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "SANDBOX_PORT": str(sandbox_port),
        "PYTHONPATH": str(copy),  # the copy's code, not the editable install's
    }
    with open(tmp / "bin-run.log", "w") as out:
        run = subprocess.Popen(
            ["bin/run"], cwd=copy, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        worker_log = copy / "var/worker.log"
        _wait(lambda: worker_log.exists() and "ready." in worker_log.read_text(), 120, "worker")
        _wait(lambda: _answers(f"http://127.0.0.1:{port}/"), 60, "the web server")
        job = None
        if latency is not None:
            from sandbox.testing import SandboxHandle

            sandbox = SandboxHandle(f"http://127.0.0.1:{sandbox_port}", "")
            sandbox.set_faults(latency_ms=latency * 1000, paths=["/api/admin/*"])
            shell = [".venv/bin/python", "manage.py", "shell", "-c", START_ONBOARDING]
            subprocess.run(shell, cwd=copy, env=env, check=True, capture_output=True)
            db = copy / "var/portal.sqlite3"
            _wait(lambda: (_job(db) or {}).get("state") == "running", 60, "a running job")
            time.sleep(latency / 2)  # in the middle of a step
        seconds = _stop_group(run.pid, limit)
        if latency is not None:
            job = _job(copy / "var/portal.sqlite3")
        return seconds, job
    finally:
        if _group_alive(run.pid):
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


def _seconds(s: float) -> str:
    return "killed" if s == float("inf") else f"{s:.2f} s"


def _summary(label: str, figures: list[float]) -> None:
    shown = " / ".join(_seconds(s) for s in figures)
    print(f"{label}: {shown}  (median {_seconds(statistics.median(figures))})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=1.5, help="seconds per Admin API call")
    parser.add_argument(
        "--tree", type=Path, default=REPO, help="the working tree to measure (e.g. main's)"
    )
    parser.add_argument("--limit", type=float, default=120, help="SIGKILL after this")
    args = parser.parse_args()
    tree = args.tree.resolve()

    idle, group, busy = [], [], []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-shutdown-") as tmp:
            idle.append(idle_worker(tree, Path(tmp)))
        with tempfile.TemporaryDirectory(prefix="bench-shutdown-") as tmp:
            group.append(bin_run(tree, Path(tmp), None, args.limit)[0])
        with tempfile.TemporaryDirectory(prefix="bench-shutdown-") as tmp:
            seconds, job = bin_run(tree, Path(tmp), args.latency, args.limit)
            busy.append(seconds)
            print(f"run {i + 1}: bin/run with a job: {_seconds(seconds)}; job afterwards: {job}")
    _summary("idle worker, SIGTERM to the main process", idle)
    _summary("idle bin/run, SIGTERM to the process group", group)
    _summary(f"bin/run with an onboarding running ({args.latency} s per API call)", busy)
    worst = max(idle + group + busy)
    print("PASS" if worst < 30 else "FAIL", f"(slowest {_seconds(worst)}; a job lease is 30 s)")
    return 0 if worst < 30 else 1


if __name__ == "__main__":
    sys.exit(main())
