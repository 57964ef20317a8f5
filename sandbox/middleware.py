"""Outermost ASGI middleware: fault injection and the request log."""

from __future__ import annotations

import asyncio
import json
import time
from http import HTTPStatus
from typing import Any

from sandbox.core import Sandbox
from sandbox.server import abort_connection
from sandbox.state import iso, now_utc

CONTROL_PREFIX = "/_sandbox"


class _Dropped(Exception):
    """Raised when a connection cannot be aborted (not served by sandbox.server)."""


class SandboxMiddleware:
    def __init__(self, app: Any, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        who: dict[str, Any] = scope.setdefault("sandbox.identity", {})
        entry: dict[str, Any] = {
            "time": iso(now_utc()),
            "method": scope["method"],
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": None,
            "fault": None,
        }
        status_box: dict[str, int] = {}

        async def record_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
            await send(message)

        decision = self.sandbox.faults.decide(scope["method"], scope["path"])
        try:
            if decision.latency:
                entry["latency_ms"] = round(decision.latency * 1000, 1)
                await asyncio.sleep(decision.latency)
            if decision.action == "status":
                entry["fault"] = f"status {decision.status} ({decision.reason})"
                await self._fault_answer(record_send, decision.status, decision.retry_after)
            elif decision.action == "drop":
                entry["fault"] = f"drop ({decision.reason})"
                await self._drop(scope, send)
            elif decision.action == "drop_after_write":
                entry["fault"] = f"drop_after_write ({decision.reason})"

                async def swallow(message: dict[str, Any]) -> None:
                    if message["type"] == "http.response.start":
                        entry["handler_status"] = message["status"]

                await self.app(scope, receive, swallow)  # the write happens...
                await self._drop(scope, send)  # ...the answer never arrives
            else:
                await self.app(scope, receive, record_send)
        finally:
            entry["status"] = status_box.get("status")
            entry["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
            for name in ("org", "tenant_id", "api_key_id", "rate_limited"):
                if name in who:
                    entry[name] = who[name]
            self.sandbox.store.log_request(entry)

    @staticmethod
    async def _fault_answer(send: Any, status: int, retry_after: int | None) -> None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        body = json.dumps({"detail": phrase}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-sandbox-fault", b"injected"),
        ]
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _drop(scope: dict[str, Any], send: Any) -> None:
        if await abort_connection(scope):
            return
        # Not under sandbox.server: the best we can do is break the answer half-way.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"100")],
            }
        )
        raise _Dropped("connection dropped by fault injection")
