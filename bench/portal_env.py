"""The environment of a throwaway portal for the worker benchmarks (onboarding_throughput,
sync): production-like settings, its own SQLite database and quota file under `tmp`, the
given sandbox; and a settings module of the bench's own for what no variable sets."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def portal_env(tmp: Path, sandbox) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "x" * 60,
        "ALLOWED_HOSTS": "localhost",
        "LOG_LEVEL": "WARNING",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp / 'portal.sqlite3'}",
        "RATE_LIMIT_REDIS_URL": "",
        "RATE_LIMIT_SQLITE_PATH": str(tmp / "quota.sqlite3"),
        "EINVOICE_API_BASE_URL": sandbox.url,
        "EINVOICE_ORG_API_KEY": sandbox.org_key,
    }


def bench_settings(tmp: Path, repo: Path, env: dict[str, str], *lines: str) -> None:
    """Use the project's settings plus `lines` (in this process and the workers it starts)."""
    (tmp / "bench_settings.py").write_text(
        "\n".join(["from portal.settings import *  # noqa: F403", *lines]) + "\n"
    )
    env["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    env["PYTHONPATH"] = os.pathsep.join([str(tmp), str(repo)])
    sys.path.insert(0, str(tmp))


def busiest_window(times: list[float], span: float) -> int:
    """The most of `times` (sorted) that fall in any window of `span` seconds."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - span:
            start += 1
        best = max(best, end - start + 1)
    return best
