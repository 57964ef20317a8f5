"""kombu's filesystem transport, with messages that appear only once fully written.

The stock transport creates a message file and then writes it; a worker polling the folder
in between moves the empty file away, fails to decode it and stops ("Unrecoverable error:
JSONDecodeError"), and the message is lost. Under bin/run that took the worker down within
minutes (beat writes every 5 s). Here a message is written under a name no reader picks up
and renamed into place (atomic on one file system); a file that still cannot be decoded is
logged and skipped instead of stopping the worker.

A worker stops within a quarter second of SIGTERM, and takes no new message once stopping
(jobs.shutdown): the job it hands back goes to another worker.

Used by the embedded default broker: CELERY_BROKER_TRANSPORT = "jobs.broker:Transport"
with CELERY_BROKER_URL = "filesystem://".
"""

from __future__ import annotations

import logging
import os
import uuid
from queue import Empty
from time import monotonic, sleep
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

from jobs.shutdown import stopping

logger = logging.getLogger(__name__)

# The longest the worker's loop waits for a message before it checks whether to stop.
DRAIN_SECONDS = 0.25


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Readers take only names ending in ".<queue>.msg": this one is invisible to them.
        partial = final + ".part"
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str) -> Any:
        while True:
            try:
                return super()._get(queue)
            except ValueError:  # JSONDecodeError: the file is gone already; take the next
                logger.error("skipped an unreadable message file in queue %s", queue)


class Transport(filesystem.Transport):
    Channel = Channel

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        # Celery's blocking loop (this transport has no event loop) waits here up to 2 s and
        # looks at its shutdown flag only between waits: a SIGTERM sat that long. And a
        # stopping worker takes no new message: one released now is another worker's.
        if timeout is None or timeout > DRAIN_SECONDS:
            timeout = DRAIN_SECONDS
        deadline = monotonic() + timeout
        while not stopping.is_set():
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                if monotonic() >= deadline:
                    break
                sleep(self.polling_interval)
        raise TimeoutError()
