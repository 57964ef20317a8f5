"""Sandbox settings: read once from the environment, changeable at run time via /_sandbox/config."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_ORG_KEY = "einv_org_sandbox_demo_key"  # noqa: S105 - a public demo value, not a secret


def _floats(raw: str) -> list[float]:
    return [float(part) for part in raw.split(",") if part.strip()]


@dataclass
class Settings:
    """Every knob of the sandbox. Reset (POST /_sandbox/reset) restores the start-up values."""

    org_keys: list[str] = field(default_factory=lambda: [DEFAULT_ORG_KEY])
    rate_per_minute: int = 100  # per organization key; 0 disables the window
    rate_per_hour: int = 1000
    # 60 makes a rate-limit "minute" last one real second (and an "hour" one real minute).
    time_scale: float = 1.0
    send_delay: float = 2.0  # seconds a sent document stays in TRANSIT
    # Pause before each webhook retry; attempts = 1 + len(webhook_retry_delays).
    webhook_retry_delays: list[float] = field(default_factory=lambda: [1.0, 5.0, 25.0])
    webhook_timeout: float = 5.0
    request_log_size: int = 10_000
    # A JSON snapshot that survives restarts (bin/run's demo); None keeps everything in memory.
    state_file: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls()
        if env.get("SANDBOX_ORG_KEYS"):
            settings.org_keys = [k.strip() for k in env["SANDBOX_ORG_KEYS"].split(",") if k.strip()]
        if env.get("SANDBOX_RATE_PER_MINUTE"):
            settings.rate_per_minute = int(env["SANDBOX_RATE_PER_MINUTE"])
        if env.get("SANDBOX_RATE_PER_HOUR"):
            settings.rate_per_hour = int(env["SANDBOX_RATE_PER_HOUR"])
        if env.get("SANDBOX_TIME_SCALE"):
            settings.time_scale = float(env["SANDBOX_TIME_SCALE"])
        if env.get("SANDBOX_SEND_DELAY"):
            settings.send_delay = float(env["SANDBOX_SEND_DELAY"])
        if env.get("SANDBOX_WEBHOOK_RETRY_DELAYS") is not None:
            settings.webhook_retry_delays = _floats(env["SANDBOX_WEBHOOK_RETRY_DELAYS"])
        if env.get("SANDBOX_WEBHOOK_TIMEOUT"):
            settings.webhook_timeout = float(env["SANDBOX_WEBHOOK_TIMEOUT"])
        if env.get("SANDBOX_STATE_FILE"):
            settings.state_file = env["SANDBOX_STATE_FILE"]
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.org_keys:
            raise ValueError("at least one organization key is needed")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if self.send_delay < 0 or self.webhook_timeout <= 0:
            raise ValueError("send_delay must be >= 0 and webhook_timeout > 0")
        if any(d < 0 for d in self.webhook_retry_delays):
            raise ValueError("webhook_retry_delays must be >= 0")
        if self.rate_per_minute < 0 or self.rate_per_hour < 0:
            raise ValueError("rate limits must be >= 0")

    def copy(self) -> Settings:
        return dataclasses.replace(
            self,
            org_keys=list(self.org_keys),
            webhook_retry_delays=list(self.webhook_retry_delays),
        )

    def public(self) -> dict[str, object]:
        """The settings without the organization key values (those are secrets)."""
        data = dataclasses.asdict(self)
        data["org_keys"] = len(self.org_keys)
        return data

    def rate_windows(self) -> list[tuple[int, float]]:
        """(limit, window in real seconds) for every active window."""
        windows = [(self.rate_per_minute, 60.0), (self.rate_per_hour, 3600.0)]
        return [(limit, span / self.time_scale) for limit, span in windows if limit > 0]
