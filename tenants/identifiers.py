"""Checks for the identifiers a tenant carries: company number, VAT number, Peppol ID.

Checksums come from python-stdnum, never from hand-written arithmetic. Registers without a
check digit (Dutch KvK, Luxembourg RCS, DUNS) get a format check only.

Used by the tenant form and by the CSV import of the workers: `check_tenant_fields()` takes
a plain dict and returns the field errors; `clean_tenant_fields()` also returns the
normalised values (with suggestions filled in for a blank name and Peppol ID).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from stdnum import ean, vatin
from stdnum.be import vat as be_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.lu import tva as lu_tva
from stdnum.nl import btw as nl_btw
from stdnum.util import clean, isdigits

from core.texts import Coded, define

TENANT_FIELDS = ("name", "description", "company_number", "company_tax_id", "peppol_id")

COUNTRIES = [
    ("BE", gettext_lazy("Belgium")),
    ("NL", gettext_lazy("Netherlands")),
    ("LU", gettext_lazy("Luxembourg")),
]
_COUNTRY_CODES = {code for code, _label in COUNTRIES}

# Lowercase, no spaces (the Admin API's rule), starting and ending with a letter or digit.
# Dots and underscores are allowed: e-invoice.be accepts them, and tenants created
# elsewhere carry them.
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$")
NAME_MAX = 100


# --- the errors, as codes: a CSV row keeps them and words them in its reader's language -------
CBE_INVALID = define(
    "tenant.cbe_invalid",
    gettext_lazy("Not a valid Belgian enterprise number (CBE/KBO), e.g. 0403.170.701."),
)
KVK_INVALID = define(
    "tenant.kvk_invalid", gettext_lazy("A Dutch KvK number has 8 digits, e.g. 12345678.")
)
RCS_INVALID = define(
    "tenant.rcs_invalid",
    gettext_lazy("A Luxembourg RCS number is a letter and up to 6 digits, e.g. B123456."),
)
COMPANY_NUMBER_INVALID = define(
    "tenant.company_number_invalid",
    gettext_lazy("Use letters, digits, spaces, dots, slashes or hyphens (2 to 32 characters)."),
)
COMPANY_NUMBER_NO_COUNTRY = define(
    "tenant.company_number_no_country",
    gettext_lazy(
        "Choose the country of the company register (or give the VAT number) so that "
        "the company number can be checked."
    ),
)
VAT_NO_PREFIX = define(
    "tenant.vat_no_prefix",
    gettext_lazy("Start the VAT number with its country code, e.g. BE0403170701."),
)
VAT_INVALID = define(
    "tenant.vat_invalid",
    gettext_lazy("Not a valid VAT number for %(country)s (check digits or length)."),
)
VAT_OTHER_COUNTRY = define(
    "tenant.vat_other_country",
    gettext_lazy(
        "This VAT number is from %(prefix)s but the country is %(country)s: correct "
        "the one that is wrong."
    ),
)
BE_VAT_NOT_NUMBER = define(
    "tenant.be_vat_not_number",
    gettext_lazy("A Belgian VAT number is BE followed by the company number: BE%(n)s."),
)
BE_VAT_INVALID = define(
    "tenant.be_vat_invalid", gettext_lazy("Not a valid Belgian VAT number, e.g. BE0403170701.")
)
NL_VAT_INVALID = define("tenant.nl_vat_invalid", gettext_lazy("Not a valid Dutch VAT number."))
LU_VAT_INVALID = define("tenant.lu_vat_invalid", gettext_lazy("Not a valid Luxembourg VAT number."))
GLN_LENGTH = define("tenant.gln_length", gettext_lazy("A GLN has 13 digits."))
GLN_INVALID = define("tenant.gln_invalid", gettext_lazy("Not a valid GLN (check digit)."))
DUNS_LENGTH = define("tenant.duns_length", gettext_lazy("A DUNS number has 9 digits."))
PEPPOL_FORMAT = define(
    "tenant.peppol_format",
    gettext_lazy("Write the Peppol ID as scheme:identifier, e.g. 0208:0403170701."),
)
PEPPOL_UNKNOWN_SCHEME = define(
    "tenant.peppol_unknown_scheme",
    gettext_lazy("Unknown Peppol scheme %(scheme)s. Known schemes: %(known)s."),
)
PEPPOL_NOT_COMPANY_NUMBER = define(
    "tenant.peppol_not_company_number",
    gettext_lazy(
        "The identifier after %(scheme)s: must be the company number "
        "(%(number)s), so the Peppol ID is %(scheme)s:%(number)s."
    ),
)
NAME_INVALID = define(
    "tenant.name_invalid",
    gettext_lazy(
        "Use lowercase letters, digits, hyphens, dots or underscores, no spaces (at "
        "most %(max)s characters), e.g. customer-company-bvba."
    ),
)
NAME_MISSING = define(
    "tenant.name_missing",
    gettext_lazy("Give the tenant a name, or a company name to derive it from."),
)
COUNTRY_UNKNOWN = define(
    "tenant.country_unknown",
    gettext_lazy("Choose Belgium, the Netherlands or Luxembourg, or leave the country empty."),
)


# --- company number -------------------------------------------------------------------
def _cbe(value: str) -> str:
    """Belgian enterprise number (CBE/KBO): 10 digits, mod-97 check (stdnum.be.vat)."""
    try:
        number = be_vat.validate(value)
    except StdnumError:
        raise ValidationError(Coded(CBE_INVALID), code="invalid_cbe") from None
    return number


def _kvk(value: str) -> str:
    # The KvK number has had no check digit since 2009: 8 digits.
    number = clean(value, " .-").strip()
    if not (isdigits(number) and len(number) == 8):
        raise ValidationError(Coded(KVK_INVALID), code="invalid_kvk")
    return number


def _rcs(value: str) -> str:
    # RCS Luxembourg: a section letter and up to 6 digits (B for commercial companies).
    number = clean(value, " .-").strip().upper()
    if not re.fullmatch(r"[A-K][0-9]{1,6}", number):
        raise ValidationError(Coded(RCS_INVALID), code="invalid_rcs")
    return number


def _generic_company_number(value: str) -> str:
    number = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ./-]{1,31}", number):
        raise ValidationError(Coded(COMPANY_NUMBER_INVALID), code="invalid_company_number")
    return number


COMPANY_NUMBER_CHECKS: dict[str, Callable[[str], str]] = {"BE": _cbe, "NL": _kvk, "LU": _rcs}


def validate_company_number(value: str, country: str | None = None) -> str:
    """Return the normalised company number, or raise ValidationError."""
    check = COMPANY_NUMBER_CHECKS.get((country or "").upper(), _generic_company_number)
    return check(value)


# --- VAT number -----------------------------------------------------------------------
def validate_company_tax_id(value: str) -> str:
    """A VAT/tax number with its country prefix and valid check digits, e.g. BE0403170701."""
    compact = clean(value, " .-").upper()
    if not re.match(r"^[A-Z]{2}", compact):
        raise ValidationError(Coded(VAT_NO_PREFIX), code="missing_prefix")
    try:
        return vatin.validate(compact)
    except StdnumError:
        raise ValidationError(Coded(VAT_INVALID, country=compact[:2]), code="invalid_vat") from None


# --- Peppol ID ------------------------------------------------------------------------
def _peppol_be_vat(value: str) -> str:
    try:
        return "BE" + be_vat.validate(value)
    except StdnumError:
        raise ValidationError(Coded(BE_VAT_INVALID), code="invalid_vat") from None


def _peppol_nl_vat(value: str) -> str:
    try:
        return "NL" + nl_btw.validate(value)
    except StdnumError:
        raise ValidationError(Coded(NL_VAT_INVALID), code="invalid_vat") from None


def _peppol_lu_vat(value: str) -> str:
    try:
        return "LU" + lu_tva.validate(value)
    except StdnumError:
        raise ValidationError(Coded(LU_VAT_INVALID), code="invalid_vat") from None


def _gln(value: str) -> str:
    number = clean(value, " -")
    if len(number) != 13:
        raise ValidationError(Coded(GLN_LENGTH), code="invalid_gln")
    try:
        return ean.validate(number)
    except StdnumError:
        raise ValidationError(Coded(GLN_INVALID), code="invalid_gln") from None


def _duns(value: str) -> str:
    # D-U-N-S numbers carry no public check digit: 9 digits.
    number = clean(value, " -")
    if not (isdigits(number) and len(number) == 9):
        raise ValidationError(Coded(DUNS_LENGTH), code="invalid_duns")
    return number


@dataclass(frozen=True)
class Scheme:
    code: str
    label: Any  # lazy translated string
    country: str | None
    check: Callable[[str], str]


# The schemes the admin-api-guide documents, plus the common ones of the Peppol code list
# for the countries we serve. The guide lists 9999 as "DUNS" and 0184 as "Dutch KVK"; the
# Peppol code list has 0060 for DUNS and 0106 for KvK, so both spellings are accepted.
SCHEMES: dict[str, Scheme] = {
    s.code: s
    for s in [
        Scheme("0208", gettext_lazy("Belgian enterprise number (CBE/KBO)"), "BE", _cbe),
        Scheme("9925", gettext_lazy("Belgian VAT number"), "BE", _peppol_be_vat),
        Scheme("9956", gettext_lazy("Belgian company number (alternative)"), "BE", _cbe),
        Scheme("0088", gettext_lazy("Global Location Number (GLN)"), None, _gln),
        Scheme("0184", gettext_lazy("Dutch KvK number (e-invoice.be guide)"), "NL", _kvk),
        Scheme("0106", gettext_lazy("Dutch KvK number"), "NL", _kvk),
        Scheme("9944", gettext_lazy("Dutch VAT number"), "NL", _peppol_nl_vat),
        Scheme("9938", gettext_lazy("Luxembourg VAT number"), "LU", _peppol_lu_vat),
        Scheme("0060", gettext_lazy("DUNS number"), None, _duns),
        Scheme("9999", gettext_lazy("DUNS number (e-invoice.be guide)"), None, _duns),
    ]
}
# Schemes whose identifier is the company number itself: it must match company_number.
COMPANY_NUMBER_SCHEMES = {"0208", "9956", "0184", "0106"}


def split_peppol_id(value: str) -> tuple[str, str]:
    scheme, sep, identifier = value.strip().partition(":")
    return scheme.strip(), identifier.strip()


def validate_peppol_id(value: str, company_number: str | None = None) -> str:
    """`scheme:identifier` with a known scheme and a valid identifier; normalised.

    For schemes that carry the company number (0208 …) the identifier must match
    company_number when one is given.
    """
    scheme_code, identifier = split_peppol_id(value)
    if not re.fullmatch(r"[0-9]{4}", scheme_code) or not identifier:
        raise ValidationError(Coded(PEPPOL_FORMAT), code="format")
    scheme = SCHEMES.get(scheme_code)
    if scheme is None:
        known = ", ".join(sorted(SCHEMES))
        raise ValidationError(
            Coded(PEPPOL_UNKNOWN_SCHEME, scheme=scheme_code, known=known), code="unknown_scheme"
        )
    normalised = scheme.check(identifier)
    if company_number and scheme_code in COMPANY_NUMBER_SCHEMES:
        try:
            number = validate_company_number(company_number, scheme.country)
        except ValidationError:
            number = company_number.strip()  # reported on its own field
        if normalised != number:
            raise ValidationError(
                Coded(PEPPOL_NOT_COMPANY_NUMBER, scheme=scheme_code, number=number),
                code="mismatch",
            )
    return f"{scheme_code}:{normalised}"


# --- suggestions ----------------------------------------------------------------------
def suggest_tenant_name(company_name: str) -> str:
    """`Customer Company BVBA` → `customer-company-bvba` (the guide's convention)."""
    return slugify(company_name or "")[:NAME_MAX].strip("-_")


def suggest_peppol_id(company_number: str, country: str | None = "BE") -> str:
    """0208:<CBE> for a valid Belgian enterprise number; empty otherwise."""
    if (country or "BE").upper() != "BE" or not company_number:
        return ""
    try:
        return "0208:" + _cbe(company_number)
    except ValidationError:
        return ""


def name_key(name: str) -> str:
    """What makes two tenant names the same for e-invoice.be: `Acme-BV`, `acme.bv` and
    `acmebv` are one name (case and separators do not count)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def company_key(number: str) -> str:
    """A company number without dots, spaces or case: `0403.170.701` is `0403170701`."""
    return re.sub(r"[^A-Z0-9]", "", (number or "").upper())


def validate_tenant_name(value: str) -> str:
    name = value.strip()
    if not NAME_RE.fullmatch(name):
        raise ValidationError(Coded(NAME_INVALID, max=NAME_MAX), code="invalid_name")
    return name


# Shaped like a Belgian enterprise number: 10 digits starting with 0 or 1, as written on
# Belgian documents (0403.170.701, 0403 170 701). Neither KvK (8 digits) nor RCS (a letter)
# looks like this, so a number of this shape is checked as a CBE number.
CBE_SHAPE_RE = re.compile(r"^[01][0-9]{3}[. ]?[0-9]{3}[. ]?[0-9]{3}$")


def infer_country(data: dict) -> str | None:
    """The explicit country, else the VAT number's prefix, else the Peppol scheme's, else
    Belgium for a number shaped like a CBE number."""
    country = str(data.get("country") or "").strip().upper()
    if country:
        return country
    tax_id = clean(str(data.get("company_tax_id") or ""), " .-").upper()
    if re.match(r"^[A-Z]{2}", tax_id):
        return tax_id[:2]
    scheme = SCHEMES.get(split_peppol_id(str(data.get("peppol_id") or ""))[0])
    if scheme and scheme.country:
        return scheme.country
    if CBE_SHAPE_RE.fullmatch(str(data.get("company_number") or "").strip()):
        return "BE"
    return None


def peppol_warnings(data: dict) -> list[str]:
    """Not errors, but worth a second look before registering."""
    warnings: list[str] = []
    scheme_code, identifier = split_peppol_id(str(data.get("peppol_id") or ""))
    if infer_country(data) == "BE" and scheme_code in {"9925", "9956"}:
        suggestion = suggest_peppol_id(str(data.get("company_number") or "") or identifier)
        warnings.append(
            _(
                "Belgian companies are registered on Peppol under scheme 0208 (enterprise "
                "number), not %(scheme)s. Use %(suggestion)s unless the customer asked for "
                "%(scheme)s."
            )
            % {"scheme": scheme_code, "suggestion": suggestion or "0208:<CBE>"}
        )
    return warnings


def _messages(error: ValidationError) -> list[str]:
    # The Coded message itself, so that a stored copy (a CSV row) keeps its code.
    return [
        e.message if isinstance(e.message, Coded) else str(m)
        for e, m in zip(error.error_list, error.messages, strict=True)
    ]


def _vat_number_and_country(cleaned: dict, country: str | None, errors: dict) -> str | None:
    """A VAT prefix that contradicts the country is an error; a Belgian VAT number fills in
    a missing enterprise number (it is that number with BE in front). Returns the country."""
    tax_prefix = clean(cleaned["company_tax_id"], " .-").upper()[:2]
    if country and tax_prefix.isalpha() and tax_prefix in _COUNTRY_CODES and tax_prefix != country:
        errors.setdefault("company_tax_id", []).append(
            Coded(VAT_OTHER_COUNTRY, prefix=tax_prefix, country=country)
        )
    elif not cleaned["company_number"] and tax_prefix == "BE" and country in (None, "BE"):
        digits = clean(cleaned["company_tax_id"], " .-").upper()[2:]
        if isdigits(digits) and len(digits) in (9, 10):
            cleaned["company_number"] = digits.zfill(10)
            return "BE"
    return country


def clean_tenant_fields(data: dict, *, suggest: bool = True) -> tuple[dict, dict[str, list[str]]]:
    """Normalise and check tenant fields; returns (cleaned, errors by field).

    With suggest=True a blank name is derived from the company name (description) and a
    blank Peppol ID from a Belgian company number.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {f: str(data.get(f) or "").strip() for f in TENANT_FIELDS}
    country = infer_country(data)
    if country and country not in _COUNTRY_CODES and data.get("country"):
        errors.setdefault("country", []).append(Coded(COUNTRY_UNKNOWN))
        country = None

    if not cleaned["name"] and suggest:
        cleaned["name"] = suggest_tenant_name(cleaned["description"])
    if not cleaned["name"]:
        errors.setdefault("name", []).append(Coded(NAME_MISSING))
    else:
        try:
            cleaned["name"] = validate_tenant_name(cleaned["name"])
        except ValidationError as e:
            errors.setdefault("name", []).extend(_messages(e))

    country = _vat_number_and_country(cleaned, country, errors)

    if (
        country is None
        and "country" not in errors
        and isdigits(clean(cleaned["company_number"], " .-/"))
    ):
        # Digits alone, no country, and not shaped like a CBE number: nothing says which
        # register the number is from, so nothing can check it ("123" was accepted). A
        # number with letters (HRB 12345) names its register and is checked loosely.
        errors.setdefault("company_number", []).append(Coded(COMPANY_NUMBER_NO_COUNTRY))
    elif cleaned["company_number"]:
        try:
            cleaned["company_number"] = validate_company_number(cleaned["company_number"], country)
        except ValidationError as e:
            errors.setdefault("company_number", []).extend(_messages(e))

    if cleaned["company_tax_id"]:
        try:
            cleaned["company_tax_id"] = validate_company_tax_id(cleaned["company_tax_id"])
        except ValidationError as e:
            errors.setdefault("company_tax_id", []).extend(_messages(e))
        else:
            # In Belgium the VAT number is the enterprise number with BE in front.
            number = cleaned["company_number"]
            if (
                cleaned["company_tax_id"].startswith("BE")
                and number
                and "company_number" not in errors
                and country == "BE"
                and cleaned["company_tax_id"] != "BE" + number
            ):
                errors.setdefault("company_tax_id", []).append(Coded(BE_VAT_NOT_NUMBER, n=number))

    if not cleaned["peppol_id"] and suggest and "company_number" not in errors:
        cleaned["peppol_id"] = suggest_peppol_id(cleaned["company_number"], country)
    if cleaned["peppol_id"]:
        company_number = "" if "company_number" in errors else cleaned["company_number"]
        try:
            cleaned["peppol_id"] = validate_peppol_id(cleaned["peppol_id"], company_number)
        except ValidationError as e:
            errors.setdefault("peppol_id", []).extend(_messages(e))
    return cleaned, errors


def check_tenant_fields(data: dict) -> dict[str, list[str]]:
    """Field errors for a tenant's fields (empty when all is well). Nothing is suggested:
    a blank name is an error here."""
    return clean_tenant_fields(data, suggest=False)[1]


# --- Peppol ID of a buyer, from its VAT number ------------------------------------------
# Peppol EAS codes of the VAT-number schemes, by the VAT number's country prefix (EL and GR
# are both Greece). Belgium is addressed by its enterprise number (0208), not by 9925.
VAT_SCHEMES = {
    "AT": "9914", "BE": "9925", "BG": "9926", "CY": "9928", "CZ": "9929", "DE": "9930",
    "DK": "0198", "EE": "9931", "EL": "9933", "ES": "9920", "FR": "9957", "GB": "9932",
    "GR": "9933", "HR": "9934", "HU": "9910", "IE": "9935", "IT": "9906", "LT": "9937",
    "LU": "9938", "LV": "9939", "MT": "9943", "NL": "9944", "PL": "9945", "PT": "9946",
    "RO": "9947", "SE": "9955", "SI": "9949", "SK": "9950",
}  # fmt: skip


def peppol_id_from_tax_id(tax_id: str) -> str:
    """The Peppol ID e-invoice.be derives from a VAT number: BE → 0208:<enterprise number>,
    other countries → their VAT scheme; empty when none can be derived."""
    compact = re.sub(r"[\s.\-]", "", tax_id or "").upper()
    if re.fullmatch(r"BE[01]\d{9}", compact):
        return f"0208:{compact[2:]}"
    scheme = VAT_SCHEMES.get(compact[:2])
    return f"{scheme}:{compact}" if scheme and len(compact) > 4 and compact[:2] != "BE" else ""
