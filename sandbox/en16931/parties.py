"""The seller (vendor) and buyer (customer): names, VAT numbers (python-stdnum check digits),
countries, e-mail, and the Peppol endpoint the UBL addresses them by.
"""

from __future__ import annotations

import re
from typing import Any

import stdnum.eu.vat
from stdnum import get_cc_module

# The VAT number -> Peppol ID rule is the directory's, so the UBL EndpointID and the sender and
# receiver a send derives always agree.
from sandbox.directory import compact_tax_id, endpoint_from_tax_id

from .codelists import EAS_CODES, SCHEME_COUNTRIES, VAT_PREFIXES
from .fields import Reader
from .model import Document, Party
from .values import as_text, blank, country_from_address, country_from_tax_id, show

_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PEPPOL_ID_RE = re.compile(r"([0-9]{4}):([A-Za-z0-9][A-Za-z0-9._\-]*)")
_PEPPOL_ID_TEST = "@schemeID is in the EAS code list"


def read_parties(reader: Reader, doc: Document) -> None:
    _read_party(reader, "vendor", doc.vendor, "BR-06")
    _read_party(reader, "customer", doc.customer, "BR-07")
    _read_customer_peppol_id(reader, doc.customer)


def _read_party(reader: Reader, role: str, party: Party, name_rule: str) -> None:
    p = reader.payload
    who = "seller (vendor)" if role == "vendor" else "buyer (customer)"
    where, party.name = reader.text(p, "", f"{role}_name")
    if not party.name:
        reader.error(
            f"The {who} name is missing.",
            where,
            name_rule,
            "normalize-space(cac:PartyLegalEntity/cbc:RegistrationName) != ''",
        )
    _, party.address = reader.text(p, "", f"{role}_address")
    _, party.address_recipient = reader.text(p, "", f"{role}_address_recipient")
    _, party.company_id = reader.text(p, "", f"{role}_company_id")
    where, party.email = reader.text(p, "", f"{role}_email")
    if party.email and not _EMAIL_RE.fullmatch(party.email):
        reader.warning(
            f"The {who} email address {show(party.email)} does not look like an email address.",
            where,
            "JSON-EMAIL",
            "email has the form name@domain",
        )
    party.tax_id = read_tax_id(reader, f"{role}_tax_id", who)
    party.country = country_from_tax_id(party.tax_id) or country_from_address(party.address)
    if role == "customer" and party.country is None:
        party.country = country_from_address(as_text(p.get("billing_address")))
    party.endpoint = endpoint_from_tax_id(party.tax_id) or _cbe_endpoint(party)


def _cbe_endpoint(party: Party) -> tuple[str, str] | None:
    """A Belgian party without a VAT number is still reachable by its CBE company number."""
    if not party.company_id or party.country != "BE":
        return None
    cbe = re.sub(r"[^0-9]", "", party.company_id)
    return ("0208", cbe.zfill(10)) if len(cbe) in (9, 10) else None


def _read_customer_peppol_id(reader: Reader, customer: Party) -> None:
    raw_peppol = as_text(reader.payload.get("customer_peppol_id"))
    if not raw_peppol:
        return
    match = _PEPPOL_ID_RE.fullmatch(raw_peppol)
    if not match:
        reader.error(
            "The customer Peppol ID must look like <scheme>:<identifier>, for example "
            "0208:0123456789.",
            "customer_peppol_id",
            "BR-CL-25",
            _PEPPOL_ID_TEST,
        )
        return
    scheme, ident = match.groups()
    if scheme not in EAS_CODES:
        reader.warning(
            f"The Peppol scheme {scheme} is not one the sandbox knows; check it.",
            "customer_peppol_id",
            "BR-CL-25",
            _PEPPOL_ID_TEST,
        )
    customer.endpoint = (scheme, ident)
    customer.country = customer.country or SCHEME_COUNTRIES.get(scheme)


def read_tax_id(reader: Reader, key: str, who: str) -> str | None:
    """The party's VAT number, compact and upper case; None when absent or unusable."""
    raw = reader.payload.get(key)
    if blank(raw):
        return None
    example = "for example BE1018265814 for Belgium"
    if not isinstance(raw, str):
        reader.error(f"The {who} VAT number must be text ({example}).", key, "JSON-TEXT", "string")
        return None
    compact = compact_tax_id(raw)
    prefix = compact[:2]
    if prefix not in VAT_PREFIXES or len(compact) < 4:
        reader.error(
            f"The {who} VAT number {show(raw.strip())} must start with its country code "
            f"({example}).",
            key,
            "BR-CO-09",
            "substring(cbc:CompanyID, 1, 2) is an ISO 3166-1 alpha-2 code",
        )
        return None
    module = _vat_module(prefix)
    if module is None:  # a country python-stdnum cannot check: taken as given
        return compact.upper()
    try:
        compact = module.compact(compact)
        module.validate(compact)
    except Exception:  # stdnum raises ValidationError, odd input maybe more
        reader.error(
            f"The {who} VAT number {show(raw.strip())} is not valid: its length or check "
            "digits are wrong. Please copy it again from an official document.",
            key,
            "JSON-VAT-NUMBER",
            f"{prefix} VAT number check digits",
        )
        return compact.upper()
    if prefix == "CH":  # CHE-123.456.789 MWST -> CHE123456789MWST keeps its prefix
        compact = compact if compact.startswith("CHE") else "CHE" + compact
    elif not compact.upper().startswith(prefix):
        compact = prefix + compact
    return compact.upper()


def _vat_module(prefix: str) -> Any:
    """The python-stdnum module that checks VAT numbers of this prefix, if there is one."""
    if prefix.lower() in stdnum.eu.vat.MEMBER_STATES or prefix == "EL":
        return stdnum.eu.vat
    if prefix in ("GB", "CH", "NO"):
        return get_cc_module(prefix.lower(), "mva" if prefix == "NO" else "vat")
    return None
