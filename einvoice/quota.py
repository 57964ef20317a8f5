"""The organization key's quota (100/min and 1000/h), shared by every process.

One sliding log holds every call. A call is granted only if, counting it, neither window
(the minute and the hour) would hold more than its limit, and no 429 pause is in force.
Both windows are checked and the grant recorded in one atomic step, so the web processes,
every worker and the beat together never exceed the quota:

- Redis (``RATE_LIMIT_REDIS_URL``): a Lua script on a sorted set, timed by the Redis clock.
- Otherwise a small SQLite file (``RATE_LIMIT_SQLITE_PATH``, default ``var/ratelimit.sqlite3``)
  written in one ``BEGIN IMMEDIATE`` transaction, so every process of this host shares it.
  It is separate from the Django database so that the quota never waits on a long write.

The API counts a call when it arrives, some time after our grant; only its answer shows that
it has arrived. So a call is counted at its answer: the grant holds a slot (logged as late as
the call could be answered, so it is in every window meanwhile), and ``Grant.answered()``
moves it to the moment of the answer. Then no window of the API's can hold more calls than
ours did, however long a call took to leave (a busy worker, a slow connect).

``RATE_LIMIT_TIME_SCALE`` divides both windows (benchmarks against a sandbox that runs its
quota clock faster). ``RATE_LIMIT_MARGIN_SECONDS`` widens each window by that many of the
API's seconds (scaled like the windows), for a clock that runs slightly faster than ours.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    # How long an unanswered grant may still be on its way: it counts as arriving then.
    pending_seconds: float


def quota() -> Quota:
    scale = float(settings.RATE_LIMIT_TIME_SCALE) or 1.0
    margin = float(settings.RATE_LIMIT_MARGIN_SECONDS)
    return Quota(
        per_minute=int(settings.EINVOICE_RATE_PER_MINUTE),
        per_hour=int(settings.EINVOICE_RATE_PER_HOUR),
        minute_seconds=(60.0 + margin) / scale,
        hour_seconds=(3600.0 + margin) / scale,
        # httpx gives up after its timeout per phase (connect, write, read): real seconds.
        pending_seconds=max(60.0, 3 * float(settings.EINVOICE_TIMEOUT_SECONDS)),
    )


# Tests replace this with a fake clock. None: SQLite reads time.time(), Redis its own TIME.
_clock: Callable[[], float] | None = None


def _now() -> float:
    return _clock() if _clock is not None else time.time()


# --- Redis --------------------------------------------------------------------------------
# ARGV[1] is the time ("" = the Redis clock, the same for every host).
_NOW_LUA = """
local now
if ARGV[1] ~= '' then now = tonumber(ARGV[1]) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

# Returns "0" when granted, else the seconds to wait (as a string: Redis truncates numbers).
_GRANT_LUA = (
    _NOW_LUA
    + """
local lm, wm = tonumber(ARGV[2]), tonumber(ARGV[3])
local lh, wh = tonumber(ARGV[4]), tonumber(ARGV[5])
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
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[7]), ARGV[6])
redis.call('PEXPIRE', KEYS[1], math.ceil((wh + tonumber(ARGV[7])) * 1000) + 1000)
return '0'
"""
)

# XX: a grant already forgotten (its hour long over) is not logged again.
_ANSWERED_LUA = (
    _NOW_LUA
    + """
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[2])
return 1
"""
)

_PAUSE_LUA = (
    _NOW_LUA
    + """
local until_ = now + tonumber(ARGV[2])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > cur then
  redis.call('SET', KEYS[1], tostring(until_), 'PX', math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
end
return tostring(until_)
"""
)


# The free calls in both windows, in one round trip (the dispatcher asks after every job):
# 0 while a 429 pause is in force.
_HEADROOM_LUA = (
    _NOW_LUA
    + """
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return 0 end
local in_minute = redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[3])), '+inf')
local in_hour = redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[5])), '+inf')
return math.max(0, math.min(tonumber(ARGV[2]) - in_minute, tonumber(ARGV[4]) - in_hour))
"""
)


def _clock_arg() -> str:
    return repr(_clock()) if _clock is not None else ""


