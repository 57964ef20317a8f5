"""The organization key's quota (100/min and 1000/h), shared by every process.

One sliding log holds every granted call. A call is granted only if, counting it, neither
window (the minute and the hour) would hold more than its limit, and no 429 pause is in
force. Both windows are checked and the grant recorded in one atomic step, so the web
processes, every worker and the beat together never exceed the quota:

- Redis (``RATE_LIMIT_REDIS_URL``): a Lua script on a sorted set, timed by the Redis clock.
- Otherwise a small SQLite file (``RATE_LIMIT_SQLITE_PATH``, default ``var/ratelimit.sqlite3``)
  written in one ``BEGIN IMMEDIATE`` transaction, so every process of this host shares it.
  It is separate from the Django database so that the quota never waits on a long write.

``RATE_LIMIT_TIME_SCALE`` divides both windows (benchmarks against a sandbox that runs its
quota clock faster). ``RATE_LIMIT_MARGIN_SECONDS`` widens each window a little because a
call reaches the API some milliseconds after its grant; without it the API's own window can
see one call too many.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


class QuotaExhausted(Exception):
    def __init__(self, wait_seconds: float) -> None:
        super().__init__(f"API quota exhausted; retry in {wait_seconds:.1f}s")
        self.wait_seconds = wait_seconds


@dataclass(frozen=True)
class Quota:
    per_minute: int
    per_hour: int
    minute_seconds: float
    hour_seconds: float


def _setting(name: str, default: object) -> object:
    # The env var fallback lets a worker process started by a test pick the same values.
    value = getattr(settings, name, None)
    if value is None or value == "":
        value = os.environ.get(name) or default
    return value


def quota() -> Quota:
    scale = float(_setting("RATE_LIMIT_TIME_SCALE", 1.0)) or 1.0
    margin = float(_setting("RATE_LIMIT_MARGIN_SECONDS", 0.25))
    return Quota(
        per_minute=int(settings.EINVOICE_RATE_PER_MINUTE),
        per_hour=int(settings.EINVOICE_RATE_PER_HOUR),
        minute_seconds=60.0 / scale + margin,
        hour_seconds=3600.0 / scale + margin,
    )


# --- Redis --------------------------------------------------------------------------------
# Returns "0" when granted, else the seconds to wait (as a string: Redis truncates numbers).
_GRANT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lm, wm = tonumber(ARGV[1]), tonumber(ARGV[2])
local lh, wh = tonumber(ARGV[3]), tonumber(ARGV[4])
local wait = 0
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then wait = paused - now end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - wh)
local n = redis.call('ZCARD', KEYS[1])
if n >= lh then
  local e = redis.call('ZRANGE', KEYS[1], n - lh, n - lh, 'WITHSCORES')
  wait = math.max(wait, tonumber(e[2]) + wh - now)
end
if n >= lm then
  local e = redis.call('ZRANGE', KEYS[1], n - lm, n - lm, 'WITHSCORES')
  wait = math.max(wait, tonumber(e[2]) + wm - now)
end
if wait > 0 then return tostring(wait) end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.ceil(wh * 1000) + 1000)
return '0'
"""

