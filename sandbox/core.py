"""The sandbox's shared state and the authentication dependencies of both APIs."""

from __future__ import annotations

import itertools
import math
import threading
from typing import Any

from fastapi import Request

from sandbox.config import Settings
from sandbox.errors import ApiError, unauthorized
from sandbox.faults import Faults
from sandbox.ratelimit import SlidingLogLimiter
from sandbox.scheduler import Scheduler
from sandbox.state import Store, Tenant, fingerprint


class Sandbox:
    def __init__(self, settings: Settings) -> None:
        self.initial = settings.copy()
        self.config = settings.copy()
        self.store = Store(settings.request_log_size)
        self.limiter = SlidingLogLimiter()
        self.faults = Faults()
        self.network = Scheduler("sandbox-network")  # TRANSIT -> SENT/FAILED
        self.deliveries = Scheduler("sandbox-webhooks", workers=4)
        self._config_lock = threading.Lock()
        self._refusals = itertools.count()  # 429s answered (retry_after="sometimes" alternates)
        # fingerprint by key hash: the org key values are only compared, never logged
        self._orgs = {Store.hash_key(k): f"org_{fingerprint(k)}" for k in settings.org_keys}

    def org_for_key(self, value: str) -> str | None:
        return self._orgs.get(Store.hash_key(value))

    def reset(self) -> None:
        self.network.clear()
        self.deliveries.clear()
        with self._config_lock:
            self.config = self.initial.copy()
        self.store.reset(self.config.request_log_size)
        self.limiter.reset()
        self.faults.clear()
        self._refusals = itertools.count()

    def too_many_requests(self, detail: str, wait: float) -> ApiError:
        """A 429; whether it carries Retry-After (whole seconds, rounded up) is a setting."""
        mode = self.config.retry_after
        refusal = next(self._refusals)
        send = mode == "always" or (mode == "sometimes" and refusal % 2 == 0)
        headers = {"Retry-After": str(max(1, math.ceil(wait)))} if send else None
        return ApiError(429, detail, headers=headers)

    def configure(self, changes: dict[str, Any]) -> Settings:
        with self._config_lock:
            updated = self.config.copy()
            for name, value in changes.items():
                setattr(updated, name, value)
            updated.validate()
            self.config = updated
            return updated

    def shutdown(self) -> None:
        self.network.stop()
        self.deliveries.stop()


def get_sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox


def identity(request: Request) -> dict[str, Any]:
    """Who made the request, for the request log (filled in by the auth dependencies)."""
    return request.scope.setdefault("sandbox.identity", {})


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def require_org(request: Request) -> str:
    """Admin API auth: a valid organization key, then the per-key rate limit."""
    sandbox = get_sandbox(request)
    key = _bearer(request)
    org = sandbox.org_for_key(key) if key else None
    if org is None:
        raise unauthorized()
    identity(request)["org"] = org
    wait = sandbox.limiter.hit(org, sandbox.config.rate_windows())
    if wait is not None:
        identity(request)["rate_limited"] = True
        config = sandbox.config
        raise sandbox.too_many_requests(
            f"Rate limit exceeded: {config.rate_per_minute} per minute and "
            f"{config.rate_per_hour} per hour per organization API key",
            wait,
        )
    return org


def require_tenant(request: Request) -> Tenant:
    """Tenant API auth: an active tenant key of a tenant that is not deleted."""
    sandbox = get_sandbox(request)
    key = _bearer(request)
    found = sandbox.store.tenant_for_key(key) if key else None
    if found is None:
        raise unauthorized()
    tenant, api_key = found
    identity(request).update(org=tenant.org, tenant_id=tenant.id, api_key_id=api_key.id)
    wait = sandbox.limiter.hit(f"tenant:{tenant.id}", sandbox.config.tenant_rate_windows())
    if wait is not None:
        identity(request)["rate_limited"] = True
        raise sandbox.too_many_requests("Rate limit exceeded, please try again later", wait)
    return tenant
