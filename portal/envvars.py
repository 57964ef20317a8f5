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


# Email URL schemes the portal accepts. consolemail:// is refused: it would print every email,
# and with it the one-time links (invitations, resets, key hand-overs), to the logs.
EMAIL_SCHEMES = ("smtp", "smtps", "smtp+tls", "smtp+ssl", "filemail", "memorymail", "dummymail")


def env_email(name: str, default: str) -> dict[str, Any]:
    """Django's EMAIL_* settings from one URL (a secret: it may carry the SMTP password):
    smtp://user:pass@host:587/?tls=True, smtp+ssl://host:465, filemail:///path (files)."""
    url = env_secret(name, "") or default
    scheme = url.split("://", 1)[0].lower()
    if scheme not in EMAIL_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} has the scheme {scheme!r}; use one of {', '.join(EMAIL_SCHEMES)}"
        )
    try:
        config = environ.Env.email_url_config(url)
    except (ValueError, ImproperlyConfigured) as e:
        raise ImproperlyConfigured(f"{name} is not an email URL: {e}") from None
    options = {k.lower(): str(v).lower() for k, v in config.pop("OPTIONS", {}).items()}
    return {
        "EMAIL_BACKEND": config["EMAIL_BACKEND"],
        "EMAIL_HOST": config["EMAIL_HOST"] or "localhost",
        "EMAIL_PORT": config["EMAIL_PORT"] or 25,
        "EMAIL_HOST_USER": config["EMAIL_HOST_USER"] or "",
        "EMAIL_HOST_PASSWORD": config["EMAIL_HOST_PASSWORD"] or "",
        "EMAIL_USE_TLS": bool(config.get("EMAIL_USE_TLS")) or options.get("tls") in TRUE_WORDS,
        "EMAIL_USE_SSL": bool(config.get("EMAIL_USE_SSL")) or options.get("ssl") in TRUE_WORDS,
        "EMAIL_FILE_PATH": config["EMAIL_FILE_PATH"] or "",
    }