_PAUSE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > cur then
  redis.call('SET', KEYS[1], tostring(until_), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return tostring(until_)
"""


class RedisBackend:
    def __init__(self, url: str, prefix: str) -> None:
        import redis

        # One hash tag so that both keys live on the same cluster slot.
        self.log_key = f"{{{prefix}}}:log"
        self.pause_key = f"{{{prefix}}}:paused"
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._grant = self.client.register_script(_GRANT_LUA)
        self._pause = self.client.register_script(_PAUSE_LUA)

    def try_acquire(self, q: Quota) -> float:
        args = [q.per_minute, q.minute_seconds, q.per_hour, q.hour_seconds, uuid.uuid4().hex]
        return float(self._grant(keys=[self.log_key, self.pause_key], args=args))

    def pause(self, seconds: float) -> None:
        self._pause(keys=[self.pause_key], args=[seconds])

    def headroom(self, q: Quota) -> int:
        seconds, micros = self.client.time()
        now = float(seconds) + float(micros) / 1e6
        paused = float(self.client.get(self.pause_key) or 0)
        if paused > now:
            return 0
        pipe = self.client.pipeline()
        pipe.zcount(self.log_key, f"({now - q.minute_seconds}", "+inf")
        pipe.zcount(self.log_key, f"({now - q.hour_seconds}", "+inf")
        in_minute, in_hour = pipe.execute()
        return max(0, min(q.per_minute - in_minute, q.per_hour - in_hour))

    def reset(self) -> None:
        self.client.delete(self.log_key, self.pause_key)

    def grants(self) -> list[float]:
        return [score for _, score in self.client.zrange(self.log_key, 0, -1, withscores=True)]


# --- SQLite file ----------------------------------------------------------------------------
class SqliteBackend:
    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS grants (ts REAL NOT NULL)")
            conn.execute("CREATE INDEX IF NOT EXISTS grants_ts ON grants (ts)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS pause (id INTEGER PRIMARY KEY CHECK (id = 1), "
                "until REAL NOT NULL)"
            )
            self._local.conn = conn
        return conn

    def try_acquire(self, q: Quota) -> float:
        conn = self._conn()
        # IMMEDIATE takes the write lock first: the read-check-insert below is atomic.
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()
            wait = 0.0
            row = conn.execute("SELECT until FROM pause WHERE id = 1").fetchone()
            if row and row[0] > now:
                wait = row[0] - now
            conn.execute("DELETE FROM grants WHERE ts <= ?", (now - q.hour_seconds,))
            for limit, window in ((q.per_hour, q.hour_seconds), (q.per_minute, q.minute_seconds)):
                # The limit-th most recent grant: once it leaves the window, one slot frees.
                row = conn.execute(
                    "SELECT ts FROM grants ORDER BY ts DESC LIMIT 1 OFFSET ?", (limit - 1,)
                ).fetchone()
                if row and row[0] + window > now:
                    wait = max(wait, row[0] + window - now)
            if wait <= 0:
                conn.execute("INSERT INTO grants (ts) VALUES (?)", (now,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return wait

    def pause(self, seconds: float) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            until = time.time() + seconds
            conn.execute(
                "INSERT INTO pause (id, until) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET until = max(until, excluded.until)",
                (until,),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def headroom(self, q: Quota) -> int:
        conn = self._conn()
        now = time.time()
        row = conn.execute("SELECT until FROM pause WHERE id = 1").fetchone()
        if row and row[0] > now:
            return 0
        in_minute, in_hour = conn.execute(
            "SELECT sum(ts > ?), sum(ts > ?) FROM grants",
            (now - q.minute_seconds, now - q.hour_seconds),
        ).fetchone()
        return max(0, min(q.per_minute - (in_minute or 0), q.per_hour - (in_hour or 0)))

    def reset(self) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM grants")
        conn.execute("DELETE FROM pause")
        conn.execute("COMMIT")

    def grants(self) -> list[float]:
        return [r[0] for r in self._conn().execute("SELECT ts FROM grants ORDER BY ts")]


Backend = RedisBackend | SqliteBackend
_backends: dict[tuple, Backend] = {}
_lock = threading.Lock()


def backend() -> Backend:
    """The backend named by the current settings (re-read, so tests can switch it)."""
    redis_url = str(_setting("RATE_LIMIT_REDIS_URL", ""))
    path = str(
        _setting("RATE_LIMIT_SQLITE_PATH", Path(settings.BASE_DIR) / "var" / "ratelimit.sqlite3")
    )
    # Keyed by pid too: a forked child must not share its parent's connections.
    prefix = str(_setting("RATE_LIMIT_KEY_PREFIX", "peppol-portal-quota"))
    key = (os.getpid(), redis_url, prefix if redis_url else path)
    with _lock:
        b = _backends.get(key)
        if b is None:
            b = RedisBackend(redis_url, prefix) if redis_url else SqliteBackend(path)
            _backends[key] = b
    return b


def try_acquire() -> float:
    """Take one call from the shared quota. 0.0 when granted, else seconds to wait."""
    return backend().try_acquire(quota())


def acquire(max_wait: float = 0.0) -> None:
    """Take one call, waiting at most max_wait seconds; raise QuotaExhausted otherwise."""
    deadline = time.monotonic() + max_wait
    while True:
        wait = try_acquire()
        if wait <= 0:
            return
        left = deadline - time.monotonic()
        if wait > left:
            raise QuotaExhausted(wait)
        time.sleep(wait)


def pause_until(retry_after_seconds: float) -> None:
    """A 429 from the API: make every caller in every process wait this long."""
    if retry_after_seconds > 0:
        backend().pause(float(retry_after_seconds))


def headroom() -> int:
    """How many calls could be granted right now (0 while a 429 pause is in force).

    A snapshot for pacing work (the job dispatcher); taking a call still needs try_acquire.
    """
    return backend().headroom(quota())


def reset() -> None:
    """Forget every grant and pause (tests and benchmarks only)."""
    backend().reset()
