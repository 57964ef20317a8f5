"""Fault injection for reliability tests: latency, 5xx answers, dropped connections.

Set with ``POST /_sandbox/faults`` (replaces the whole fault set), clear with
``DELETE /_sandbox/faults``. Control paths (``/_sandbox/...``) are never affected.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

Action = Literal["status", "drop", "drop_after_write"]


class FaultRule(BaseModel):
    """Fail the matching route the next ``times`` times (None = until cleared)."""

    method: str = "*"
    path: str = Field(description="fnmatch pattern on the path, e.g. /api/admin/tenants*")
    action: Action = "status"
    status: int = Field(default=500, ge=400, le=599)
    times: int | None = Field(default=1, ge=1)
    retry_after: int | None = Field(default=None, ge=0, description="Retry-After for status faults")

    def matches(self, method: str, path: str) -> bool:
        return (
            self.method == "*" or self.method.upper() == method.upper()
        ) and fnmatch.fnmatchcase(path, self.path)


class FaultConfig(BaseModel):
    latency_ms: float = Field(default=0, ge=0)
    latency_jitter_ms: float = Field(default=0, ge=0)
    error_rate: float = Field(default=0, ge=0, le=1)  # answered 5xx without running the handler
    error_status: int = Field(default=503, ge=500, le=599)
    drop_rate: float = Field(default=0, ge=0, le=1)  # connection closed, handler not run
    drop_after_write_rate: float = Field(default=0, ge=0, le=1)  # handler runs, answer dropped
    paths: list[str] = Field(default_factory=lambda: ["/api/*"])  # where the rates/latency apply
    rules: list[FaultRule] = Field(default_factory=list)
    seed: int | None = None  # makes the random faults repeatable


@dataclass
class Decision:
    latency: float = 0.0  # seconds
    action: Action | None = None
    status: int = 500
    retry_after: int | None = None
    reason: str = ""


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config = FaultConfig()
        self._remaining: list[int | None] = []
        self._random = random.Random()

    def set(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._remaining = [rule.times for rule in config.rules]
            self._random = random.Random(config.seed)

    def clear(self) -> None:
        self.set(FaultConfig())

    def describe(self) -> dict[str, object]:
        with self._lock:
            data = self._config.model_dump()
            for rule, left in zip(data["rules"], self._remaining, strict=True):
                rule["remaining"] = left
            return data

    def decide(self, method: str, path: str) -> Decision:
        decision = Decision()
        with self._lock:
            cfg = self._config
            in_scope = any(fnmatch.fnmatchcase(path, pattern) for pattern in cfg.paths)
            if in_scope and (cfg.latency_ms or cfg.latency_jitter_ms):
                jitter = self._random.uniform(0, cfg.latency_jitter_ms)
                decision.latency = (cfg.latency_ms + jitter) / 1000
            for index, rule in enumerate(cfg.rules):
                left = self._remaining[index]
                if (left is None or left > 0) and rule.matches(method, path):
                    if left is not None:
                        self._remaining[index] = left - 1
                    decision.action = rule.action
                    decision.status = rule.status
                    decision.retry_after = rule.retry_after
                    decision.reason = f"rule {index}"
                    return decision
            if not in_scope:
                return decision
            roll = self._random.random()
            if roll < cfg.drop_rate:
                decision.action, decision.reason = "drop", "drop_rate"
            elif roll < cfg.drop_rate + cfg.error_rate:
                decision.action, decision.status = "status", cfg.error_status
                decision.reason = "error_rate"
            elif roll < cfg.drop_rate + cfg.error_rate + cfg.drop_after_write_rate:
                decision.action, decision.reason = "drop_after_write", "drop_after_write_rate"
            return decision
