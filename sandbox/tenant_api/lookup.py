"""The Peppol directory: GET /api/lookup and /api/lookup/participants."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from sandbox.core import Sandbox
from sandbox.directory import (
    BILLING_PROCESS,
    CREDIT_NOTE_DOCTYPE,
    DOCTYPE_SCHEME,
    INVOICE_DOCTYPE,
    PARTICIPANT_SCHEME,
    parse_peppol_id,
)
from sandbox.state import iso, now_utc
from sandbox.tenant_api.common import (
    SandboxDep,
    TenantDep,
    require_peppol_id_format,
)

router = APIRouter(prefix="/api")


# What a lookup reveals about a participant registered through this (sandbox) access point.
SANDBOX_ACCESS_POINT = "e-invoice.be (sandbox)"
SANDBOX_SMP_HOST = "smp.sandbox.e-invoice.invalid"


def find_participant(sandbox: Sandbox, peppol_id: str) -> dict[str, Any] | None:
    """The directory entry of a Peppol ID: business card, access point, SMP, document types."""
    outside = sandbox.store.participants.get(peppol_id)
    if outside is not None:
        return outside.as_dict()
    tenant = sandbox.store.registered_tenant(peppol_id)
    if tenant is None:
        return None
    return {
        "peppol_id": peppol_id,
        "name": tenant.company_name or tenant.description or tenant.name,
        "country_code": tenant.company_country or _country_of(peppol_id),
        "city": tenant.company_city,
        "registration_date": tenant.registered_at.date().isoformat()
        if tenant.registered_at
        else None,
        "access_point": SANDBOX_ACCESS_POINT,
        "smp_host": SANDBOX_SMP_HOST,
        "document_types": [INVOICE_DOCTYPE, CREDIT_NOTE_DOCTYPE],
    }


def _country_of(peppol_id: str) -> str | None:
    scheme, value = parse_peppol_id(peppol_id) or ("", "")
    if scheme == "0208":
        return "BE"
    return value[:2].upper() if scheme.startswith("99") and value[:2].isalpha() else None


def _all_participants(sandbox: Sandbox) -> list[dict[str, Any]]:
    with sandbox.store.lock:
        ids = list(sandbox.store.participants) + [
            t.registered_peppol_id for t in sandbox.store.tenants.values() if t.registered
        ]
        return [p for p in (find_participant(sandbox, i) for i in ids if i) if p is not None]


def _doc_types(participant: dict[str, Any]) -> list[dict[str, str]]:
    return [{"scheme": DOCTYPE_SCHEME, "value": value} for value in participant["document_types"]]


def _endpoint(participant: dict[str, Any]) -> dict[str, Any]:
    """The SMP's service metadata: where the holder's access point receives, and who it is."""
    host = participant["smp_host"]
    domain = host.removeprefix("smp.")
    certificate = {
        "status": "success",
        "details": {
            "subject": f"CN={participant['access_point']}",
            "issuer": "CN=PEPPOL ACCESS POINT TEST CA - G2",
        },
        "error": None,
    }
    return {
        "status": "success",
        "url": f"https://{host}",
        "documentTypes": _doc_types(participant),
        "processes": [
            {
                "processId": {"scheme": "cenbii-procid-ubl", "value": BILLING_PROCESS},
                "endpoints": [
                    {
                        "transportProfile": "peppol-transport-as4-v2_0",
                        "address": f"https://as4.{domain}/as4",
                        "serviceDescription": participant["access_point"],
                        "technicalContactUrl": f"https://{domain}/contact",
                        "certificate": certificate,
                    }
                ],
            }
        ],
        "error": None,
    }


@router.get("/lookup")
def lookup(peppol_id: str, tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    require_peppol_id_format(peppol_id)
    participant = find_participant(sandbox, peppol_id)
    found = participant is not None
    sml = "edelivery.tech.ec.europa.eu"
    meta = {
        "identifierScheme": PARTICIPANT_SCHEME,
        "identifierValue": peppol_id,
        "smlDomain": sml,
        "timestamp": iso(now_utc()),
        "version": "sandbox-1",
    }
    endpoint = _endpoint(participant) if participant else None
    return {
        "queryMetadata": meta,
        "status": "success" if found else "error",
        "errors": [] if found else [f"Participant {peppol_id} not found in the Peppol network"],
        "dnsInfo": {
            "status": "success" if found else "error",
            "smpHostname": participant["smp_host"] if participant else None,
            "smlHostname": sml,
            "dnsRecords": [{"ip": "192.0.2.10"}] if found else [],
            "error": None if found else "NXDOMAIN",
            "lookupMethod": "naptr",
        },
        "serviceMetadata": {
            "status": "success" if found else "error",
            "queryTimeMs": 1.0,
            "endpoints": [endpoint] if found else [],
            "error": None if found else "No service metadata",
        },
        "businessCard": {
            "status": "success" if found else "error",
            "entities": [
                {
                    "name": participant["name"],
                    "countryCode": participant["country_code"],
                    "registrationDate": participant["registration_date"],
                    "additionalInformation": [],
                }
            ]
            if participant
            else [],
            "queryTimeMs": 1.0,
            "error": None if found else "No business card",
        },
        "certificates": [endpoint["processes"][0]["endpoints"][0]["certificate"]]
        if endpoint
        else [],
        "executionTimeMs": 2.0,
    }


@router.get("/lookup/participants")
def lookup_participants(
    tenant: TenantDep,
    sandbox: SandboxDep,
    query: Annotated[str, Query(min_length=1)],
    country_code: str | None = None,
) -> dict[str, Any]:
    needle = query.strip().casefold()
    hits = [
        p
        for p in _all_participants(sandbox)
        if (needle in (p["name"] or "").casefold() or needle in p["peppol_id"].casefold())
        and (not country_code or (p["country_code"] or "").upper() == country_code.upper())
    ]
    participants = [
        {
            "peppol_id": p["peppol_id"],
            "peppol_scheme": PARTICIPANT_SCHEME,
            "entities": [
                {
                    "name": p["name"],
                    "country_code": p["country_code"],
                    "website": None,
                    "geo_info": p["city"],
                    "additional_info": None,
                    "registration_date": p["registration_date"],
                    "identifiers": [
                        {
                            "scheme": p["peppol_id"].split(":")[0],
                            "value": p["peppol_id"].split(":", 1)[1],
                        }
                    ],
                }
            ],
            "document_types": _doc_types(p),
        }
        for p in hits
    ]
    return {
        "total_count": len(participants),
        "used_count": len(participants),
        "participants": participants,
        "query_terms": query,
        "search_date": iso(now_utc()),
    }
