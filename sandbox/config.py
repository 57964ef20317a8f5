"""Sandbox settings: read once from the environment, changeable at run time via /_sandbox/config."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

DEFAULT_ORG_KEY = "einv_org_sandbox_demo_key"  # noqa: S105 - a public demo value, not a secret


def _floats(raw: str) -> list[float]:
    return [float(part) for part in raw.split(",") if part.strip()]


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {raw!r}")


# Boolean settings read from SANDBOX_<NAME> (1/0, true/false, yes/no, on/off).
BOOLEANS = (
    "resend_failed",
    "error_extras",
    "validation_lists",
    "webhook_compact_json",
    "unregistered_can_send",
    "test_mode_default",
)
# Where the Admin API guide is silent, each plausible behaviour (the first is the default).
CHOICES: dict[str, tuple[str, ...]] = {
    "retry_after": ("always", "sometimes", "never"),  # Retry-After on a 429
    "latest_key": ("active", "created"),  # api-keys/latest: newest not revoked, or newest at all
    "test_mode_exit": ("update", "ignore", "refuse"),  # PUT test_mode: applied, ignored, 400
    "peppol_ids": ("at_most_one", "exactly_one"),  # tenant create/update
}


@dataclass
class Settings:
    """Every knob of the sandbox. Reset (POST /_sandbox/reset) restores the start-up values."""

    org_keys: list[str] = field(default_factory=lambda: [DEFAULT_ORG_KEY])
    rate_per_minute: int = 100  # per organization key; 0 disables the window
    rate_per_hour: int = 1000
    # 60 makes a rate-limit "minute" last one real second (and an "hour" one real minute).
    time_scale: float = 1.0
    send_delay: float = 2.0  # seconds from a send to the first delivery attempt
    # Delivery retries (sandbox/delivery.py): attempts before FAILED; the wait after attempt n is
    # delivery_backoff * 2**(n-1) service seconds (/ time_scale): 8 x 600 s spans ~21 hours.
    delivery_attempts: int = 8
    delivery_backoff: float = 600.0
    delivery_jitter: float = 0.2  # every wait x uniform(1 - jitter, 1 + jitter)
    # False: a tenant in test mode or not registered on Peppol cannot deliver (FAILED)
    unregistered_can_send: bool = False
    # Pause before each webhook retry; attempts = 1 + len(webhook_retry_delays).
    webhook_retry_delays: list[float] = field(default_factory=lambda: [1.0, 5.0, 25.0])
    webhook_timeout: float = 5.0
    # Multipart uploads (UBL, PDF, conversion) and attachments: size limits in bytes.
    upload_max_bytes: int = 10 * 1024 * 1024
    attachment_max_bytes: int = 10 * 1024 * 1024
    conversion_delay: float = 0.5  # seconds a PDF conversion task stays pending
    # The sandbox's old guesses, kept to show what the portal no longer depends on (bin/run and
    # the tests leave them off). Off = as e-invoice.be's OpenAPI file documents it.
    resend_failed: bool = False  # send on a FAILED document: 405 (False) or FAILED -> TRANSIT
    error_extras: bool = False  # 406/400 bodies: {"detail"} only (False) or + issues/errors
    # 422s: in the shape the file documents per operation (False), or FastAPI's list everywhere
    validation_lists: bool = False
    # Webhook bodies: json.dumps(event, sort_keys=True) as documented (False), or compact JSON
    webhook_compact_json: bool = False
    # Tenant API quota per tenant (all its keys together); 0 = no limit (nothing is published).
    tenant_rate_per_minute: int = 0
    tenant_rate_per_hour: int = 0
    # Admin API guesses (CHOICES above; defaults = the guide where it speaks, else the old guess)
    retry_after: str = "always"
    latest_key: str = "active"
    test_mode_default: bool = False
    test_mode_exit: str = "update"
    peppol_ids: str = "at_most_one"
    request_log_size: int = 10_000
    # A JSON snapshot that survives restarts (bin/run's demo); None keeps everything in memory.
    state_file: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls()
        if env.get("SANDBOX_ORG_KEYS"):
            settings.org_keys = [k.strip() for k in env["SANDBOX_ORG_KEYS"].split(",") if k.strip()]
        # Each SANDBOX_<NAME> set to a non-empty value overrides the field <name>.
        for name, parse in _ENV_FIELDS.items():
            raw = env.get(f"SANDBOX_{name.upper()}")
            if raw:
                setattr(settings, name, parse(raw))
        if env.get("SANDBOX_WEBHOOK_RETRY_DELAYS") is not None:  # empty means "no retries"
            settings.webhook_retry_delays = _floats(env["SANDBOX_WEBHOOK_RETRY_DELAYS"])
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
        if self.tenant_rate_per_minute < 0 or self.tenant_rate_per_hour < 0:
            raise ValueError("tenant rate limits must be >= 0")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}")
        if self.delivery_attempts < 1 or self.delivery_backoff < 0:
            raise ValueError("delivery_attempts must be >= 1 and delivery_backoff >= 0")
        if not 0 <= self.delivery_jitter < 1:
            raise ValueError("delivery_jitter must be in [0, 1)")

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
        """(limit, window in real seconds) for every active Admin API window."""
        return self._windows(self.rate_per_minute, self.rate_per_hour)

    def tenant_rate_windows(self) -> list[tuple[int, float]]:
        """The same for the tenant API quota (per tenant)."""
        return self._windows(self.tenant_rate_per_minute, self.tenant_rate_per_hour)

    def _windows(self, per_minute: int, per_hour: int) -> list[tuple[int, float]]:
        windows = [(per_minute, 60.0), (per_hour, 3600.0)]
        return [(limit, span / self.time_scale) for limit, span in windows if limit > 0]


def _choice(raw: str) -> str:
    return raw.strip().lower()


_ENV_FIELDS: dict[str, Callable[[str], object]] = {
    "rate_per_minute": int,
    "rate_per_hour": int,
    "time_scale": float,
    "send_delay": float,
    "tenant_rate_per_minute": int,
    "tenant_rate_per_hour": int,
    **dict.fromkeys(CHOICES, _choice),
    "delivery_attempts": int,
    "delivery_backoff": float,
    "delivery_jitter": float,
    "webhook_timeout": float,
    **dict.fromkeys(BOOLEANS, _boolean),
    "state_file": str,
}
