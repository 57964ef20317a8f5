"""Demo tenants for `manage.py seed_demo`, created through the services (so they exist on
the configured API — the sandbox by default — with a current key each).

The two production tenants are registered on the (sandbox) Peppol network: the demo
logins `customer` and `customer2` belong to them and send each other invoices.
"""

from __future__ import annotations

import logging

from einvoice import admin as admin_api
from einvoice.errors import ApiError, Conflict
from tenants import keys, mirror, peppol
from tenants.models import Tenant

logger = logging.getLogger(__name__)

ACTOR = "command:seed_demo"

# Companies of the sandbox's KBO register (valid CBE numbers).
DEMO_TENANTS = [
    {
        "name": "dijle-software",
        "description": "Dijle Software BV",
        "company_number": "1998121608",
        "company_tax_id": "BE1998121608",
        "peppol_id": "0208:1998121608",
        "register": True,
    },
    {
        "name": "kust-logistiek",
        "description": "Kust Logistiek NV",
        "company_number": "0515848077",
        "company_tax_id": "BE0515848077",
        "peppol_id": "0208:0515848077",
        "register": True,
    },
    {
        "name": "atelier-lumiere",
        "description": "Atelier Lumière SRL",
        "company_number": "1286602456",
        "company_tax_id": "BE1286602456",
        "peppol_id": "0208:1286602456",
        "test_mode": True,
    },
]


def _adopt(name: str) -> Tenant | None:
    """The tenant exists remotely but not in this mirror (e.g. a fresh database)."""
    for remote in admin_api.iter_tenants():
        if remote.get("name") == name and not remote.get("is_deleted"):
            return mirror.mirror_tenant(admin_api.get_tenant(remote["id"]))
    return None


def _ensure_registered(tenant: Tenant) -> None:
    """Register on Peppol unless it is already (or cannot be: test mode, set by a user)."""
    if tenant.test_mode:
        logger.warning("demo tenant %s is in test mode: not registered on Peppol", tenant)
        return
    try:
        reg = peppol.refresh_peppol_status(tenant, ACTOR)
        if not reg.registered:
            peppol.register_peppol(tenant, ACTOR)
    except ApiError as e:
        # One demo tenant off the network must not cost the others their logins.
        logger.warning("demo tenant %s not registered on Peppol: %s", tenant, e)


def seed_demo_tenants() -> list[Tenant]:
    """Create the three demo tenants (two on Peppol, one in test mode) with a current key
    each. Idempotent: tenants that exist (by name) are kept, keys and registrations are
    only added where missing."""
    tenants: list[Tenant] = []
    for spec in DEMO_TENANTS:
        data = {k: v for k, v in spec.items() if k != "register"}
        tenant = Tenant.objects.filter(name=data["name"], is_deleted=False).first()
        if tenant is None:
            try:
                tenant = mirror.create_tenant(data, ACTOR)
            except Conflict:
                tenant = _adopt(data["name"])
                if tenant is None:
                    raise
        if tenant.current_key() is None:
            keys.create_key(tenant, "demo", "Demo key (seed_demo)", ACTOR)
        if spec.get("register"):
            _ensure_registered(tenant)
        tenants.append(tenant)
    return tenants
