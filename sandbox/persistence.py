"""Optional state file (SANDBOX_STATE_FILE): the demo's sandbox remembers tenants across restarts.

Tests never set it: their sandbox is purely in memory. The file is a JSON snapshot, rewritten
atomically (at most once a second, when something changed) and at shutdown.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sandbox.state import ApiKey, Document, Store, Tenant, Webhook

log = logging.getLogger("sandbox.persistence")
VERSION = 1
_KINDS: list[tuple[str, type]] = [
    ("tenants", Tenant),
    ("api_keys", ApiKey),
    ("documents", Document),
    ("webhooks", Webhook),
]


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__}")


def snapshot(store: Store) -> str:
    with store.lock:
        data: dict[str, Any] = {"version": VERSION}
        for name, _ in _KINDS:
            data[name] = [dataclasses.asdict(obj) for obj in getattr(store, name).values()]
        data["actions"] = [list(action) for action in store.actions]
        return json.dumps(data, default=_default, sort_keys=True)


def _revive(cls: type, raw: dict[str, Any]) -> Any:
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        value = raw[f.name]
        if "datetime" in str(f.type) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        values[f.name] = value
    return cls(**values)


def restore(store: Store, text: str) -> None:
    data = json.loads(text)
    if data.get("version") != VERSION:
        raise ValueError(f"unknown state file version {data.get('version')!r}")
    with store.lock:
        for name, cls in _KINDS:
            table = getattr(store, name)
            table.clear()
            for raw in data.get(name, []):
                obj = _revive(cls, raw)
                table[obj.id] = obj
        store.reindex()
        store.keys_by_hash = {k.key_hash: k for k in store.api_keys.values()}
        store.actions = [(t, a, datetime.fromisoformat(w)) for t, a, w in data.get("actions", [])]
        highest = max(
            (obj.seq for name, _ in _KINDS for obj in getattr(store, name).values()), default=0
        )
        store._seq = itertools.count(highest + 1)


class StateFile:
    def __init__(self, path: str, store: Store, interval: float = 1.0) -> None:
        self.path = Path(path)
        self.store = store
        self.interval = interval
        self._last = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-state", daemon=True)

    def load(self) -> None:
        if self.path.exists():
            text = self.path.read_text(encoding="utf-8")
            restore(self.store, text)
            self._last = snapshot(self.store)
            log.warning("sandbox state loaded from %s", self.path)

    def start(self) -> None:
        self._thread.start()

    def save(self) -> None:
        text = snapshot(self.store)
        if text == self._last:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)
        self._last = text

    def stop(self) -> None:
        self._stop.set()
        self.save()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.save()
            except Exception:  # keep serving even if the disk is unhappy
                log.exception("could not write %s", self.path)
