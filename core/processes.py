"""A child process with Django set up, for CPU-bound work that should not hold the web
process's interpreter lock (the editor's PDF render ahead, invoices.pdf).

The child is spawned, not forked: a fork would copy the parent's database connections and
threads. This module imports nothing of the project at import time, because the child
unpickles a reference to it before Django is set up; the work is named by dotted path and
imported there afterwards.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

log = logging.getLogger(__name__)


def _setup() -> None:
    import django

    django.setup()
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()


def _exit_with_parent() -> None:
    # A parent killed outright (SIGKILL, OOM) never tells its children to stop: without this
    # the child would wait for work forever.
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is not None:
        wait([parent.sentinel])
        os._exit(0)


def _call(dotted: str, args: tuple) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)(*args)


class DjangoProcess:
    """One spawned child, started on first use and again after it died."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.ready = threading.Event()  # set by the first answer: the child has started

    def start(self) -> None:
        """Start the child ahead of its first work, unless it runs already."""
        if not self.ready.is_set():
            with self._lock:
                started = self._pool is not None
            if not started:
                self.submit("builtins.bool")

    def submit(self, dotted: str, *args: Any) -> Future | None:
        """Run the function `dotted` (module.name) with `args` in the child; None when the
        child cannot be started (the caller does the work itself)."""
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_setup,
                )
            pool = self._pool
        try:
            future = pool.submit(_call, dotted, args)
        except RuntimeError:  # broken or shut down
            log.warning("the child process is not available", exc_info=True)
            self.reset(pool)
            return None
        future.add_done_callback(lambda done: self._answered(pool, done))
        return future

    def _answered(self, pool: ProcessPoolExecutor, done: Future) -> None:
        if done.cancelled():
            return
        error = done.exception()
        if error is None:
            self.ready.set()
        elif isinstance(error, BrokenProcessPool):
            self.reset(pool)

    def reset(self, pool: ProcessPoolExecutor) -> None:
        """Let the next submit start a new child (`pool` broke)."""
        with self._lock:
            if self._pool is not pool:
                return
            self._pool = None
        self.ready.clear()
        pool.shutdown(wait=False, cancel_futures=True)
