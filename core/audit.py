"""Writing and checking the audit log.

`record()` appends one entry for every admin operation, by a person (user + request) or by
a job (actor_label like "job:onboarding#12"). `audited()` wraps an attempted operation: it
records the outcome (success, or the error) and re-raises. Appends are serialised by locking
the chain head, so two writers cannot both chain onto the same previous entry.
`verify_chain()` recomputes every hash and reports the first broken link.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from core import checkpoint, texts
from core.logfilter import mask_secrets
from core.models import GENESIS_HASH, AuditEntry, AuditHead, Outcome

# Who acted: a User (staff, a customer), or a label like "job:rotation#4" for a job.
Actor = Any

# Field names whose values are never written to the log, whatever the caller passes.
SECRET_FIELDS = {"key", "value", "api_key", "encrypted_value", "password", "token", "secret"}
MAX_TEXT = 2000


def _clean_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, list | tuple):
        return [_clean_value(v) for v in value]
    return mask_secrets(str(value))[:MAX_TEXT]


def _clean_changes(changes: dict | None) -> dict:
    """{"field": (before, after)} → {"field": [before, after]}, secrets removed."""
    cleaned: dict[str, Any] = {}
    for field, pair in (changes or {}).items():
        name = str(field)
        if name.lower() in SECRET_FIELDS or "password" in name.lower():
            cleaned[name] = ["[redacted]", "[redacted]"]
            continue
        if isinstance(pair, list | tuple) and len(pair) == 2:
            cleaned[name] = [_clean_value(pair[0]), _clean_value(pair[1])]
        else:
            cleaned[name] = [None, _clean_value(pair)]
    return cleaned


def _client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: a proxy's X-Forwarded-For is set by the reverse proxy config
    # (e.g. gunicorn --forwarded-allow-ips), not trusted from the client here.
    raw = request.META.get("REMOTE_ADDR") or None
    if not raw:
        return None
    try:
        return models.GenericIPAddressField().to_python(raw)
    except ValidationError:
        return None


def diff(before: dict, after: dict, fields: Iterable[str] | None = None) -> dict:
    """The fields that changed, as {"field": [before, after]}."""
    names = fields if fields is not None else sorted(set(before) | set(after))
    return {f: [before.get(f), after.get(f)] for f in names if before.get(f) != after.get(f)}


def record(
    action: str,
    *,
    tenant=None,
    target: str = "",
    user=None,
    request: HttpRequest | None = None,
    actor_label: str | None = None,
    outcome: str = Outcome.SUCCESS,
    error: str | BaseException = "",
    changes: dict | None = None,
    actor: Actor = None,
) -> AuditEntry:
    """Append one entry to the chain and return it.

    `actor` is either of `user` and `actor_label`, for callers that take both (services
    run by staff and by jobs). A Coded `error` (or an exception raised with one) is kept
    as its code and parameters too, and shown in each reader's language."""

    if isinstance(actor, str):
        actor_label = actor
    elif actor is not None:
        user = actor
    if user is None and request is not None and getattr(request, "user", None) is not None:
        if request.user.is_authenticated:
            user = request.user
    if actor_label:
        name = actor_label
    elif user is not None:
        name = user.get_username()
    else:
        name = "system"
    error = texts.of_error(error or "")
    entry = AuditEntry(
        actor=name[:150],
        user=user,
        action=action[:64],
        tenant=tenant,
        target=mask_secrets(str(target or (tenant.name if tenant else "")))[:200],
        outcome=outcome,
        error=mask_secrets(str(error or ""))[:MAX_TEXT],
        changes=_clean_changes(changes),
    )
    if isinstance(error, texts.Coded):
        entry.error_code = error.code
        entry.error_params = {str(k): _clean_value(v) for k, v in error.params.items()}
    if request is not None:
        entry.ip = _client_ip(request)
        entry.user_agent = request.META.get("HTTP_USER_AGENT", "")[:300]
    # No savepoint inside a caller's transaction (two round trips saved): an append that
    # fails leaves that transaction to roll back as a whole, as it must.
    with transaction.atomic(savepoint=False):
        # The lock that serialises appends (PostgreSQL); SQLite's IMMEDIATE transactions
        # already let one writer in at a time.
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            head, _created = AuditHead.objects.select_for_update().get_or_create(pk=1)
        entry.sequence = head.sequence + 1
        entry.prev_hash = head.hash
        entry.created_at = timezone.now()
        entry.hash = entry.compute_hash()
        entry.save(force_insert=True)
        AuditHead.objects.filter(pk=1).update(sequence=entry.sequence, hash=entry.hash)
        transaction.on_commit(partial(checkpoint.write, entry.sequence, entry.hash))
    return entry


