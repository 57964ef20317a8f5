"""In-memory storage. One re-entrant lock guards everything (requests run in a thread pool)."""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.directory import OutsideParticipant, seeded_participants


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, millisecond precision: 2024-10-24T10:00:00.000Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def similar_name(name: str) -> str:
    """Names that differ only in separators are "similar" (customer-a ~ customer_a ~ customer.a)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def fingerprint(secret: str) -> str:
    """A stable, non-reversible label for a key (request log, rate-limit bucket)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]


@dataclass
class Tenant:
    id: str
    org: str  # fingerprint of the organization key that owns it
    name: str
    description: str | None
    company_number: str | None
    company_tax_id: str | None
    peppol_ids: list[str]
    test_mode: bool
    created_at: datetime
    updated_at: datetime
    seq: int
    is_deleted: bool = False
    # Peppol registration (SMP + business card)
    registered_peppol_id: str | None = None
    registered_at: datetime | None = None
    company_name: str | None = None
    company_address: str | None = None
    company_zip: str | None = None
    company_city: str | None = None
    company_country: str | None = None
    # /api/me's plan and credits; every DOCUMENT_SENT / DOCUMENT_RECEIVED action uses one
    # credit (the stats are "for billing purposes"), down to 0. Control: /_sandbox/tenants/…/usage.
    plan: str = "enterprise"
    credit_balance: int = 999_999_999

    @property
    def registered(self) -> bool:
        return self.registered_peppol_id is not None and not self.is_deleted

    def as_admin(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "company_number": self.company_number,
            "company_tax_id": self.company_tax_id,
            "peppol_ids": list(self.peppol_ids),
            "test_mode": self.test_mode,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "is_deleted": self.is_deleted,
        }


@dataclass
class ApiKey:
    id: str
    tenant_id: str
    name: str
    description: str | None
    key_hash: str  # the value itself is never stored: it is shown once, at creation
    created_at: datetime
    updated_at: datetime
    seq: int
    is_deleted: bool = False

    def as_admin(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "name": self.name,
            "description": self.description,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "is_deleted": self.is_deleted,
        }


@dataclass
class Document:
    id: str
    tenant_id: str
    payload: dict[str, Any]  # the validated DocumentCreate JSON (defaults filled, no nulls)
    totals: dict[str, Any]
    state: str
    direction: str
    created_at: datetime
    updated_at: datetime
    seq: int
    events: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    ubl: str | None = None
    validated_at: datetime | None = None
    sender_peppol_id: str | None = None
    receiver_peppol_id: str | None = None
    source_document_id: str | None = None  # for a received copy: the sender's document
    sent_at: datetime | None = None

    def add_event(self, event_type: str, details: dict[str, Any] | None = None) -> None:
        self.events.append(
            {
                "id": new_id("evt"),
                "event_type": event_type,
                "timestamp": iso(now_utc()),
                "details": details or {},
            }
        )


@dataclass
class Webhook:
    id: str
    tenant_id: str
    url: str
    events: list[str]
    enabled: bool
    secret: str
    created_at: datetime
    seq: int
    history: list[dict[str, Any]] = field(default_factory=list)

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "enabled": self.enabled,
            "secret": self.secret,
        }


class Store:
    """All sandbox data. Callers hold ``store.lock`` while reading or changing it."""

    def __init__(self, request_log_size: int = 10_000) -> None:
        self.lock = threading.RLock()
        self._seq = itertools.count(1)
        self.tenants: dict[str, Tenant] = {}
        # Indexes of `tenants` (reindex() rebuilds them): a create checks its name and a list
        # page slices its organization's tenants without reading all of them.
        self.tenant_by_name: dict[str, Tenant] = {}  # by similar_name(), deleted ones too
        self.tenants_of_org: dict[str, list[Tenant]] = {}  # in creation (seq) order
        self.api_keys: dict[str, ApiKey] = {}
        self.keys_by_hash: dict[str, ApiKey] = {}
        self.documents: dict[str, Document] = {}
        self.webhooks: dict[str, Webhook] = {}
        # PDF conversion tasks: tenant_id, status, data (until done), result
        self.conversions: dict[str, dict[str, Any]] = {}
        # Peppol participants served by other access points, by Peppol ID (changeable by control)
        self.participants: dict[str, OutsideParticipant] = seeded_participants()
        # (tenant_id, action, when): the usage statistics of /api/stats
        self.actions: list[tuple[str, str, datetime]] = []
        self.request_log: deque[dict[str, Any]] = deque(maxlen=request_log_size)
        self._log_seq = itertools.count(1)
        self.generation = 0  # bumped by reset: scheduled work from before a reset is dropped

    def next_seq(self) -> int:
        return next(self._seq)

    def reset(self, request_log_size: int) -> None:
        with self.lock:
            self.tenants.clear()
            self.tenant_by_name.clear()
            self.tenants_of_org.clear()
            self.api_keys.clear()
            self.keys_by_hash.clear()
            self.documents.clear()
            self.webhooks.clear()
            self.conversions.clear()
            self.participants = seeded_participants()
            self.actions.clear()
            self.request_log = deque(maxlen=request_log_size)
            self.generation += 1

    def record_action(self, tenant_id: str, action: str, moment: datetime) -> None:
        """One billed action (DOCUMENT_SENT / DOCUMENT_RECEIVED) of the tenant's stats."""
        with self.lock:
            self.actions.append((tenant_id, action, moment))
            tenant = self.tenants.get(tenant_id)
            if tenant is not None and tenant.credit_balance:
                tenant.credit_balance -= 1

    def add_tenant(self, tenant: Tenant) -> None:
        """Store a new tenant (its seq the highest so far) and index it."""
        with self.lock:
            self.tenants[tenant.id] = tenant
            self.tenant_by_name[similar_name(tenant.name)] = tenant
            self.tenants_of_org.setdefault(tenant.org, []).append(tenant)

    def rename_tenant(self, tenant: Tenant, name: str) -> None:
        with self.lock:
            if self.tenant_by_name.get(similar_name(tenant.name)) is tenant:
                del self.tenant_by_name[similar_name(tenant.name)]
            tenant.name = name
            self.tenant_by_name[similar_name(name)] = tenant

    def reindex(self) -> None:
        """Rebuild the tenant indexes from `tenants` (after a restore)."""
        with self.lock:
            ordered = sorted(self.tenants.values(), key=lambda t: t.seq)
            self.tenant_by_name = {similar_name(t.name): t for t in ordered}
            self.tenants_of_org = {}
            for tenant in ordered:
                self.tenants_of_org.setdefault(tenant.org, []).append(tenant)

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            entry["seq"] = next(self._log_seq)
            self.request_log.append(entry)

    @staticmethod
    def hash_key(value: str) -> str:
        return hashlib.sha256(value.encode("utf-8")).hexdigest()

    def tenant_for_key(self, value: str) -> tuple[Tenant, ApiKey] | None:
        """The tenant a tenant key works for, or None (unknown, revoked, tenant deleted)."""
        with self.lock:
            key = self.keys_by_hash.get(self.hash_key(value))
            if key is None or key.is_deleted:
                return None
            tenant = self.tenants.get(key.tenant_id)
            if tenant is None or tenant.is_deleted:
                return None
            return tenant, key

    def registered_tenant(self, peppol_id: str) -> Tenant | None:
        with self.lock:
            for tenant in self.tenants.values():
                if tenant.registered and tenant.registered_peppol_id == peppol_id:
                    return tenant
            return None
