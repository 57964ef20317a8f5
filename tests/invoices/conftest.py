"""Fixtures of the invoice screens: sandbox tenants mirrored into the portal.

Carol (tenant "acme") sells as Bakkerij Van Damme BV; Bob (tenant "globex") is Dijle Software
BV. Both are registered on the sandbox's Peppol network, so A → B deliveries work. Atelier
Lumière SRL has a valid VAT number but is not on Peppol: sending to it fails.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from tenants.models import ApiKey, Tenant

SELLER = {
    "company_name": "Bakkerij Van Damme BV",
    "company_number": "0706165839",
    "company_tax_id": "BE0706165839",
    "peppol_id": "0208:0706165839",
}
BUYER = {
    "company_name": "Dijle Software BV",
    "company_number": "1998121608",
    "company_tax_id": "BE1998121608",
    "peppol_id": "0208:1998121608",
}
NOT_ON_PEPPOL = {"company_name": "Atelier Lumière SRL", "company_tax_id": "BE1286602456"}


@dataclass
class SandboxTenant:
    tenant: Tenant
    remote: dict[str, Any]
    key: str


def mirror(tenant: Tenant, remote: dict[str, Any], key_value: str, **fields: Any) -> ApiKey:
    """The portal's rows for a sandbox tenant: the tenant mirror and its current, held key."""
    tenant.remote_id = remote["id"]
    tenant.company_number = remote.get("company_number") or ""
    tenant.company_tax_id = remote.get("company_tax_id") or ""
    tenant.peppol_id = (remote.get("peppol_ids") or [""])[0]
    for name, value in fields.items():
        setattr(tenant, name, value)
    tenant.save()
    key = ApiKey(
        tenant=tenant,
        remote_id=f"key-{remote['id']}-{ApiKey.objects.count()}",
        name=f"{tenant.name}-portal",
        is_current=True,
    )
    key.set_value(key_value)
    key.save()
    return key


def on_sandbox(sandbox, tenant: Tenant, company: dict[str, str], *, register: bool = True):
    remote, key = sandbox.create_tenant_with_key(
        f"{tenant.name}-{company['company_number']}",
        company_number=company["company_number"],
        company_tax_id=company["company_tax_id"],
        peppol_ids=[company["peppol_id"]],
    )
    if register:
        sandbox.register(remote["id"], company["peppol_id"])
    mirror(tenant, remote, key, description=company["company_name"])
    return SandboxTenant(tenant=tenant, remote=remote, key=key)


@pytest.fixture
def seller(portal_on_sandbox, acme, carol) -> SandboxTenant:
    """Carol's tenant on the sandbox, registered on Peppol."""
    return on_sandbox(portal_on_sandbox, acme, SELLER)


@pytest.fixture
def buyer(portal_on_sandbox, globex, bob) -> SandboxTenant:
    """Bob's tenant on the sandbox, registered on Peppol."""
    return on_sandbox(portal_on_sandbox, globex, BUYER)


@pytest.fixture
def portal_url(live_server, settings):
    """The live portal, as the sandbox's webhooks reach it (PORTAL_BASE_URL).

    With SQLite in memory, pytest-django's live server shares the test's one connection among
    its request threads; two webhooks handled at once would interleave their transactions on
    it. Requests are therefore served one at a time here (a file or PostgreSQL test database
    does not need this).
    """
    settings.PORTAL_BASE_URL = live_server.url
    httpd = live_server.thread.httpd
    app = httpd.get_app()
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            return app(environ, start_response)

    httpd.set_app(one_at_a_time)
    yield live_server.url
    httpd.set_app(app)


def header(**changes: Any) -> dict[str, str]:
    """A valid editor header for an invoice from the seller to the buyer."""
    data = {
        "invoice_id": "INV-2025-001",
        "invoice_date": date.today().isoformat(),
        "due_date": "",
        "currency": "EUR",
        "purchase_order": "PO-77",
        "vendor_name": SELLER["company_name"],
        "vendor_tax_id": SELLER["company_tax_id"],
        "vendor_company_id": SELLER["company_number"],
        "vendor_address": "Kerkstraat 12, 9000 Gent, Belgium",
        "vendor_email": "factuur@bakkerij.example",
        "customer_name": BUYER["company_name"],
        "customer_tax_id": BUYER["company_tax_id"],
        "customer_address": "Vaartkom 31, 3000 Leuven, Belgium",
        "customer_email": "ap@dijle.example",
        "customer_peppol_id": "",
        "payment_term": "Net 30 days",
        "iban": "BE68539007547034",
        "bic": "GEBABEBB",
        "payment_reference": "",
        "note": "",
    }
    data.update(changes)
    return data


def editor_post(
    lines: list[dict[str, str]],
    adjustments: list[dict[str, str]] | None = None,
    action: str = "validate",
    **changes: Any,
) -> dict[str, str]:
    """The POST body of the editor: header, both formsets with their management forms."""
    data = header(**changes)
    data["action"] = action
    adjustments = adjustments or []
    for prefix, rows in (("lines", lines), ("adjustments", adjustments)):
        data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
        data[f"{prefix}-INITIAL_FORMS"] = "0"
        data[f"{prefix}-MIN_NUM_FORMS"] = "0"
        data[f"{prefix}-MAX_NUM_FORMS"] = "1000"
        for i, row in enumerate(rows):
            for name, value in row.items():
                data[f"{prefix}-{i}-{name}"] = value
    return data


def line(
    description: str = "Sourdough bread",
    quantity: str = "10",
    price: str = "4.50",
    rate: str = "6",
    unit: str = "C62",
) -> dict[str, str]:
    return {
        "description": description,
        "quantity": quantity,
        "unit": unit,
        "unit_price": price,
        "tax_rate": rate,
    }
