"""python -m sandbox --host 127.0.0.1 --port 8765 [--port-file PATH]"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time

from sandbox.app import create_app
from sandbox.config import Settings
from sandbox.server import serve


def _watch_parent() -> None:
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="sandbox-parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the bound port to this file once listening")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started us dies (test runs killed hard leave no orphan)",
    )
    args = parser.parse_args(argv)
    if args.exit_with_parent:
        _watch_parent()
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    app = create_app(Settings.from_env())
    serve(
        app,
        args.host,
        args.port,
        port_file=args.port_file,
        log_level=args.log_level,
        access_log=args.access_log,
    )


if __name__ == "__main__":
    main()
