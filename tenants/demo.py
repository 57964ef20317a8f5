"""Demo tenants for `manage.py seed_demo`, created through the services (so they exist on
the configured API — the sandbox by default — with a current key each)."""

from __future__ import annotations

from tenants import admin_api, services
from tenants.models import Tenant

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
            return services.mirror_tenant(admin_api.get_tenant(remote["id"]))
    return None


def seed_demo_tenants() -> list[Tenant]:
    """Create the three demo tenants (one on Peppol, one plain, one in test mode) with a
    current key each. Idempotent: tenants that exist (by name) are kept as they are."""
    tenants: list[Tenant] = []
    for spec in DEMO_TENANTS:
        data = {k: v for k, v in spec.items() if k != "register"}
        tenant = Tenant.objects.filter(name=data["name"], is_deleted=False).first()
        if tenant is None:
            try:
                tenant = services.create_tenant(data, ACTOR)
            except admin_api.Conflict:
                tenant = _adopt(data["name"])
                if tenant is None:
                    raise
        if tenant.current_key() is None:
            services.create_key(tenant, "demo", "Demo key (seed_demo)", ACTOR)
        if spec.get("register"):
            reg = services.refresh_peppol_status(tenant, ACTOR)
            if not reg.registered:
                services.register_peppol(tenant, ACTOR)
        tenants.append(tenant)
    return tenants