class RedisBackend:
    def __init__(self, url: str, prefix: str) -> None:
        import redis

        # One hash tag so that both keys live on the same cluster slot.
        self.log_key = f"{{{prefix}}}:calls"
        self.pause_key = f"{{{prefix}}}:paused"
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._grant = self.client.register_script(_GRANT_LUA)
        self._answered = self.client.register_script(_ANSWERED_LUA)
        self._pause = self.client.register_script(_PAUSE_LUA)
        self._headroom = self.client.register_script(_HEADROOM_LUA)

    def try_acquire(self, q: Quota, token: str) -> float:
        args = [
            _clock_arg(),
            q.per_minute,
            q.minute_seconds,
            q.per_hour,
            q.hour_seconds,
            token,
            q.pending_seconds,
        ]
        return float(self._grant(keys=[self.log_key, self.pause_key], args=args))

    def answered(self, token: str) -> None:
        self._answered(keys=[self.log_key], args=[_clock_arg(), token])

    def pause(self, seconds: float) -> None:
        self._pause(keys=[self.pause_key], args=[_clock_arg(), seconds])

    def headroom(self, q: Quota) -> int:
        args = [_clock_arg(), q.per_minute, q.minute_seconds, q.per_hour, q.hour_seconds]
        return int(self._headroom(keys=[self.log_key, self.pause_key], args=args))

    def reset(self) -> None:
        self.client.delete(self.log_key, self.pause_key)

    def calls(self) -> list[float]:
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
            conn.execute(
                "CREATE TABLE IF NOT EXISTS calls (token TEXT PRIMARY KEY, ts REAL NOT NULL)"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS calls_ts ON calls (ts)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS pause (id INTEGER PRIMARY KEY CHECK (id = 1), "
                "until REAL NOT NULL)"
            )
            self._local.conn = conn
        return conn

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        # IMMEDIATE takes the write lock first: a read-check-insert inside is atomic.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def try_acquire(self, q: Quota, token: str) -> float:
        with self._immediate() as conn:
            now = _now()
            wait = 0.0
            row = conn.execute("SELECT until FROM pause WHERE id = 1").fetchone()
            if row and row[0] > now:
                wait = row[0] - now
            conn.execute("DELETE FROM calls WHERE ts <= ?", (now - q.hour_seconds,))
            for limit, window in ((q.per_hour, q.hour_seconds), (q.per_minute, q.minute_seconds)):
                # The limit-th most recent call: once it leaves the window, one slot frees.
                row = conn.execute(
                    "SELECT ts FROM calls ORDER BY ts DESC LIMIT 1 OFFSET ?", (limit - 1,)
                ).fetchone()
                if row and row[0] + window > now:
                    wait = max(wait, row[0] + window - now)
            if wait <= 0:
                conn.execute(
                    "INSERT INTO calls (token, ts) VALUES (?, ?)", (token, now + q.pending_seconds)
                )
        return wait

    def answered(self, token: str) -> None:
        # One statement in autocommit mode: atomic on its own.
        self._conn().execute("UPDATE calls SET ts = ? WHERE token = ?", (_now(), token))

    def pause(self, seconds: float) -> None:
        with self._immediate() as conn:
            conn.execute(
                "INSERT INTO pause (id, until) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET until = max(until, excluded.until)",
                (_now() + seconds,),
            )

    def headroom(self, q: Quota) -> int:
        conn = self._conn()
        now = _now()
        row = conn.execute("SELECT until FROM pause WHERE id = 1").fetchone()
        if row and row[0] > now:
            return 0
        in_minute, in_hour = conn.execute(
            "SELECT sum(ts > ?), sum(ts > ?) FROM calls",
            (now - q.minute_seconds, now - q.hour_seconds),
        ).fetchone()
        return max(0, min(q.per_minute - (in_minute or 0), q.per_hour - (in_hour or 0)))

    def reset(self) -> None:
        with self._immediate() as conn:
            conn.execute("DELETE FROM calls")
            conn.execute("DELETE FROM pause")

    def calls(self) -> list[float]:
        return [r[0] for r in self._conn().execute("SELECT ts FROM calls ORDER BY ts")]


Backend = RedisBackend | SqliteBackend
_backends: dict[tuple, Backend] = {}
_lock = threading.Lock()


def backend() -> Backend:
    """The backend named by the current settings (re-read, so tests can switch it)."""
    redis_url = str(settings.RATE_LIMIT_REDIS_URL)
    path = str(settings.RATE_LIMIT_SQLITE_PATH)
    # Keyed by pid too: a forked child must not share its parent's connections.
    prefix = str(settings.RATE_LIMIT_KEY_PREFIX)
    key = (os.getpid(), redis_url, prefix if redis_url else path)
    with _lock:
        b = _backends.get(key)
        if b is None:
            b = RedisBackend(redis_url, prefix) if redis_url else SqliteBackend(path)
            _backends[key] = b
    return b


# --- the API ----------------------------------------------------------------------------------
_granted = threading.local()


class Grant:
    """One call's slot. Call answered() once the answer (or the failure) came."""

    def __init__(self, backend: Backend, token: str) -> None:
        self._backend = backend
        self._token = token
        self._open = True

    def answered(self) -> None:
        """Count the call from now: the API has seen it by the time we have its answer."""
        if self._open:
            self._open = False
            self._backend.answered(self._token)


def granted_here() -> int:
    """Calls granted to this thread so far (a job run tells whether a step sent anything)."""
    return getattr(_granted, "count", 0)


def try_acquire() -> tuple[float, Grant | None]:
    """Take one call from the shared quota: (0.0, grant), or (seconds to wait, None)."""
    b = backend()
    token = uuid.uuid4().hex
    wait = b.try_acquire(quota(), token)
    if wait > 0:
        return wait, None
    _granted.count = granted_here() + 1
    return 0.0, Grant(b, token)


def acquire(max_wait: float = 0.0) -> Grant:
    """Take one call, waiting at most max_wait seconds; raise QuotaExhausted otherwise."""
    deadline = time.monotonic() + max_wait
    while True:
        wait, grant = try_acquire()
        if grant is not None:
            return grant
        left = deadline - time.monotonic()
        if wait > left:
            raise QuotaExhausted(wait)
        time.sleep(wait)


@contextmanager
def call(max_wait: float = 0.0) -> Iterator[Grant]:
    """Around one API call: take its slot, count it when the block ends (answer or error)."""
    grant = acquire(max_wait)
    try:
        yield grant
    finally:
        grant.answered()


def pause_until(retry_after_seconds: float) -> None:
    """A 429 from the API: make every caller in every process wait this long."""
    if retry_after_seconds > 0:
        backend().pause(float(retry_after_seconds))


def headroom() -> int:
    """How many calls could be granted right now (0 while a 429 pause is in force).

    A snapshot for pacing work (the job dispatcher); calls granted but not answered yet are
    already taken. Taking a call still needs try_acquire.
    """
    return backend().headroom(quota())


def reset() -> None:
    """Forget every call and pause (tests and benchmarks only)."""
    backend().reset()
