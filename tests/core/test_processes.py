"""core.processes: work in a spawned child with Django set up, and no child left behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.processes import DjangoProcess

REPO = Path(__file__).resolve().parents[2]
PARENT = """
import os, sys, time
sys.path.insert(0, {repo!r})
if __name__ == "__main__":
    import django
    django.setup()
    from core.processes import DjangoProcess
    print(DjangoProcess().submit("os.getpid").result(60), flush=True)
    time.sleep(120)
"""


def test_it_runs_the_work_in_another_process_with_django_set_up():
    child = DjangoProcess()
    assert child.submit("os.getpid").result(60) != os.getpid()
    # invoices.pdf imports the models: importable only once Django is set up.
    assert child.submit("invoices.pdf.printable", "Café ő").result(60) == "Café o"
    assert child.ready.is_set()


def test_the_child_stops_when_its_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT.format(repo=str(REPO)))
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        child = int(parent.stdout.readline())
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but is not reaped yet (its parent is gone: init reaps it) is a zombie.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
