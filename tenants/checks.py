"""Checks of tenant input against the local mirror, before anything is sent.

The mirror holds every tenant of this reseller (deleted ones too: e-invoice.be keeps their
names taken), so a name or Peppol ID it already knows is known to fail remotely, and a
company number it already knows is probably a mistake.
"""

from __future__ import annotations

import re

from django.db.models import Q
from django.utils.translation import gettext as _

from tenants.models import PeppolRegistration, Tenant


def _similar_regex(name: str) -> str:
    # e-invoice.be treats names equal after dropping separators as the same name.
    letters = re.sub(r"[^a-z0-9]", "", name.lower())
    return "^[-_.]*" + "".join(f"{re.escape(c)}[-_.]*" for c in letters) + "$"


def name_taken(name: str, exclude: Tenant | None = None) -> str:
    """The reason `name` cannot be used (a tenant of the mirror has it), or ""."""
    from tenants.services import suggest_free_name

    if not re.sub(r"[^a-z0-9]", "", name.lower()):
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
