"""Writing and checking the audit log.

`record()` appends one entry for every admin operation, by a person (user + request) or by
a job (actor_label like "job:onboarding#12"). Appends are serialised by locking the chain
head, so two writers cannot both chain onto the same previous entry. `verify_chain()`
recomputes every hash and reports the first broken link.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from tenants.logfilter import mask_secrets
from tenants.models.audit import GENESIS_HASH, AuditEntry, AuditHead, Outcome

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
    error: str = "",
    changes: dict | None = None,
) -> AuditEntry:
    """Append one entry to the chain and return it."""
    if user is None and request is not None and getattr(request, "user", None) is not None:
        if request.user.is_authenticated:
            user = request.user
    if actor_label:
        actor = actor_label
    elif user is not None:
        actor = user.get_username()
    else:
        actor = "system"
    entry = AuditEntry(
        actor=actor[:150],
        user=user,
        action=action[:64],
        tenant=tenant,
        target=mask_secrets(str(target or (tenant.name if tenant else "")))[:200],
        outcome=outcome,
        error=mask_secrets(str(error or ""))[:MAX_TEXT],
        changes=_clean_changes(changes),
    )
    if request is not None:
        entry.ip = _client_ip(request)
        entry.user_agent = request.META.get("HTTP_USER_AGENT", "")[:300]
    with transaction.atomic():
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
    return entry


@dataclass
class ChainReport:
    checked: int
    broken_at: int | None = None  # sequence of the first bad entry
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(chunk_size: int = 2000) -> ChainReport:
    """Walk the chain in order; stop at the first entry that does not link or hash."""
    prev_hash = GENESIS_HASH
    expected = 1
    checked = 0
    for entry in AuditEntry.objects.order_by("sequence").iterator(chunk_size=chunk_size):
        if entry.sequence != expected:
            return ChainReport(
                checked, expected, f"entry #{expected} is missing (next is #{entry.sequence})"
            )
        if entry.prev_hash != prev_hash:
            return ChainReport(
                checked, entry.sequence, "prev_hash does not match the previous entry's hash"
            )
        if entry.compute_hash() != entry.hash:
            return ChainReport(
                checked, entry.sequence, "the entry was changed after it was written"
            )
        prev_hash = entry.hash
        expected += 1
        checked += 1
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.sequence != checked or head.hash != prev_hash):
        if head.sequence > checked:
            return ChainReport(
                checked, checked + 1, f"entries #{checked + 1}..#{head.sequence} were removed"
            )
        return ChainReport(checked, head.sequence, "the chain head does not match the last entry")
    return ChainReport(checked)
