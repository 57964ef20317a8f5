"""The embedded broker: a worker never reads a message half-written, and a bad file does not
stop it (kombu's own filesystem transport loses messages and stops the worker on both)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from kombu import Connection

TRANSPORT = "jobs.broker:Transport"


def _connection(folder: Path) -> Connection:
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
        "polling_interval": 0,
    }
    return Connection("filesystem://", transport=TRANSPORT, transport_options=options)


def test_it_delivers_every_message_written_while_a_worker_polls(tmp_path):
    n = 300
    received: list[int] = []
    with _connection(tmp_path) as producer, _connection(tmp_path) as consumer:
        # A queue name per test: kombu keeps declared exchanges per process.
        outbox, inbox = producer.SimpleQueue("delivery"), consumer.SimpleQueue("delivery")
        writer = threading.Thread(
            target=lambda: [outbox.put({"i": i, "pad": "x" * 2000}) for i in range(n)]
        )
        writer.start()
        deadline = time.monotonic() + 20
        while len(received) < n and time.monotonic() < deadline:
            try:
                message = inbox.get(timeout=0.01)
            except inbox.Empty:
                continue
            received.append(message.payload["i"])
            message.ack()
        writer.join()

    assert sorted(received) == list(range(n))
    assert not list(tmp_path.glob("*.part"))


def test_it_skips_an_unreadable_message_file_and_reads_the_next(tmp_path):
    with _connection(tmp_path) as conn:
        queue = conn.SimpleQueue("unreadable")
        queue.put({"ok": 1})  # declares the queue
        queue.get(timeout=15).ack()
        (tmp_path / f"1_{'0' * 8}.unreadable.msg").write_bytes(b"")  # sorts first
        queue.put({"ok": 2})

        message = queue.get(timeout=15)

    assert message.payload == {"ok": 2}
