"""A worker asked to stop (SIGTERM) finishes the step in progress and hands its job back;
the next run resumes at the next step and does every step exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from types import SimpleNamespace
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone

from einvoice import admin as admin_api
from jobs import shutdown
from jobs.models import JobState
from tenants.models.jobs import OnboardingStep
from tenants.onboarding import steps as onboarding
from tests.tenants.jobs.conftest import admin_calls, customer, key_works, remote_keys, start

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def not_stopping():
    shutdown.stopping.clear()
    yield
    shutdown.stopping.clear()


def sigterm_during(name: str):
    """Replace admin_api.<name> with one that gets the worker's SIGTERM while it runs."""
    original = getattr(admin_api, name)

    def call(*args, **kwargs):
        shutdown.stopping.set()
        return original(*args, **kwargs)

    return mock.patch.object(admin_api, name, call)


def test_it_hands_the_job_back_after_the_step_in_progress(on_sandbox):
    job = start(customer(1))

    with sigterm_during("create_tenant"):
        onboarding.run(job.pk)

    # The tenant step finished and recorded itself; the key step did not begin.
    job.refresh_from_db()
    assert job.state == JobState.WAITING
    assert job.step == OnboardingStep.CREATE_KEY and job.tenant is not None
    assert job.owner == "" and job.lease_until is None and job.dispatched_at is None
    assert job.next_attempt_at <= timezone.now()  # another worker takes it at once
    assert [c["method"] for c in admin_calls(on_sandbox)] == ["POST"]


def test_it_completes_a_handed_back_job_with_every_step_done_once(on_sandbox):
    job = start(customer(2))
    with sigterm_during("create_api_key"):
        onboarding.run(job.pk)
    job.refresh_from_db()
    assert (job.state, job.step) == (JobState.WAITING, OnboardingStep.REGISTER_PEPPOL)

    # Another worker (not stopping) picks it up.
    shutdown.stopping.clear()
    onboarding.run(job.pk)

    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    # One create each, and the resumed run did not re-check a step it could not have half
    # done (no key listing, no Peppol status read before registering).
    calls = [(c["method"], c["path"].rsplit("/", 1)[-1]) for c in admin_calls(on_sandbox)]
    assert calls == [("POST", "tenants"), ("POST", "api-keys"), ("POST", "register")]
    tenants = on_sandbox.admin("GET", "/api/admin/tenants").json()["tenants"]
    assert [t["name"] for t in tenants] == [job.name]
    keys = remote_keys(on_sandbox, job.remote_tenant_id)
    assert [k["id"] for k in keys] == [job.api_key.remote_id] and not keys[0]["is_deleted"]
    assert key_works(on_sandbox, job.api_key.reveal_value())


def test_it_finishes_the_last_step_rather_than_handing_back_a_finished_job(on_sandbox):
    job = start(customer(3))
    with sigterm_during("peppol_register"):
        onboarding.run(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.owner == ""


@pytest.fixture
def pool_process(monkeypatch):
    """This process plays a prefork pool process, with billiard's SIGTERM handler."""
    exits = []
    previous = signal.signal(signal.SIGTERM, lambda *args: exits.append(args[0]))
    monkeypatch.setattr(shutdown, "_pool_process", False)
    monkeypatch.setattr(shutdown, "_idle_handler", None)
    monkeypatch.setattr(shutdown, "_running", 0)
    shutdown.on_pool_process_init()
    yield exits
    signal.signal(signal.SIGTERM, previous)


def test_it_lets_a_pool_process_finish_its_task_on_sigterm(pool_process):
    shutdown.on_task_prerun()
    os.kill(os.getpid(), signal.SIGTERM)
    assert shutdown.stopping.is_set() and pool_process == []  # still here, stopping
    shutdown.on_task_postrun()

    os.kill(os.getpid(), signal.SIGTERM)  # idle now: it exits, as billiard's handler does
    assert pool_process == [signal.SIGTERM]


def test_it_passes_the_sigterm_on_to_the_pool_processes_running_a_task():
    # `docker stop` signals the worker's main process only.
    requests = [SimpleNamespace(worker_pid=4242), SimpleNamespace(worker_pid=None)]
    with (
        mock.patch("celery.worker.state.active_requests", requests),
        mock.patch.object(os, "kill") as kill,
    ):
        shutdown.on_worker_shutting_down(sig="SIGTERM", how="Warm", exitcode=0)
    assert shutdown.stopping.is_set()
    kill.assert_called_once_with(4242, signal.SIGTERM)


STOPS_WITH_PARENT = """
import os, signal, sys, time
from jobs import shutdown
signal.signal(signal.SIGTERM, lambda *a: (open(sys.argv[1], "w").write("stopped"), os._exit(0)))
shutdown.stop_with_parent()
open(sys.argv[1] + ".ready", "w").close()
time.sleep(30)
"""


@pytest.mark.parametrize("asked", [True, False])
def test_it_stops_a_worker_whose_supervisor_was_killed_outright(tmp_path, asked):
    """bin/run's worker runs in a session of its own: a SIGKILL to bin/run's group leaves it
    running unless it watches its supervisor (STOP_WITH_PARENT)."""
    mark = tmp_path / "mark"
    env = {**os.environ, "STOP_WITH_PARENT": "1" if asked else ""}
    supervisor = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.Popen(sys.argv[1:]).wait()",
         sys.executable, "-c", STOPS_WITH_PARENT, str(mark)],
        env=env, cwd=settings.BASE_DIR, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not (tmp_path / "mark.ready").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    supervisor.kill()
    supervisor.wait()
    deadline = time.monotonic() + 5
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert mark.exists() is asked
    finally:
        with suppress(ProcessLookupError):  # the worker left running when not asked
            os.killpg(supervisor.pid, signal.SIGKILL)
