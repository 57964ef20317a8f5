"""Running the sandbox under uvicorn, with the ability to drop a connection without an answer.

ASGI has no way to say "close the socket, send nothing": an app that never answers gets a 500
from uvicorn. So the sandbox runs uvicorn with an h11 protocol subclass that records each
connection's transport by client address; the fault middleware aborts that transport.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

_TRANSPORTS: dict[tuple[str, int], asyncio.Transport] = {}


class DroppableH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.client:
            _TRANSPORTS[(self.client[0], self.client[1])] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client:
            _TRANSPORTS.pop((self.client[0], self.client[1]), None)
        super().connection_lost(exc)


async def abort_connection(scope: dict[str, Any]) -> bool:
    """Close the request's connection at once, without an answer. False if not possible."""
    client = scope.get("client")
    transport = _TRANSPORTS.get((client[0], client[1])) if client else None
    if transport is None:
        return False
    transport.abort()
    # Let the loop deliver connection_lost, so uvicorn knows not to answer a 500 instead.
    for _ in range(3):
        await asyncio.sleep(0)
    return True


def serve(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    port_file: str | None = None,
    log_level: str = "warning",
    access_log: bool = False,
) -> None:
    """Bind first (port 0 picks a free port), publish the port, then serve until stopped."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP, and
    # without it every answer (headers, then body) waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        http=DroppableH11Protocol,
        lifespan="on",
        log_level=log_level,
        access_log=access_log,
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    if port_file:
        # Written atomically once the socket accepts connections (the backlog queues them).
        tmp = Path(port_file + ".tmp")
        tmp.write_text(str(bound_port), encoding="utf-8")
        tmp.replace(port_file)
    print(f"sandbox listening on http://{host}:{bound_port}", flush=True)
    server.run(sockets=[sock])
