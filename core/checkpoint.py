"""Signed checkpoints of the audit chain's head, kept outside the database.

After every append a line {"sequence", "hash", "at", "signature"} goes to the log and to
AUDIT_CHECKPOINT_FILE. The signature is an HMAC under AUDIT_CHAIN_KEY, so a checkpoint cannot
be forged without that secret. `verify_chain` compares the table with them: rows removed from
the tail (with the head moved back) or a chain rewritten from some row on no longer match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from core.models import chain_key

logger = logging.getLogger("core.audit")


@dataclass(frozen=True)
class Checkpoint:
    sequence: int
    hash: str
    at: str
    signature: str

    @property
    def is_authentic(self) -> bool:
        return hmac.compare_digest(self.signature, sign(self.sequence, self.hash, self.at))

    def as_dict(self) -> dict:
        return {
            "sequence": self.sequence,
            "hash": self.hash,
            "at": self.at,
            "signature": self.signature,
        }


def sign(sequence: int, head_hash: str, at: str) -> str:
    message = f"audit-checkpoint:{sequence}:{head_hash}:{at}".encode()
    return hmac.new(chain_key(), message, hashlib.sha256).hexdigest()


def make(sequence: int, head_hash: str) -> Checkpoint:
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return Checkpoint(sequence, head_hash, at, sign(sequence, head_hash, at))


def write(sequence: int, head_hash: str) -> None:
    """Log the new head and append it to the checkpoint file (called once the append commits).
    A file that cannot be written is logged, never fatal: the log line still carries it."""
    point = make(sequence, head_hash)
    line = json.dumps(point.as_dict(), sort_keys=True)
    logger.info("audit checkpoint %s", line)
    path = settings.AUDIT_CHECKPOINT_FILE
    if not path:
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One short write in append mode: lines from concurrent processes do not interleave.
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError as e:
        logger.error("audit checkpoint file %s not written: %s", path, e)


def parse(lines: Iterable[str]) -> Iterator[Checkpoint | None]:
    """Checkpoints from JSON lines (or one JSON object); None for a line that is not one."""
    for raw in lines:
        raw = raw.strip()
        if not raw:
            continue
        try:
            data = json.loads(raw)
            yield Checkpoint(
                int(data["sequence"]), str(data["hash"]), str(data["at"]), str(data["signature"])
            )
        except (ValueError, KeyError, TypeError):
            yield None


def read(path: str | Path | None = None) -> list[Checkpoint | None]:
    path = path or settings.AUDIT_CHECKPOINT_FILE
    if not path or not Path(path).exists():
        return []
    with open(path, encoding="utf-8") as f:
        return list(parse(f))
