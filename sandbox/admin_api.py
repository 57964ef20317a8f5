"""The reseller Admin API (admin-api-guide.txt): tenants, API keys, Peppol registration."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from sandbox.core import Sandbox, get_sandbox, require_org
from sandbox.directory import KBO, parse_peppol_id
from sandbox.errors import ApiError, field_error
from sandbox.schemas import (
    ApiKeyCreate,
    ApiKeyUpdate,
    BusinessCardUpdate,
    PeppolRegister,
    TenantCreate,
    TenantUpdate,
)
from sandbox.state import ApiKey, Store, Tenant, iso, new_id, now_utc, similar_name

router = APIRouter(prefix="/api/admin")

Org = Annotated[str, Depends(require_org)]
SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]
# The guide's paging of the tenant and key lists.
Skip = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=1000)]

TENANT_NOT_FOUND = "Tenant not found"
KEY_NOT_FOUND = "API key not found"


def _tenant(store: Store, org: str, tenant_id: str, *, allow_deleted: bool = False) -> Tenant:
    tenant = store.tenants.get(tenant_id)
    if tenant is None or tenant.org != org or (tenant.is_deleted and not allow_deleted):
        raise ApiError(404, TENANT_NOT_FOUND)
    return tenant


def _listed(key: str, items: Iterable[Tenant | ApiKey], skip: int, limit: int) -> dict[str, Any]:
    """The skip/limit slice of `items` in creation order, with the total before slicing."""
    ordered = sorted(items, key=lambda item: item.seq)
    return {key: [item.as_admin() for item in ordered[skip : skip + limit]], "total": len(ordered)}


def _check_name_free(store: Store, name: str, exclude: str | None = None) -> None:
    # Names are unique across the whole service, deleted tenants included (their data is kept).
    other = store.tenant_by_name.get(similar_name(name))
    if other is not None and other.id != exclude:
        raise ApiError(409, "A tenant with similar name already exists")


def _check_peppol_ids(sandbox: Sandbox, peppol_ids: list[str] | None) -> None:
    # The guide: "Every tenant must have exactly one associated Peppol ID", yet peppol_ids is
    # only "recommended" on create; the schema already refuses more than one.
    if sandbox.config.peppol_ids == "exactly_one" and len(peppol_ids or []) != 1:
        raise field_error(
            ["body", "peppol_ids"], "Every tenant must have exactly one associated Peppol ID"
        )


def _change_test_mode(
    sandbox: Sandbox, tenant: Tenant, wanted: bool, *, apply: bool = True
) -> None:
    """PUT test_mode: how a tenant leaves (or enters) test mode is not in the guide."""
    mode = sandbox.config.test_mode_exit
    if wanted == tenant.test_mode or mode == "ignore":
        return
    if mode == "refuse":
        raise ApiError(
            400, "test_mode cannot be changed through the Admin API; contact e-invoice.be support"
        )
    if apply:
        tenant.test_mode = wanted


# --- Tenants ---------------------------------------------------------------------------------


@router.get("/tenants")
def list_tenants(
    org: Org,
    sandbox: SandboxDep,
    skip: Skip = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    with sandbox.store.lock:
        # Already in creation order: a page costs its size, not the number of tenants.
        mine = sandbox.store.tenants_of_org.get(org, [])
        return {
            "tenants": [t.as_admin() for t in mine[skip : skip + limit]],
            "total": len(mine),
        }


@router.post("/tenants", status_code=201)
def create_tenant(body: TenantCreate, org: Org, sandbox: SandboxDep) -> dict[str, Any]:
    store = sandbox.store
    _check_peppol_ids(sandbox, body.peppol_ids)
    test_mode = sandbox.config.test_mode_default if body.test_mode is None else body.test_mode
    with store.lock:
        _check_name_free(store, body.name)
        moment = now_utc()
        tenant = Tenant(
            id=new_id("tenant"),
            org=org,
            name=body.name,
            description=body.description,
            company_number=body.company_number,
            company_tax_id=body.company_tax_id,
            peppol_ids=list(body.peppol_ids or []),
            test_mode=test_mode,
            created_at=moment,
            updated_at=moment,
            seq=store.next_seq(),
        )
        store.add_tenant(tenant)
        return tenant.as_admin()


@router.get("/tenants/{tenant_id}")
def get_tenant(tenant_id: str, org: Org, sandbox: SandboxDep) -> dict[str, Any]:
    with sandbox.store.lock:
        return _tenant(sandbox.store, org, tenant_id, allow_deleted=True).as_admin()


@router.put("/tenants/{tenant_id}")
def update_tenant(
    tenant_id: str, body: TenantUpdate, org: Org, sandbox: SandboxDep
) -> dict[str, Any]:
    store = sandbox.store
    with store.lock:
        tenant = _tenant(store, org, tenant_id)
        given = body.model_fields_set
        if "peppol_ids" in given:  # checks first: a refused update changes nothing
            _check_peppol_ids(sandbox, body.peppol_ids)
        if "test_mode" in given and body.test_mode is not None:
            _change_test_mode(sandbox, tenant, body.test_mode, apply=False)
        if "name" in given and body.name is not None and body.name != tenant.name:
            _check_name_free(store, body.name, exclude=tenant.id)
            store.rename_tenant(tenant, body.name)
        if "description" in given:
            tenant.description = body.description
        if "company_number" in given:
            tenant.company_number = body.company_number
        if "company_tax_id" in given:
            tenant.company_tax_id = body.company_tax_id
        if "peppol_ids" in given:
            tenant.peppol_ids = list(body.peppol_ids or [])
        if "test_mode" in given and body.test_mode is not None:
            _change_test_mode(sandbox, tenant, body.test_mode)
        tenant.updated_at = now_utc()
        return tenant.as_admin()


@router.delete("/tenants/{tenant_id}")
def delete_tenant(tenant_id: str, org: Org, sandbox: SandboxDep) -> dict[str, Any]:
    """Soft delete: the tenant stays listed (is_deleted true), its keys stop working."""
    store = sandbox.store
    with store.lock:
        tenant = _tenant(store, org, tenant_id)
        tenant.is_deleted = True
        tenant.updated_at = now_utc()
        return tenant.as_admin()


# --- API keys --------------------------------------------------------------------------------


def _key(store: Store, tenant: Tenant, key_id: str) -> ApiKey:
    key = store.api_keys.get(key_id)
    if key is None or key.tenant_id != tenant.id or key.is_deleted:
        raise ApiError(404, KEY_NOT_FOUND)
    return key


@router.post("/tenants/{tenant_id}/api-keys", status_code=201)
def create_api_key(
    tenant_id: str, body: ApiKeyCreate, org: Org, sandbox: SandboxDep
) -> dict[str, Any]:
    store = sandbox.store
    with store.lock:
        tenant = _tenant(store, org, tenant_id)
        value = f"einv_{secrets.token_hex(24)}"
        moment = now_utc()
        key = ApiKey(
            id=new_id("key"),
            tenant_id=tenant.id,
            name=body.name,
            description=body.description,
            key_hash=Store.hash_key(value),
            created_at=moment,
            updated_at=moment,
            seq=store.next_seq(),
        )
        store.api_keys[key.id] = key
        store.keys_by_hash[key.key_hash] = key
        # The only answer that ever carries the value.
        return {**key.as_admin(), "key": value}


@router.get("/tenants/{tenant_id}/api-keys")
def list_api_keys(
    tenant_id: str,
    org: Org,
    sandbox: SandboxDep,
    skip: Skip = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    store = sandbox.store
    with store.lock:
        tenant = _tenant(store, org, tenant_id, allow_deleted=True)
        keys = (k for k in store.api_keys.values() if k.tenant_id == tenant.id)
        return _listed("api_keys", keys, skip, limit)


@router.get("/tenants/{tenant_id}/api-keys/latest")
def latest_api_key(tenant_id: str, org: Org, sandbox: SandboxDep) -> dict[str, Any]:
    store = sandbox.store
    with store.lock:
        tenant = _tenant(store, org, tenant_id, allow_deleted=True)
        # The guide: "the most recently created API key"; whether a revoked one counts is a
        # setting ("active": skipped, "created": the newest whatever its state).
        skip_revoked = sandbox.config.latest_key == "active"
        keys = [
            k
            for k in store.api_keys.values()
            if k.tenant_id == tenant.id and not (skip_revoked and k.is_deleted)
        ]
        if not keys:
            raise ApiError(404, KEY_NOT_FOUND)
        return max(keys, key=lambda k: k.seq).as_admin()


@router.put("/tenants/{tenant_id}/api-keys/{key_id}")
def update_api_key(
    tenant_id: str, key_id: str, body: ApiKeyUpdate, org: Org, sandbox: SandboxDep
) -> dict[str, Any]:
    store = sandbox.store
    with store.lock:
        key = _key(store, _tenant(store, org, tenant_id), key_id)
        if "name" in body.model_fields_set and body.name is not None:
            key.name = body.name
        if "description" in body.model_fields_set:
            key.description = body.description
        key.updated_at = now_utc()
        return key.as_admin()


@router.delete("/tenants/{tenant_id}/api-keys/{key_id}")
def revoke_api_key(tenant_id: str, key_id: str, org: Org, sandbox: SandboxDep) -> dict[str, Any]:
    """Revoke: the key stops working at once and stays listed with is_deleted true."""
    store = sandbox.store
    with store.lock:
        key = _key(store, _tenant(store, org, tenant_id), key_id)
        key.is_deleted = True
        key.updated_at = now_utc()
        return key.as_admin()


# --- Peppol ----------------------------------------------------------------------------------


def _status(tenant: Tenant) -> dict[str, Any]:
    registered = tenant.registered
    return {
        "registered": registered,
        "peppol_id": tenant.registered_peppol_id
        if registered
        else (tenant.peppol_ids[0] if tenant.peppol_ids else None),
        "status": "active" if registered else "not_registered",
        "registered_at": iso(tenant.registered_at) if registered else None,
        "company_name": tenant.company_name if registered else None,
    }


@router.get("/tenants/{tenant_id}/peppol/status")
def peppol_status(tenant_id: str, org: Org, sandbox: SandboxDep) -> dict[str, Any]:
    with sandbox.store.lock:
        return _status(_tenant(sandbox.store, org, tenant_id, allow_deleted=True))


@router.post("/tenants/{tenant_id}/peppol/register")
def peppol_register(
    tenant_id: str, body: PeppolRegister, org: Org, sandbox: SandboxDep
) -> dict[str, Any]:
    store = sandbox.store
    with store.lock:
        tenant = _tenant(store, org, tenant_id)
        if tenant.test_mode:
            raise ApiError(
                400,
                "Peppol registration is not available for tenants in test mode. "
                "Switch the tenant to production mode first.",
            )
        peppol_id = body.peppol_id or (tenant.peppol_ids[0] if tenant.peppol_ids else None)
        if peppol_id is None:
            raise ApiError(400, "No Peppol ID given and the tenant has none")
        if tenant.peppol_ids and peppol_id not in tenant.peppol_ids:
            raise ApiError(
                400,
                f"Peppol ID {peppol_id} is not the tenant's Peppol ID ({tenant.peppol_ids[0]}); "
                "update the tenant first",
            )
        if tenant.registered and tenant.registered_peppol_id == peppol_id:
            if body.company_name:
                tenant.company_name = body.company_name
            return _status(tenant)  # registering twice is harmless
        owner = store.registered_tenant(peppol_id)
        if owner is not None and owner.id != tenant.id:
            raise ApiError(409, f"Peppol ID {peppol_id} is already registered by another tenant")
        if peppol_id in store.participants:
            raise ApiError(
                409, f"Peppol ID {peppol_id} is already registered with another access point"
            )
        scheme, identifier = parse_peppol_id(peppol_id) or ("", "")
        company = None
        if not body.company_name:
            if scheme != "0208":
                raise ApiError(
                    400,
                    "company_name is required: the KBO lookup only works for Belgian "
                    "Peppol IDs (scheme 0208)",
                )
            company = KBO.get(identifier)
            if company is None:
                raise ApiError(
                    400,
                    f"Company {identifier} not found in KBO (Crossroads Bank for Enterprises); "
                    "check the CBE number or provide company_name",
                )
        tenant.registered_peppol_id = peppol_id
        tenant.registered_at = now_utc()
        if not tenant.peppol_ids:
            tenant.peppol_ids = [peppol_id]
        if company is not None:
            tenant.company_name = company.name
            tenant.company_address = company.address
            tenant.company_zip = company.zip
            tenant.company_city = company.city
            tenant.company_country = company.country
        else:
            tenant.company_name = body.company_name
        tenant.updated_at = now_utc()
        return _status(tenant)


@router.post("/tenants/{tenant_id}/peppol/business-card")
def peppol_business_card(
    tenant_id: str, body: BusinessCardUpdate, org: Org, sandbox: SandboxDep
) -> dict[str, Any]:
    with sandbox.store.lock:
        tenant = _tenant(sandbox.store, org, tenant_id)
        if not tenant.registered:
            raise ApiError(400, "Tenant is not registered on Peppol")
        tenant.company_name = body.company_name
        tenant.updated_at = now_utc()
        return _status(tenant)


@router.post("/tenants/{tenant_id}/peppol/unregister")
def peppol_unregister(tenant_id: str, org: Org, sandbox: SandboxDep) -> dict[str, Any]:
    with sandbox.store.lock:
        tenant = _tenant(sandbox.store, org, tenant_id)
        if not tenant.registered:
            raise ApiError(400, "Tenant is not registered on Peppol")
        tenant.registered_peppol_id = None
        tenant.registered_at = None
        tenant.updated_at = now_utc()
        return _status(tenant)
