"""Checks of tenant input against the local mirror, before anything is sent.

The mirror holds every tenant of this reseller (deleted ones too: e-invoice.be keeps their
names taken), so a name or Peppol ID it already knows is known to fail remotely, and a
company number it already knows is probably a mistake.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import texts
from tenants.identifiers import name_key
from tenants.models import PeppolRegistration, Tenant


def _similar_regex(name: str) -> str:
    # The names with the same name_key: its letters, separators anywhere in between.
    return "^[-_.]*" + "".join(f"{re.escape(c)}[-_.]*" for c in name_key(name)) + "$"


def suggest_free_name(name: str) -> str:
    """`acme` → `acme-2` (or the next number not already in the mirror)."""
    base = re.sub(r"-\d+$", "", name)[:90] or "tenant"
    taken = {
        name_key(n)
        for n in Tenant.objects.filter(name__startswith=base[:3]).values_list("name", flat=True)
    }
    for n in range(2, 1000):
        candidate = f"{base}-{n}"
        if name_key(candidate) not in taken:
            return candidate
    return f"{base}-{timezone.now():%Y%m%d%H%M%S}"


def name_taken(name: str, exclude: Tenant | None = None) -> str:
    """The reason `name` cannot be used (a tenant of the mirror has it), or ""."""
    if not name_key(name):
        return ""
    others = Tenant.objects.filter(name__iregex=_similar_regex(name))
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    other = others.order_by("is_deleted", "name").first()
    if other is None:
        return ""
    if other.is_deleted:
        text = _(
            "The name %(name)s is taken by the deleted tenant %(other)s: names stay taken "
            "after a delete. Try %(suggestion)s."
        )
    else:
        text = _(
            "The name %(name)s is taken by the tenant %(other)s (names differing only in "
            "hyphens or dots count as the same). Try %(suggestion)s."
        )
    return text % {"name": name, "other": other.name, "suggestion": suggest_free_name(name)}


def registered_peppol_id(tenant: Tenant) -> str:
    """The Peppol ID the tenant is registered under, as last seen; "" when not registered."""
    reg = PeppolRegistration.objects.filter(tenant=tenant, registered=True).first()
    return (reg.peppol_id or tenant.peppol_id) if reg else ""


def peppol_owner(peppol_id: str, exclude: Tenant | None = None) -> Tenant | None:
    """Another tenant of this reseller registered on Peppol under `peppol_id`."""
    regs = PeppolRegistration.objects.filter(registered=True).filter(
        Q(peppol_id=peppol_id) | Q(peppol_id="", tenant__peppol_id=peppol_id)
    )
    if exclude is not None:
        regs = regs.exclude(tenant=exclude)
    reg = regs.select_related("tenant").first()
    return reg.tenant if reg else None


def duplicate_warnings(data: dict, exclude: Tenant | None = None) -> list[str]:
    """Other active tenants with the same company number, VAT number or Peppol ID: one
    warning per other tenant."""
    labels = {
        "company_number": _("company number"),
        "company_tax_id": _("VAT number"),
        "peppol_id": _("Peppol ID"),
    }
    same: dict[str, list[str]] = {}
    for field, label in labels.items():
        value = str(data.get(field) or "")
        if not value:
            continue
        others = Tenant.objects.active().filter(**{field: value})
        if exclude is not None:
            others = others.exclude(pk=exclude.pk)
        for name in others.order_by("name").values_list("name", flat=True)[:3]:
            same.setdefault(name, []).append(f"{label} {value}")
    return [
        _(
            "The tenant %(other)s has the same %(fields)s. Check that this is not the same "
            "customer twice."
        )
        % {"other": other, "fields": ", ".join(fields)}
        for other, fields in same.items()
    ]


# --- Peppol preflight -------------------------------------------------------------------------
class Verdict:
    """What the preflight found about a Peppol ID (the CSV's Peppol column, the job, the page)."""

    FREE = "free"
    OURS = "ours"  # registered here, under one of our tenants
    ELSEWHERE = "elsewhere"  # registered with another access point
    UNAVAILABLE = "unavailable"  # the lookup could not be made: nothing is guessed
    NONE = "none"  # no Peppol ID to check


@dataclass
class PeppolVerdict:
    kind: str
    peppol_id: str
    tenant: Tenant | None = None
    holder: dict[str, Any] = dataclass_field(default_factory=dict)
    reason: str = ""

    @property
    def free(self) -> bool:
        return self.kind == Verdict.FREE

    @property
    def held_elsewhere(self) -> bool:
        return self.kind == Verdict.ELSEWHERE

    @property
    def text(self) -> str:
        """One line for staff: the verdict with what it rests on."""
        return verdict_text(self._fields())

    def _fields(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "peppol_id": self.peppol_id,
            "tenant_id": self.tenant.pk if self.tenant else None,
            "tenant_name": self.tenant.name if self.tenant else "",
            "holder": self.holder,
            "reason": self.reason,
        }

    def as_row(self) -> dict[str, Any]:
        """What a CSV row keeps (JSON): the verdict and the holder, the tenant by id; its
        `text` as worded then (verdict_text words it again for each reader)."""
        fields = self._fields()
        return {**fields, "text": verdict_text(fields)}


def verdict_text(row: Mapping[str, Any]) -> str:
    """A verdict's line (as_row's fields) in the active language; a row kept without them
    shows its text as it was worded."""
    kind = row.get("kind")
    if kind == Verdict.FREE:
        return texts.Coded(FREE, id=row.get("peppol_id"))
    if kind == Verdict.OURS and row.get("tenant_name"):
        return texts.Coded(OURS, name=row["tenant_name"])
    if kind == Verdict.ELSEWHERE:
        return holder_text(row.get("holder") or {})
    if kind == Verdict.UNAVAILABLE:
        return texts.Coded(UNAVAILABLE, reason=row.get("reason"))
    if kind in (Verdict.NONE, Verdict.OURS):
        return texts.Coded(NO_ID)
    return str(row.get("text") or "")


# The verdicts' lines as codes (core.texts): a registration's state reason is worded for each
# reader, whichever worker or colleague found it.
FREE = texts.define(
    "peppol.free", gettext_lazy("Free: %(id)s is not registered on the Peppol network.")
)
OURS = texts.define("peppol.ours", gettext_lazy("Registered here, under our tenant %(name)s."))
UNAVAILABLE = texts.define(
    "peppol.unavailable", gettext_lazy("Lookup unavailable (%(reason)s): not checked.")
)
NO_ID = texts.define("peppol.no_id", gettext_lazy("No Peppol ID."))


def document_type_names(types: list[str]) -> list[str]:
    """`urn:…:Invoice-2::Invoice##urn:…` → `Invoice`: what a person reads."""
    names = []
    for t in types or []:
        match = re.search(r"::([A-Za-z]+)##", t)
        name = match.group(1) if match else t
        if name not in names:
            names.append(name)
    return names


def _held_by(holder: Mapping[str, Any]) -> str:
    types = ", ".join(document_type_names(holder.get("document_types") or [])) or "—"
    return _(
        "Held by %(name)s with the access point %(access_point)s (SMP %(smp)s), registered "
        "since %(since)s; receives %(types)s."
    ) % {
        "name": holder.get("name") or _("an unnamed participant"),
        "access_point": holder.get("access_point") or _("unknown"),
        "smp": holder.get("smp_host") or _("unknown"),
        "since": holder.get("registration_date") or _("an unknown date"),
        "types": types,
    }


# Its parameters are the holder's own fields: the defaults ("unknown") are worded when read.
HELD_BY = texts.define("peppol.held_by", _held_by)
HOLDER_FIELDS = ("name", "access_point", "smp_host", "registration_date", "document_types")


def holder_text(holder: Mapping[str, Any]) -> str:
    """Who holds a Peppol ID, in the active language; a Coded text, so that the audit log
    keeps a registration refused for it as a code, worded for each reader."""
    return texts.Coded(HELD_BY, **{f: holder[f] for f in HOLDER_FIELDS if holder.get(f)})


def held_elsewhere_advice(holder: dict[str, Any], peppol_id: str) -> str:
    """What the customer asks their current provider, in their terms."""
    provider = holder.get("access_point") or _("your current Peppol provider")
    return _(
        "Your Peppol ID %(id)s is registered with another provider, %(provider)s (since "
        "%(since)s). A Peppol ID can be with one provider at a time, so invoices sent to you "
        "now go there. Ask %(provider)s either to deregister %(id)s from their service, or, if "
        "they support moving to another provider, for a migration key for %(id)s. As soon as "
        "the ID is free we register it here."
    ) % {
        "id": peppol_id,
        "provider": provider,
        "since": holder.get("registration_date") or _("an unknown date"),
    }


def lookup_tenant() -> Tenant | None:
    """The tenant whose key the lookups use: PEPPOL_LOOKUP_TENANT, else the oldest active
    tenant whose current key the portal holds (the tenant API needs a tenant key)."""
    from django.conf import settings

    from tenants.models import ApiKey

    keys = ApiKey.objects.current().exclude(encrypted_value="").filter(tenant__is_deleted=False)
    name = str(settings.PEPPOL_LOOKUP_TENANT or "").strip()
    if name:
        keys = keys.filter(tenant__name=name)
    key = keys.select_related("tenant").order_by("tenant__created_at", "tenant__pk").first()
    if key is None:
        return None
    from einvoice.tenant import remember_current_key

    # Its current key, just read: the lookup calls with it instead of reading it again.
    remember_current_key(key.tenant, key)
    return key.tenant


def lookup_participant(peppol_id: str):
    """The network's answer about `peppol_id` (einvoice.tenant.ParticipantLookup), with the
    lookup tenant's key. Raises ApiError (or KeyUnavailable when no key is held)."""
    from django.conf import settings

    from einvoice.errors import KeyUnavailable
    from einvoice.tenant import TenantApi

    tenant = lookup_tenant()
    if tenant is None:
        if settings.PEPPOL_LOOKUP_TENANT:
            raise KeyUnavailable(
                _("the portal holds no key of the lookup tenant %(name)s")
                % {"name": settings.PEPPOL_LOOKUP_TENANT}
            )
        raise KeyUnavailable(_("the portal holds no tenant key to look IDs up with"))
    return TenantApi(tenant).lookup_participant(peppol_id)


def preflight(peppol_id: str, exclude: Tenant | None = None) -> PeppolVerdict:
    """Who holds `peppol_id`: nobody (free), one of our tenants (from the mirror, no call),
    another access point (from the network lookup), or "unavailable" when the lookup failed."""
    from einvoice.errors import ApiError

    if not peppol_id:
        return PeppolVerdict(Verdict.NONE, "")
    owner = peppol_owner(peppol_id, exclude=exclude)
    if owner is not None:
        return PeppolVerdict(Verdict.OURS, peppol_id, tenant=owner)
    try:
        found = lookup_participant(peppol_id)
    except ApiError as e:
        return PeppolVerdict(Verdict.UNAVAILABLE, peppol_id, reason=str(e))
    if not found.found:
        return PeppolVerdict(Verdict.FREE, peppol_id)
    holder = {**found.as_dict(), "checked_at": timezone.now().isoformat()}
    return PeppolVerdict(Verdict.ELSEWHERE, peppol_id, holder=holder)
