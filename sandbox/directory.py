"""Seeded reference data: a small fake KBO register and Peppol participants outside the sandbox.

Every CBE number below passes the official modulo-97 check (see tests/sandbox). The companies are
fictional except the two public examples of the invoice guide (E-INVOICE BV, OpenPeppol VZW).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

PARTICIPANT_SCHEME = "iso6523-actorid-upis"
INVOICE_DOCTYPE = (
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##"
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
CREDIT_NOTE_DOCTYPE = (
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::CreditNote##"
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
DOCTYPE_SCHEME = "busdox-docid-qns"
BILLING_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

PEPPOL_ID_RE = re.compile(r"^(\d{4}):([A-Za-z0-9][A-Za-z0-9._\-]*)$")

# Peppol EAS codes of the VAT-number schemes, by the country prefix of the VAT number. Belgium
# is left out: a Belgian participant is addressed by its CBE number (0208), not 9925.
VAT_SCHEMES = {
    "AD": "9922",
    "AL": "9923",
    "AT": "9914",
    "BA": "9924",
    "BG": "9926",
    "CH": "9927",
    "CY": "9928",
    "CZ": "9929",
    "DE": "9930",
    "EE": "9931",
    "EL": "9933",
    "ES": "9920",
    "FR": "9957",
    "GB": "9932",
    "GR": "9933",
    "HR": "9934",
    "HU": "9910",
    "IE": "9935",
    "IT": "9906",
    "LI": "9936",
    "LT": "9937",
    "LU": "9938",
    "LV": "9939",
    "MC": "9940",
    "ME": "9941",
    "MK": "9942",
    "MT": "9943",
    "NL": "9944",
    "PL": "9945",
    "PT": "9946",
    "RO": "9947",
    "RS": "9948",
    "SE": "9955",
    "SI": "9949",
    "SK": "9950",
    "SM": "9951",
    "TR": "9952",
    "VA": "9953",
}


@dataclass(frozen=True)
class KboCompany:
    cbe: str  # 10 digits, as used in 0208:<cbe>
    name: str
    address: str
    zip: str
    city: str
    country: str = "BE"

    def as_dict(self) -> dict[str, str]:
        return {
            "company_number": self.cbe,
            "company_tax_id": f"BE{self.cbe}",
            "company_name": self.name,
            "company_address": self.address,
            "company_zip": self.zip,
            "company_city": self.city,
            "company_country": self.country,
        }


KBO: dict[str, KboCompany] = {
    c.cbe: c
    for c in [
        KboCompany("1018265814", "E-INVOICE BV", "Brusselsesteenweg 119/A", "1980", "Zemst"),
        KboCompany(
            "0848934496", "OpenPeppol VZW", "Robert Schumanplein 6 bus 5", "1040", "Brussel"
        ),
        KboCompany("0706165839", "Bakkerij Van Damme BV", "Kerkstraat 12", "9000", "Gent"),
        KboCompany("1286602456", "Atelier Lumière SRL", "Rue de la Station 8", "4000", "Liège"),
        KboCompany("1524807831", "Vlaamse Fietsenmakers CV", "Molenweg 41", "3000", "Leuven"),
        KboCompany("0362022311", "Brasserie du Lac SA", "Avenue du Lac 3", "1332", "Genval"),
        KboCompany(
            "0443055814", "Brouwerij De Zwarte Kat NV", "Brouwerijstraat 7", "2000", "Antwerpen"
        ),
        KboCompany("1998121608", "Dijle Software BV", "Vaartkom 31", "3000", "Leuven"),
        KboCompany("0515848077", "Kust Logistiek NV", "Havenlaan 90", "8400", "Oostende"),
        KboCompany("1427048360", "Les Jardins de Namur SRL", "Rue de Fer 25", "5000", "Namur"),
        KboCompany("0394612034", "Mechelse Drukkerij BV", "Bruul 55", "2800", "Mechelen"),
        KboCompany(
            "1902671727", "Hasselt Installaties BV", "Kempischesteenweg 300", "3500", "Hasselt"
        ),
    ]
}


# Fictional access points of the seeded outside participants (name, SMP host).
NOORDZEE_AP = ("Noordzee Access Point BV", "smp.noordzee-ap.example")
RHEIN_AP = ("Rhein Peppol GmbH", "smp.rhein-peppol.example")
LOIRE_AP = ("Loire Echanges SAS", "smp.loire-echanges.example")
INVOICE_ONLY = (INVOICE_DOCTYPE,)
BILLING = (INVOICE_DOCTYPE, CREDIT_NOTE_DOCTYPE)


@dataclass
class OutsideParticipant:
    """A participant served by another access point: it receives, but no sandbox tenant owns it.

    ``access_point`` and ``smp_host`` are what a lookup reveals about who holds the ID;
    ``document_types`` what it receives. The control API releases, moves or adds participants.
    """

    peppol_id: str
    name: str
    country_code: str
    city: str
    registration_date: str = "2021-03-15"
    access_point: str = NOORDZEE_AP[0]
    smp_host: str = NOORDZEE_AP[1]
    document_types: tuple[str, ...] = BILLING

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["document_types"] = list(self.document_types)
        return data


def _seed(
    peppol_id: str,
    name: str,
    country: str,
    city: str,
    date: str,
    ap: tuple[str, str],
    types: tuple[str, ...] = BILLING,
) -> OutsideParticipant:
    return OutsideParticipant(peppol_id, name, country, city, date, ap[0], ap[1], types)


# The seed; each sandbox keeps its own changeable copy (Store.participants), restored by reset.
OUTSIDE_PARTICIPANTS: dict[str, OutsideParticipant] = {
    p.peppol_id: p
    for p in [
        _seed("0208:0848934496", "OpenPeppol VZW", "BE", "Brussel", "2019-01-10", NOORDZEE_AP),
        _seed(
            "0208:0443055814",
            "Brouwerij De Zwarte Kat NV",
            "BE",
            "Antwerpen",
            "2021-03-15",
            NOORDZEE_AP,
            INVOICE_ONLY,
        ),
        _seed(
            "9944:NL123456782B01",
            "Voorbeeld Handel B.V.",
            "NL",
            "Utrecht",
            "2022-05-02",
            NOORDZEE_AP,
        ),
        _seed(
            "9930:DE812526315", "Beispiel Grosshandel GmbH", "DE", "Köln", "2020-11-23", RHEIN_AP
        ),
        _seed(
            "9957:FR40303265045", "Exemple Distribution SAS", "FR", "Lyon", "2023-02-14", LOIRE_AP
        ),
    ]
}


def seeded_participants() -> dict[str, OutsideParticipant]:
    return {k: dataclasses.replace(v) for k, v in OUTSIDE_PARTICIPANTS.items()}


def parse_peppol_id(value: str | None) -> tuple[str, str] | None:
    """'0208:0123456789' -> ('0208', '0123456789'); None when not of the form <4 digits>:<id>."""
    if not value:
        return None
    match = PEPPOL_ID_RE.match(value.strip())
    return (match.group(1), match.group(2)) if match else None


def compact_tax_id(tax_id: str) -> str:
    """A VAT number without the spaces, dots, dashes and slashes people type, upper-cased."""
    return re.sub(r"[\s.\-/]", "", tax_id).upper()


def endpoint_from_tax_id(tax_id: str | None) -> tuple[str, str] | None:
    """The (scheme, identifier) of the participant the real service derives from a VAT number.

    One rule for both sides: the UBL EndpointID (sandbox.en16931) and the sender/receiver a send
    derives (sandbox.tenant_api) must agree.
    """
    if not isinstance(tax_id, str) or not tax_id.strip():
        return None
    compact = compact_tax_id(tax_id)
    if re.fullmatch(r"BE[01][0-9]{9}", compact):
        return "0208", compact[2:]
    if re.fullmatch(r"BE[0-9]{9}", compact):  # the old 9-digit form gains a leading zero
        return "0208", "0" + compact[2:]
    prefix = compact[:2]
    if prefix in VAT_SCHEMES and len(compact) > 4 and compact.isalnum():
        return VAT_SCHEMES[prefix], compact
    return None


def peppol_id_from_tax_id(tax_id: str | None) -> str | None:
    """Derive a participant ID from a VAT number, as the real service does when sending.

    BE + 10 digits -> 0208:<10 digits> (the CBE number); other countries -> their EAS VAT scheme
    with the full VAT number (e.g. 9944:NL123456782B01).
    """
    endpoint = endpoint_from_tax_id(tax_id)
    return f"{endpoint[0]}:{endpoint[1]}" if endpoint else None
