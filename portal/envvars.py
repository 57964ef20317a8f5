"""Typed readers of environment variables, used only by the settings modules.

Every setting is read through one of these, so a value that is not of its type stops the
start with the variable's name instead of silently meaning something else (`REQUIRE_STAFF_2FA=ture`
must not mean "off"). tests/portal/test_settings.py finds the names in these calls and checks
that `.env.example` and the README document each of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

_env = environ.Env()
_UNSET = object()

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def _raw(name: str) -> str | None:
    # django-environ's str() resolves `$OTHER` proxies, as every setting did before. (With
    # default=None it would also turn an empty value into None.)
    value = _env.str(name, default=_UNSET)
    return None if value is _UNSET else str(value)


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    """true/false, 1/0, yes/no, on/off (any case); anything else is a configuration error."""
    value = _raw(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean; use one of true/false, 1/0, yes/no, on/off"
    )


def env_int(name: str, default: int) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        return int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    value = _raw(name)
    if value is None:
        return float(default)
    try:
        return float(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    """Comma-separated; empty items are dropped."""
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_db(name: str, default: str) -> dict[str, Any]:
    try:
        return _env.db_url(name, default=default)
    except (ValueError, KeyError) as e:
        raise ImproperlyConfigured(f"{name} is not a database URL: {e}") from None


def env_secret(name: str, default: str = "") -> str:
    """Read a secret from NAME or from the file named by NAME_FILE (Docker secrets)."""
    path = env_str(f"{name}_FILE", "")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as e:
            raise ImproperlyConfigured(f"{name}_FILE points at an unreadable file: {path}") from e
    return env_str(name, default)