@dataclass
class Attempt:
    """An operation being tried, recorded once with its outcome (see `audited`).

    The block may fill in what it learns (`tenant`, `target`, `changes`) before the success
    is recorded, or record it early with `succeed()` (e.g. inside the transaction that
    also records a job's progress) or fail it with its own text (`fail()`)."""

    action: str
    actor: Actor = None  # None: the request's user, else "system"
    request: HttpRequest | None = None
    tenant: Any = None
    target: str = ""
    changes: dict | None = None
    recorded: bool = dataclass_field(default=False, init=False)

    def _record(self, outcome: str, error: str, **fields: Any) -> AuditEntry:
        for name, value in fields.items():
            setattr(self, name, value)
        self.recorded = True
        return record(
            self.action,
            actor=self.actor,
            tenant=self.tenant,
            target=self.target,
            request=self.request,
            outcome=outcome,
            error=error,
            changes=self.changes,
        )

    def succeed(self, **fields: Any) -> AuditEntry:
        return self._record(Outcome.SUCCESS, "", **fields)

    def fail(self, error: BaseException | str, **fields: Any) -> AuditEntry:
        return self._record(Outcome.ERROR, texts.of_error(error), **fields)


@contextmanager
def audited(
    action: str,
    actor: Actor = None,
    *,
    errors: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    **fields: Any,
) -> Iterator[Attempt]:
    """Record the block as one attempted operation: success when it ends, the error when
    it raises one of `errors` (re-raised). Other exceptions pass unrecorded."""
    attempt = Attempt(action, actor, **fields)
    try:
        yield attempt
    except errors as e:
        if not attempt.recorded:
            attempt.fail(e)
        raise
    if not attempt.recorded:
        attempt.succeed()


@dataclass
class ChainReport:
    checked: int
    broken_at: int | None = None  # sequence of the first bad entry
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _entry_problem(
    entry: AuditEntry, expected: int, prev_hash: str, seen_keyed: bool
) -> tuple[int, str] | None:
    """(sequence the chain breaks at, why), or None for an entry that links and hashes."""
    if entry.sequence != expected:
        return expected, f"entry #{expected} is missing (next is #{entry.sequence})"
    if entry.prev_hash != prev_hash:
        return entry.sequence, "prev_hash does not match the previous entry's hash"
    if seen_keyed and not entry.keyed:
        return (
            entry.sequence,
            "an unkeyed entry follows keyed ones (the chain was re-hashed without the key)",
        )
    if entry.compute_hash() != entry.hash:
        return entry.sequence, "the entry was changed after it was written"
    return None


def _checkpoint_problem(points: list) -> tuple[int, str] | None:
    for line, point in enumerate(points, start=1):
        if point is None or not point.is_authentic:
            sequence = point.sequence if point is not None else 0
            return sequence, f"checkpoint line {line} is not signed with this portal's key"
    return None


def verify_chain(chunk_size: int = 2000, checkpoints: list | None = None) -> ChainReport:
    """Walk the chain in order; stop at the first entry that does not link or hash. Then hold
    the table against the signed checkpoints (by default AUDIT_CHECKPOINT_FILE's): an entry
    whose hash differs from its checkpoint, or checkpoints past the table's end, are reported."""
    points = checkpoint.read() if checkpoints is None else checkpoints
    forged = _checkpoint_problem(points)
    if forged:
        return ChainReport(0, *forged)
    expected_hashes = {p.sequence: p.hash for p in points}
    prev_hash, expected, checked, seen_keyed = GENESIS_HASH, 1, 0, False
    first_mismatch = None
    for entry in AuditEntry.objects.order_by("sequence").iterator(chunk_size=chunk_size):
        problem = _entry_problem(entry, expected, prev_hash, seen_keyed)
        if problem:
            return ChainReport(checked, *problem)
        want = expected_hashes.get(entry.sequence)
        if first_mismatch is None and want is not None and want != entry.hash:
            first_mismatch = entry.sequence
        seen_keyed = seen_keyed or entry.keyed
        prev_hash, expected, checked = entry.hash, expected + 1, checked + 1
    if first_mismatch is not None:
        return ChainReport(
            first_mismatch - 1,
            first_mismatch,
            "the entry differs from the signed checkpoint written when it was appended",
        )
    last_checkpoint = max(expected_hashes, default=0)
    if last_checkpoint > checked:
        return ChainReport(
            checked,
            checked + 1,
            f"entries #{checked + 1}..#{last_checkpoint} were removed (a signed checkpoint "
            "holds them)",
        )
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.sequence != checked or head.hash != prev_hash):
        if head.sequence > checked:
            return ChainReport(
                checked, checked + 1, f"entries #{checked + 1}..#{head.sequence} were removed"
            )
        return ChainReport(checked, head.sequence, "the chain head does not match the last entry")
    return ChainReport(checked)


def head_checkpoint() -> checkpoint.Checkpoint:
    """A signed checkpoint of the chain's head now, for staff to download and keep."""
    head = AuditHead.objects.filter(pk=1).first()
    if head is None:
        return checkpoint.make(0, GENESIS_HASH)
    return checkpoint.make(head.sequence, head.hash)
