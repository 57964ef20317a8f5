"""EN 16931 / Peppol BIS Billing 3.0 business rules for the e-invoice.be JSON invoice.

The real service validates a JSON document by converting it to UBL and running the CEN and
OpenPeppol schematrons over it. The sandbox cannot run those, so this module checks the same
business rules directly on the JSON (with the real rule ids where one exists), computes the
totals the way EN 16931 does, and renders the UBL (``sandbox.ubl``).

Public interface (pure Python, no I/O, never raises on any JSON-like input):

* ``validate_document(payload) -> list[issue]`` in the API's ``ValidationIssue`` shape;
  ``location`` is a JSON path into the payload (``items[2].tax_rate``). Valid = no "error".
* ``compute_totals(payload) -> dict`` with ``Decimal`` amounts.
* ``to_ubl(payload, document_id) -> str``: a Peppol BIS Billing 3.0 Invoice or CreditNote.
* ``peppol_id_from_tax_id(tax_id) -> str | None``: "BE1018265814" -> "0208:1018265814".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import stdnum.be.ogm_vcs
import stdnum.bic
import stdnum.eu.vat
import stdnum.iban
import stdnum.iso11649
from stdnum import get_cc_module

# The VAT number -> Peppol ID rule is the directory's, so the UBL EndpointID and the sender and
# receiver a send derives always agree (peppol_id_from_tax_id stays part of this interface).
from sandbox.directory import VAT_SCHEMES, compact_tax_id, endpoint_from_tax_id
from sandbox.directory import peppol_id_from_tax_id as peppol_id_from_tax_id

Issue = dict[str, str | None]

# --- Code lists --------------------------------------------------------------------------------

DOCUMENT_TYPES = (
    "INVOICE",
    "CREDIT_NOTE",
    "DEBIT_NOTE",
    "SELFBILLING_INVOICE",
    "SELFBILLING_CREDIT_NOTE",
)
CREDIT_NOTE_TYPES = frozenset({"CREDIT_NOTE", "SELFBILLING_CREDIT_NOTE"})

# The currencies the published API enumerates (CurrencyCode); others are valid ISO 4217 codes
# that Peppol accepts but e-invoice.be's schema may refuse, so they only earn a warning.
API_CURRENCIES = frozenset("EUR USD GBP JPY CHF CAD AUD NZD CNY INR SEK NOK DKK SGD HKD".split())
# ISO 4217 active codes (BR-CL-04).
ISO_CURRENCIES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
    TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()
)

# UN/ECE Recommendation 20 (with Rec 21) unit codes: the API's UnitOfMeasureCode enum plus a
# few common Rec 20 codes Peppol accepts that the enum leaves out (BR-CL-23).
UNIT_CODES = frozenset(
    """
    10 11 13 14 15 20 21 22 23 24 25 27 28 33 34 35 37 38 40 41 56 57 58 59 60 61 74 77 80 81 85
    87 89 91 1I EA E01 E07 E09 E10 E12 E14 E17 E20 E23 E25 E27 E31 E34 E35 E36 E37 E38 E39 E40
    E41 E42 E43 E44 E45 E46 E47 E48 E49 E50 E51 E52 E53 E54 E55 E56 E57 E58 E60 E62 E65 E66 E67
    E69 E70 E71 E73 E75 E76 2A 2B 2C 2G 2H 2I 2J 2K 2L 2M 2N 2P 2Q 2R 2U 2X 2Y 2Z 3B 3C 4C 4G 4H
    4K 4L 4M 4N 4O 4P 4Q 4R 4T 4U 4W 4X 5A 5B 5E 5J A10 A11 A12 A13 A14 A15 A16 A17 A18 A19 A2
    A20 A21 A22 A23 A24 A26 A27 A28 A29 A3 A30 A31 A32 A33 A34 A35 A36 A37 A38 A39 A4 A40 A41
    A42 A43 A44 A45 A46 A47 A48 A49 A5 A50 A51 A52 A53 A54 A55 A56 A57 A58 A59 A6 A60 A61 A62
    A63 A64 A65 A66 A67 A68 A69 A7 A70 A71 A72 A73 A74 A75 A76 A77 A78 A79 A8 A80 A81 A82 A83
    A84 A85 A86 A87 A88 A89 A9 A90 A91 A92 A93 A94 A95 A96 A97 A98 A99 ACR AH AI AK AMH AMT ANN
    B1 B11 B12 B13 B14 B15 B16 B17 B18 B19 B20 B21 B22 B23 B24 B25 B26 B27 B28 B29 B3 B30 B31
    B32 B33 B34 B35 B36 B37 B38 B39 B4 B40 B41 B42 B43 B44 B45 B46 B47 B48 B49 B5 B50 B52 B53
    B54 B55 B56 B57 B58 B59 B6 B60 B61 B62 B63 B64 B65 B66 B67 B68 B69 B7 B70 B71 B72 B73 B74
    B75 B76 B77 B78 B79 B8 B80 B81 B82 B83 B84 B85 B86 B87 B88 B89 B9 B90 B91 B92 B93 B94 B95
    B96 B97 B98 B99 BAR BB BFT BHP BIL BLD BLL BUA BUI C0 C10 C11 C12 C13 C14 C15 C16 C17 C18
    C19 C20 C21 C22 C23 C24 C25 C26 C27 C28 C29 C30 C31 C32 C33 C34 C35 C36 C37 C38 C39 C40 C41
    C42 C43 C44 C45 C46 C47 C48 C49 C50 C51 C52 C53 C54 C55 C56 C57 C58 C59 C60 C61 C63 C64 C65
    C66 C67 C68 C69 C70 C71 C72 C73 C74 C75 C76 C77 C78 C79 C80 C81 C82 C83 C84 C85 C86 C87 C88
    C89 C90 C91 C92 C93 C94 C95 C96 C97 C98 C99 CDL CEL CHU CIU CLT CMK CMQ CMT CNP CNT COU CTG
    CTN CUR CWA CWI DAN DAY DB DD DG DI DLT DMK DMQ DMT DPC DPT DRA DZN DZP FOT GLL GLI GRM GRO
    HUR HTZ INH KGM KMT MTR SMI MIN MON ONZ LBR QT SEC FTK INK MTK YDK TNE VLT WTT YRD FTQ INQ
    MTQ YDQ HAR KLT MLT MMT KMK MMK XAA XAB XAC XAD XAE XAF XAG XAH XAI XAJ XAL XAM XAP XAT XAV
    XB4 XBA XBB XBC XBD XBE XBF XBG XBH XBI XBJ XBK XBL XBM XBN XBO XBP XBQ XBR XBS XBT XBU XBV
    XBW XBX XBY XBZ XCA XCB XCC XCD XCE XCF XCG XCH XCI XCJ XCK XCL XCM XCN XCO XCP XCQ XCR XCS
    XCT XCU XCV XCW XCX XCY XCZ XDA XDB XDC XDD XDE XDF XDG XDH XDI XDJ XDK XDL XDM XDN XDP XDQ
    XDR XDS XDT XDU XDV XDW XDX XDY XDZ XEA XEB XEC XED XEE XEF XEG XEH XEI XEJ XEK XEL XEM XEN
    XEP XEQ XER XES XET XEU XEV XEW XEX XEY XFB XFC XFD XFE XFF XFG XFH XFI XFJ XFK XFL XFM XFN
    XFO XFP XFQ XFR XFS XFT XFU XFV XFW XFX XFY XFZ XGA XGB XGC XGD XGE XGF XGG XGH XGI XGJ XGK
    XGL XGM XGN XGO XGP XGQ XGR XGS XGT XGU XGV XGW XGX XGY XGZ XHA XHB XHC XHD XHE XHF XHG XHH
    XHI XHJ XHK XHL XHM XHN XHP XHQ XHR XHS XHT XHU XHV XHW XHX XHY XHZ XIA XIB XIC XID XIE XIF
    XIG XIH XII XIJ XIK XIL XIM XIN XIO XJA XJB XJC XJD XJE XJF XJG XJH XJI XJJ XJK XJL XJM XJN
    XJO XJP XJQ XJR XJS XJT XJU XJV XJW XJX XJY XJZ XLA XLB XLC XLD XLE XLF XLG XLH XLI XLJ XLK
    XLL XLM XLN XLO XLP XLQ XLR XLS XLT XLU XLV XLW XLX XLY XLZ XMA XMB XMC XMD XME XMF XMG XMH
    XMI XMJ XMK XML XMM XMN XMO XMP XMQ XMR XMS XMT XMU XMV XMW XMX XMY XMZ XNA XNB XNC XND XNE
    XNF XNG XNH XNI XNJ XNK XNL XNM XOA XOB XOC XOD XOE XOF XOG XOH XOI XOJ XOK XOL XOM XON XOO
    XOP XOQ XOR XOS XOT XOU XOV XOW XOX XOY XOZ XP1 XP2 XP3 XP4 XPA XPB XPC XPD XPE XPF XPG XPH
    XPI XPJ XPK XPL XPM XPN XPO XPP XPQ XPR XPS XPT XPU XPV XPW XPX XPY XPZ XQA XQB XQC XQD XQE
    XQF XQG XQH XQI XQJ XQK XQL XQM XQN XQO XQP XQQ XQR XQS XRD XRE XRF XRG XRH XRI XRJ XRK XRL
    XRM XRN XRO XRP XRQ XRR XRS XRT XRU XRV XRW XRX XRY XRZ XSA XSB XSC XSD XSE XSF XSG XSH XSI
    XSJ XSK XSL XSM XSN XSO XSP XSQ XSR XSS XST XSU XSV XSW XSX XSY XSZ XTA XTB XTC XTD XTE XTF
    XTG XTI XTJ XTK XTL XTM XTN XTO XTR XTS XTT XTU XTV XTW XTX XTY XTZ XUC XUN XVA XVG XVI XVK
    XVL XVN XVO XVP XVQ XVR XVS XVY XWA XWB XWC XWD XWF XWG XWH XWJ XWK XWL XWM XWN XWP XWQ XWR
    XWS XWT XWU XWV XWW XWX XWY XWZ XXA XXB XXC XXD XXF XXG XXH XXJ XXK XYA XYB XYC XYD XYF XYG
    XYH XYJ XYK XYL XYM XYN XYP XYQ XYR XYS XYT XYV XYW XYX XYY XYZ XZA XZB XZC XZD XZF XZG XZH
    XZJ XZK XZL XZM XZN XZP XZQ XZR XZS XZT XZU XZV XZW XZX XZY XZZ ZZ NAR C62 LTR H87
    WEE LS SET PR NPR KWH MWH GWH KWT MAW KMH QAN LM
    """.split()
)

# UNCL5305 as used by Peppol (BR-CL-18). B (Italian split payment) is in the API's enum.
TAX_CATEGORIES = frozenset({"S", "Z", "E", "AE", "K", "G", "O", "L", "M", "B"})
# Categories where the VAT rate must be 0 (BR-Z-05, BR-E-05, BR-AE-05, BR-IC-05, BR-G-05 ...).
ZERO_RATE_CATEGORIES = frozenset({"Z", "E", "AE", "K", "G"})
# Categories whose VAT breakdown needs an exemption reason (BR-E-10, BR-AE-10, BR-IC-10 ...).
EXEMPT_CATEGORIES = frozenset({"E", "AE", "K", "G", "O"})
CATEGORY_NAMES = {
    "S": "standard rated",
    "Z": "zero rated",
    "E": "exempt from VAT",
    "AE": "reverse charge",
    "K": "intra-community supply",
    "G": "export outside the EU",
    "O": "not subject to VAT",
    "L": "Canary Islands IGIC",
    "M": "Ceuta and Melilla IPSI",
    "B": "split payment",
}
# Rule id families per category, for the "rate" and "seller VAT id" rules.
_CATEGORY_RULES = {
    "S": "BR-S",
    "Z": "BR-Z",
    "E": "BR-E",
    "AE": "BR-AE",
    "K": "BR-IC",
    "G": "BR-G",
    "O": "BR-O",
    "L": "BR-IG",
    "M": "BR-IP",
    "B": "BR-B",
}

VATEX_CODES = frozenset(
    """
    VATEX-EU-79-C VATEX-EU-132 VATEX-EU-132-1A VATEX-EU-132-1B VATEX-EU-132-1C VATEX-EU-132-1D
    VATEX-EU-132-1E VATEX-EU-132-1F VATEX-EU-132-1G VATEX-EU-132-1H VATEX-EU-132-1I
    VATEX-EU-132-1J VATEX-EU-132-1K VATEX-EU-132-1L VATEX-EU-132-1M VATEX-EU-132-1N
    VATEX-EU-132-1O VATEX-EU-132-1P VATEX-EU-132-1Q VATEX-EU-143 VATEX-EU-143-1A VATEX-EU-143-1B
    VATEX-EU-143-1C VATEX-EU-143-1D VATEX-EU-143-1E VATEX-EU-143-1F VATEX-EU-143-1FA
    VATEX-EU-143-1G VATEX-EU-143-1H VATEX-EU-143-1I VATEX-EU-143-1J VATEX-EU-143-1K
    VATEX-EU-143-1L VATEX-EU-144 VATEX-EU-146-1E VATEX-EU-148 VATEX-EU-148-A VATEX-EU-148-B
    VATEX-EU-148-C VATEX-EU-148-D VATEX-EU-148-E VATEX-EU-148-F VATEX-EU-148-G VATEX-EU-151
    VATEX-EU-151-1A VATEX-EU-151-1AA VATEX-EU-151-1B VATEX-EU-151-1C VATEX-EU-151-1D
    VATEX-EU-151-1E VATEX-EU-159 VATEX-EU-309 VATEX-EU-AE VATEX-EU-D VATEX-EU-F VATEX-EU-G
    VATEX-EU-I VATEX-EU-IC VATEX-EU-O VATEX-EU-J VATEX-FR-FRANCHISE VATEX-FR-CNWVAT
    """.split()
)
# UNCL5189 (allowance reasons, BR-CL-19) and UNCL7161 (charge reasons, BR-CL-20) per the API.
ALLOWANCE_REASON_CODES = frozenset(
    "41 42 60 62 63 64 65 66 67 68 70 71 88 95 100 102 103 104 105".split()
)
CHARGE_REASON_CODES = frozenset(
    """
    AA AAA AAC AAD AAE AAF AAH AAI AAS AAT AAV AAY AAZ ABA ABB ABC ABD ABF ABK ABL ABN ABR ABS
    ABT ABU ACF ACG ACH ACI ACJ ACK ACL ACM ACS ADC ADE ADJ ADK ADL ADM ADN ADO ADP ADQ ADR ADT
    ADW ADY ADZ AEA AEB AEC AED AEF AEH AEI AEJ AEK AEL AEM AEN AEO AEP AES AET AEU AEV AEW AEX
    AEY AEZ AJ AU CA CAB CAD CAE CAF CAI CAJ CAK CAL CAM CAN CAO CAP CAQ CAR CAS CAT CAU CAV CAW
    CAX CAY CAZ CD CG CS CT DAB DAC DAD DAF DAG DAH DAI DAJ DAK DAL DAM DAN DAO DAP DAQ DL EG EP
    ER FAA FAB FAC FC FH FI GAA HAA HD HH IAA IAB ID IF IR IS KO L1 LA LAA LAB LF MAE MI ML NAA
    OA PA PAA PC PL PRV RAB RAC RAD RAF RE RF RH RV SA SAA SAD SAE SAI SG SH SM SU TAB TAC TT TV
    V1 V2 WH XAA YY ZZZ
    """.split()
)

# ISO 3166-1 alpha-2 as accepted for VAT identifier prefixes by BR-CO-09 (EL for Greece, XI
# for Northern Ireland, 1A for Kosovo).
VAT_PREFIXES = frozenset(
    """
    1A AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
    DZ EC EE EG EH EL ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT
    GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR
    KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT
    MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT
    PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD
    TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XI YE
    YT ZA ZM ZW
    """.split()
)
# ISO 3166 country codes for postal addresses: the VAT prefixes minus the VAT-only ones.
COUNTRY_CODES = (VAT_PREFIXES - {"EL", "XI", "1A"}) | {"XK"}

# The country an EAS scheme belongs to, to find a buyer's country from its Peppol ID alone.
SCHEME_COUNTRIES = {scheme: cc for cc, scheme in VAT_SCHEMES.items() if cc != "EL"} | {
    "0208": "BE",
    "9925": "BE",
    "0106": "NL",
    "0190": "NL",
    "0007": "SE",
    "0192": "NO",
    "0184": "DK",
    "0096": "DK",
    "0037": "FI",
    "0216": "FI",
    "0213": "FI",
    "0002": "FR",
    "0009": "FR",
    "0204": "DE",
    "0211": "IT",
    "0210": "IT",
    "0151": "AU",
    "0195": "SG",
    "0196": "IS",
    "0191": "EE",
    "0200": "LT",
    "0218": "LV",
    "9959": "US",
}
# Electronic address schemes (CEF EAS code list, BR-CL-25) commonly seen on Peppol.
EAS_CODES = frozenset(
    """
    0002 0007 0009 0037 0060 0088 0096 0097 0106 0130 0135 0142 0147 0151 0154 0158 0170 0177
    0183 0184 0188 0190 0191 0192 0193 0194 0195 0196 0198 0199 0200 0201 0202 0203 0204 0205
    0208 0209 0210 0211 0212 0213 0215 0216 0217 0218 0221 0225 0230 0235 0240 9901 9910 9913
    9914 9915 9918 9919 9920 9922 9923 9924 9925 9926 9927 9928 9929 9930 9931 9932 9933 9934
    9935 9936 9937 9938 9939 9940 9941 9942 9943 9944 9945 9946 9947 9948 9949 9950 9951 9952
    9953 9955 9957 9959
    """.split()
)

# Country names as they end a free-text address ("…, 1980 Zemst, Belgium").
COUNTRY_NAMES = {
    "belgium": "BE", "belgique": "BE", "belgie": "BE", "belgië": "BE", "belgien": "BE",
    "netherlands": "NL", "the netherlands": "NL", "nederland": "NL", "pays-bas": "NL",
    "france": "FR", "frankrijk": "FR", "frankreich": "FR",
    "germany": "DE", "deutschland": "DE", "allemagne": "DE", "duitsland": "DE",
    "luxembourg": "LU", "luxemburg": "LU", "italy": "IT", "italia": "IT", "italie": "IT",
    "spain": "ES", "españa": "ES", "espana": "ES", "spanje": "ES", "portugal": "PT",
    "austria": "AT", "österreich": "AT", "oostenrijk": "AT", "ireland": "IE",
    "denmark": "DK", "danmark": "DK", "sweden": "SE", "sverige": "SE", "finland": "FI",
    "suomi": "FI", "norway": "NO", "norge": "NO", "poland": "PL", "polska": "PL",
    "czech republic": "CZ", "czechia": "CZ", "slovakia": "SK", "hungary": "HU",
    "romania": "RO", "bulgaria": "BG", "greece": "GR", "croatia": "HR", "slovenia": "SI",
    "estonia": "EE", "latvia": "LV", "lithuania": "LT", "cyprus": "CY", "malta": "MT",
    "united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB",
    "switzerland": "CH", "suisse": "CH", "schweiz": "CH", "zwitserland": "CH",
    "iceland": "IS", "liechtenstein": "LI", "monaco": "MC",
    "united states": "US", "usa": "US", "united states of america": "US",
}  # fmt: skip

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
SELFBILLING_CUSTOMIZATION_ID = (
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:selfbilling:3.0"
)
SELFBILLING_PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:selfbilling:01:1.0"

CEN = "CEN-EN16931-UBL"
PEPPOL = "PEPPOL-EN16931-UBL"
JSON = "JSON"  # checks the API makes on the JSON itself, before the UBL exists

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Amounts beyond this are typing accidents, and keeping them bounded keeps Decimal exact.
MAX_NUMBER = Decimal(10) ** 12
# Peppol R120 lets the line amount differ from quantity × price by up to 0.02 (its u:slack).
LINE_SLACK = Decimal("0.02")


# --- Small helpers -------------------------------------------------------------------------------


def _round2(value: Decimal) -> Decimal:
    """EN 16931 rounding: half up to two decimals."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _decimals(value: Decimal) -> int:
    """Significant decimals: 1.50 counts as one, as the UBL will carry it normalised."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _fmt(value: Decimal) -> str:
    return format(value, "f")


def _rate_str(rate: Decimal) -> str:
    return _fmt(rate.quantize(CENT, rounding=ROUND_HALF_UP))


_NUMBER_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?")
_COMMA_NUMBER_RE = re.compile(r"[+-]?[0-9]+,[0-9]+")
_RATE_RE = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PEPPOL_ID_RE = re.compile(r"([0-9]{4}):([A-Za-z0-9][A-Za-z0-9._\-]*)")


def _parse_number(raw: Any) -> tuple[Decimal | None, str | None]:
    """A JSON number or numeric string -> (value, None); absent -> (None, None);
    anything else -> (None, what is wrong, in words)."""
    if raw is None:
        return None, None
    if isinstance(raw, bool):
        return None, "must be a number, not true or false"
    if isinstance(raw, int):
        if abs(raw) >= MAX_NUMBER:
            return None, "is far too large"
        return Decimal(raw), None
    if isinstance(raw, float):
        if not math.isfinite(raw):
            return None, "must be a number"
        value = Decimal(repr(raw))
    elif isinstance(raw, Decimal):  # Python callers (the sandbox itself) pass Decimals
        if not raw.is_finite():
            return None, "must be a number"
        value = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None, None
        if _COMMA_NUMBER_RE.fullmatch(text):
            return None, "must use a dot as decimal separator (for example 12.50)"
        if not _NUMBER_RE.fullmatch(text):
            return None, "must be a number"
        value = Decimal(text)
    else:
        return None, "must be a number"
    if abs(value) >= MAX_NUMBER:
        return None, "is far too large"
    return value, None


def _parse_date(raw: Any) -> tuple[date | None, str | None]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    if isinstance(raw, date):  # a Python caller's date (or datetime) object
        return (raw.date() if isinstance(raw, datetime) else raw), None
    if not isinstance(raw, str) or not _DATE_RE.fullmatch(raw.strip()):
        return None, "must be a date written as YYYY-MM-DD (for example 2024-10-24)"
    try:
        return date.fromisoformat(raw.strip()), None
    except ValueError:
        return None, f"is not a real calendar date ({raw.strip()})"


def _blank(raw: Any) -> bool:
    """Not given: null, or a string of spaces (a field error elsewhere covers other types)."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _text(raw: Any) -> str | None:
    """Lenient text: numbers become their string form; blank, lists and dicts count as absent."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        return str(raw) if not isinstance(raw, float) or math.isfinite(raw) else None
    if isinstance(raw, str):
        return raw.strip() or None
    return None


def _country_from_address(address: str | None) -> str | None:
    if not address:
        return None
    last = address.replace("\n", ",").split(",")[-1].strip().rstrip(".")
    if last.upper() in COUNTRY_CODES and len(last) == 2:
        return last.upper()
    return COUNTRY_NAMES.get(last.lower())


def _show(value: Any) -> str:
    """A value quoted for a message, cut short: messages must stay readable."""
    text = value if isinstance(value, str) else repr(value)
    return f'"{text[:40]}…"' if len(text) > 40 else f'"{text}"'


def _valid(module: Any, number: str) -> bool:
    try:
        return bool(module.is_valid(number))
    except Exception:  # stdnum promises False, but odd unicode has surprised it before
        return False


# --- The document model the checks, the totals and the UBL share ---------------------------------


@dataclass
class AllowanceCharge:
    is_charge: bool
    amount: Decimal
    base_amount: Decimal | None = None
    multiplier: Decimal | None = None
    reason: str | None = None
    reason_code: str | None = None
    tax_code: str = "S"
    tax_rate: Decimal = ZERO
    rate_defaulted: bool = False  # no tax_rate sent: the API's 21.00 applies
    location: str = ""  # where in the payload, for messages


@dataclass
class Line:
    number: int
    name: str
    description: str | None
    quantity: Decimal
    unit: str
    price: Decimal
    amount: Decimal
    tax_code: str
    tax_rate: Decimal
    product_code: str | None = None
    allowances: list[AllowanceCharge] = field(default_factory=list)
    charges: list[AllowanceCharge] = field(default_factory=list)


@dataclass
class Party:
    name: str | None = None
    tax_id: str | None = None  # compact, e.g. BE1018265814
    company_id: str | None = None
    email: str | None = None
    address: str | None = None
    address_recipient: str | None = None
    country: str | None = None
    endpoint: tuple[str, str] | None = None  # (EAS scheme, identifier)


@dataclass
class Payment:
    iban: str | None = None
    bic: str | None = None
    account_number: str | None = None
    reference: str | None = None


@dataclass
class Document:
    document_type: str = "INVOICE"
    invoice_id: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    currency: str = "EUR"
    note: str | None = None
    purchase_order: str | None = None
    buyer_reference: str | None = None
    billing_reference: str | None = None
    service_start: date | None = None
    service_end: date | None = None
    vendor: Party = field(default_factory=Party)
    customer: Party = field(default_factory=Party)
    shipping_address: str | None = None
    shipping_recipient: str | None = None
    lines: list[Line] = field(default_factory=list)
    allowances: list[AllowanceCharge] = field(default_factory=list)
    charges: list[AllowanceCharge] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    payment_term: str | None = None
    vatex: str | None = None
    vatex_note: str | None = None
    previous_unpaid_balance: Decimal = ZERO

    @property
    def is_credit_note(self) -> bool:
        return self.document_type in CREDIT_NOTE_TYPES


@dataclass
class TaxSubtotal:
    tax_code: str
    rate: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal


@dataclass
class Totals:
    line_total: Decimal  # BT-106
    allowance_total: Decimal  # BT-107
    charge_total: Decimal  # BT-108
    tax_exclusive: Decimal  # BT-109
    tax_total: Decimal  # BT-110
    tax_inclusive: Decimal  # BT-112
    prepaid: Decimal  # BT-113 (minus the previous unpaid balance, which the payer also owes)
    payable: Decimal  # BT-115
    subtotals: list[TaxSubtotal]


# --- Reading the payload ---------------------------------------------------------------------------


class _Reader:
    """Turns the payload into a ``Document`` while recording field-level issues.

    Every access is defensive: the payload is whatever JSON the client sent.
    """

    def __init__(self, payload: Any) -> None:
        self.payload = payload if isinstance(payload, dict) else {}
        self.issues: list[Issue] = []

    # issue helpers
    def error(self, message: str, location: str | None, rule_id: str | None, test: str) -> None:
        self._add("error", message, location, rule_id, test)

    def warning(self, message: str, location: str | None, rule_id: str | None, test: str) -> None:
        self._add("warning", message, location, rule_id, test)

    def _add(
        self, kind: str, message: str, location: str | None, rule_id: str | None, test: str
    ) -> None:
        rule = rule_id or ""
        schematron = (
            CEN if rule.startswith("BR-") else PEPPOL if rule.startswith("PEPPOL") else JSON
        )
        self.issues.append(
            {
                "message": message,
                "type": kind,
                "location": location,
                "rule_id": rule_id,
                "flag": "fatal" if kind == "error" else "warning",
                "test": test,
                "schematron": schematron,
            }
        )

    def pick(self, obj: dict, *keys: str) -> tuple[str, Any]:
        """The first of ``keys`` present with a value (the spec name first, then the guide's
        aliases), and the key to report it under."""
        for key in keys:
            if obj.get(key) is not None:
                return key, obj[key]
        return keys[0], None

    def text(self, obj: dict, location: str, *keys: str) -> tuple[str, str | None]:
        key, raw = self.pick(obj, *keys)
        where = f"{location}{key}"
        if raw is not None and _text(raw) is None and not isinstance(raw, str):
            self.error(f"{key} must be text.", where, "JSON-TEXT", f"{key} is a string")
        return where, _text(raw)

    def number(self, raw: Any, where: str, label: str) -> Decimal | None:
        value, problem = _parse_number(raw)
        if problem:
            self.error(f"The {label} {problem}.", where, "JSON-NUMBER", f"{where} is a number")
        return value

    def amount(self, raw: Any, where: str, label: str, dec_rule: str) -> Decimal | None:
        value = self.number(raw, where, label)
        if value is not None and _decimals(value) > 2:
            self.error(
                f"The {label} has more than 2 decimals ({_fmt(value)}); round it to the cent.",
                where,
                dec_rule,
                "string-length(substring-after(., '.')) <= 2",
            )
            value = _round2(value)
        return value

    def rate(self, raw: Any, where: str) -> Decimal | None:
        """A VAT rate: a percentage such as "21.00". JSON numbers pass (the spec allows them)."""
        message = 'The VAT rate must be a percentage such as "21.00" (without the % sign).'
        if raw is None:
            return None
        if isinstance(raw, str):
            text = raw.strip()
            if _RATE_RE.fullmatch(text):
                value = Decimal(text)
            else:
                # Other spellings of a number pass only within 0..100 (then the decimals check
                # below); "21%" or "abc" get the general message.
                value = None if "%" in text else _parse_number(text)[0]
                if value is None or value < 0 or value > 100:
                    self.error(
                        message, where, "JSON-TAX-RATE", "tax_rate matches \\d{1,3}(\\.\\d{1,2})?"
                    )
                    return None
        else:
            value, problem = _parse_number(raw)
            if value is None:
                self.error(message, where, "JSON-TAX-RATE", "tax_rate is a percentage")
                return None
        if value > 100:
            self.error(
                f'The VAT rate {_fmt(value)}% is above 100%: write the percentage, such as "21.00".',
                where,
                "JSON-TAX-RATE",
                "0 <= tax_rate <= 100",
            )
            return None
        if value < 0:
            self.error(
                "The VAT rate cannot be negative.", where, "JSON-TAX-RATE", "0 <= tax_rate <= 100"
            )
            return None
        if _decimals(value) > 2:
            self.error(
                'The VAT rate can have at most 2 decimals (for example "5.50").',
                where,
                "JSON-TAX-RATE",
                "tax_rate has at most 2 decimals",
            )
            return None
        return value

    def tax_code(self, raw: Any, where: str) -> str | None:
        if raw is None:
            return None
        code = raw.strip().upper() if isinstance(raw, str) else None
        if code not in TAX_CATEGORIES:
            self.error(
                f"The VAT category {_show(raw)} is unknown: use S (standard), Z (zero rated), "
                "E (exempt), AE (reverse charge), K (intra-community), G (export), "
                "O (not subject to VAT), L, M or B.",
                where,
                "BR-CL-18",
                "cbc:ID is in UNCL5305",
            )
            return None
        return code

    def list_of_dicts(self, key: str, label: str) -> list[tuple[int, dict]]:
        raw = self.payload.get(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.error(f"{label} must be a list.", key, "JSON-LIST", f"{key} is an array")
            return []
        out = []
        for i, entry in enumerate(raw):
            if isinstance(entry, dict):
                out.append((i, entry))
            else:
                self.error(
                    f"Each entry of {label} must be an object.",
                    f"{key}[{i}]",
                    "JSON-OBJECT",
                    "object",
                )
        return out

    # the document
    def read(self) -> Document:
        doc = Document()
        p = self.payload
        key, raw_type = self.pick(p, "document_type", "type")
        if raw_type is not None:
            kind = raw_type.strip().upper() if isinstance(raw_type, str) else None
            if kind in DOCUMENT_TYPES:
                doc.document_type = kind
            else:
                self.error(
                    "The document type must be INVOICE, CREDIT_NOTE, DEBIT_NOTE, "
                    "SELFBILLING_INVOICE or SELFBILLING_CREDIT_NOTE.",
                    key,
                    "JSON-DOCUMENT-TYPE",
                    "document_type in DocumentType",
                )
        _, doc.invoice_id = self.text(p, "", "invoice_id", "invoice_number")
        for attr, name in (
            ("invoice_date", "invoice_date"),
            ("due_date", "due_date"),
            ("service_start", "service_start_date"),
            ("service_end", "service_end_date"),
        ):
            value, problem = _parse_date(p.get(name))
            if problem:
                self.error(
                    f"The {name.replace('_', ' ')} {problem}.", name, "PEPPOL-EN16931-F001",
                    "string-length(text()) = 10 and (string(.) castable as xs:date)",
                )  # fmt: skip
            setattr(doc, attr, value)
        self.read_currency(doc)
        _, doc.note = self.text(p, "", "note")
        _, doc.purchase_order = self.text(p, "", "purchase_order")
        _, doc.buyer_reference = self.text(p, "", "buyer_reference", "customer_id")
        _, doc.payment_term = self.text(p, "", "payment_term")
        _, doc.shipping_address = self.text(p, "", "shipping_address", "service_address")
        _, doc.shipping_recipient = self.text(
            p, "", "shipping_address_recipient", "service_address_recipient"
        )
        self.read_billing_reference(doc)
        self.read_parties(doc)
        vatex = _text(p.get("vatex"))
        if vatex is not None and vatex.upper() not in VATEX_CODES:
            self.error(
                f"The VAT exemption code {_show(vatex)} is unknown: use a VATEX code such as "
                "VATEX-EU-AE (reverse charge) or VATEX-EU-IC (intra-community supply).",
                "vatex",
                "BR-CL-22",
                "cbc:TaxExemptionReasonCode is in the VATEX code list",
            )
        else:
            doc.vatex = vatex.upper() if vatex else None
        _, doc.vatex_note = self.text(p, "", "vatex_note")
        balance = self.amount(
            p.get("previous_unpaid_balance"), "previous_unpaid_balance", "previous unpaid balance",
            "BR-DEC-16",
        )  # fmt: skip
        doc.previous_unpaid_balance = balance or ZERO
        doc_code = self.tax_code(p.get("tax_code"), "tax_code")
        self.read_lines(doc, doc_code)
        doc.allowances = self.read_document_charges("allowances", is_charge=False)
        doc.charges = self.read_document_charges("charges", is_charge=True)
        self.read_payments(doc)
        return doc

    def read_currency(self, doc: Document) -> None:
        raw = self.payload.get("currency")
        if raw is None:
            return
        code = raw.strip() if isinstance(raw, str) else None
        if code not in ISO_CURRENCIES:
            self.error(
                f"The currency {_show(raw)} is not an ISO 4217 code: use three capital letters "
                'such as "EUR".',
                "currency",
                "BR-CL-04",
                "cbc:DocumentCurrencyCode is in ISO 4217",
            )
            return
        doc.currency = code
        if code not in API_CURRENCIES:
            self.warning(
                f"{code} is a valid currency for Peppol, but e-invoice.be's API only lists "
                + ", ".join(sorted(API_CURRENCIES))
                + "; the live service may refuse it.",
                "currency",
                "JSON-CURRENCY",
                "currency in CurrencyCode",
            )

    def read_billing_reference(self, doc: Document) -> None:
        key, raw = self.pick(
            self.payload,
            "billing_reference",
            "invoice_reference",
            "preceding_invoice_id",
            "preceding_invoice_reference",
        )
        if isinstance(raw, dict):  # {"invoice_id": ...} / {"id": ...}
            raw = raw.get("invoice_id", raw.get("id"))
        elif isinstance(raw, list) and raw:
            raw = raw[0]
        doc.billing_reference = _text(raw)
        if doc.is_credit_note and not doc.billing_reference:
            self.error(
                "A credit note must say which invoice it corrects: add the number of that "
                "invoice as billing_reference.",
                key,
                "BR-55",
                "exists(cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID)",
            )

    def read_parties(self, doc: Document) -> None:
        p = self.payload
        for role, party, name_rule in (
            ("vendor", doc.vendor, "BR-06"),
            ("customer", doc.customer, "BR-07"),
        ):
            who = "seller (vendor)" if role == "vendor" else "buyer (customer)"
            where, party.name = self.text(p, "", f"{role}_name")
            if not party.name:
                self.error(
                    f"The {who} name is missing.",
                    where,
                    name_rule,
                    "normalize-space(cac:PartyLegalEntity/cbc:RegistrationName) != ''",
                )
            _, party.address = self.text(p, "", f"{role}_address")
            _, party.address_recipient = self.text(p, "", f"{role}_address_recipient")
            _, party.company_id = self.text(p, "", f"{role}_company_id")
            where, party.email = self.text(p, "", f"{role}_email")
            if party.email and not _EMAIL_RE.fullmatch(party.email):
                self.warning(
                    f"The {who} email address {_show(party.email)} does not look like an email "
                    "address.",
                    where,
                    "JSON-EMAIL",
                    "email has the form name@domain",
                )
            party.tax_id = self.read_tax_id(f"{role}_tax_id", who)
            party.country = _country_from_tax_id(party.tax_id) or _country_from_address(
                party.address
            )
            if role == "customer" and party.country is None:
                party.country = _country_from_address(_text(p.get("billing_address")))
            party.endpoint = endpoint_from_tax_id(party.tax_id)
            if party.endpoint is None and party.company_id and party.country == "BE":
                cbe = re.sub(r"[^0-9]", "", party.company_id)
                if len(cbe) in (9, 10):
                    party.endpoint = ("0208", cbe.zfill(10))
        raw_peppol = _text(p.get("customer_peppol_id"))
        if raw_peppol:
            match = _PEPPOL_ID_RE.fullmatch(raw_peppol)
            if not match:
                self.error(
                    "The customer Peppol ID must look like <scheme>:<identifier>, for example "
                    "0208:0123456789.",
                    "customer_peppol_id",
                    "BR-CL-25",
                    "@schemeID is in the EAS code list",
                )
            else:
                scheme, ident = match.groups()
                if scheme not in EAS_CODES:
                    self.warning(
                        f"The Peppol scheme {scheme} is not one the sandbox knows; check it.",
                        "customer_peppol_id",
                        "BR-CL-25",
                        "@schemeID is in the EAS code list",
                    )
                doc.customer.endpoint = (scheme, ident)
                doc.customer.country = doc.customer.country or SCHEME_COUNTRIES.get(scheme)

    def read_tax_id(self, key: str, who: str) -> str | None:
        raw = self.payload.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        example = "for example BE1018265814 for Belgium"
        if not isinstance(raw, str):
            self.error(
                f"The {who} VAT number must be text ({example}).", key, "JSON-TEXT", "string"
            )
            return None
        compact = compact_tax_id(raw)
        prefix = compact[:2]
        if prefix not in VAT_PREFIXES or len(compact) < 4:
            self.error(
                f"The {who} VAT number {_show(raw.strip())} must start with its country code "
                f"({example}).",
                key,
                "BR-CO-09",
                "substring(cbc:CompanyID, 1, 2) is an ISO 3166-1 alpha-2 code",
            )
            return None
        module = None
        if prefix.lower() in stdnum.eu.vat.MEMBER_STATES or prefix == "EL":
            module = stdnum.eu.vat
        elif prefix in ("GB", "CH", "NO"):
            module = get_cc_module(prefix.lower(), "mva" if prefix == "NO" else "vat")
        if module is not None:
            try:
                compact = module.compact(compact)
                module.validate(compact)
            except Exception:  # stdnum raises ValidationError, odd input maybe more
                self.error(
                    f"The {who} VAT number {_show(raw.strip())} is not valid: its length or check "
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

    def read_lines(self, doc: Document, doc_code: str | None) -> None:
        raw_items = self.payload.get("items")
        if not isinstance(raw_items, list) or not raw_items:
            message = "An invoice needs at least one line (items)."
            if raw_items is not None and not isinstance(raw_items, list):
                message = "items must be a list of invoice lines."
            self.error(
                message, "items", "BR-16", "exists(cac:InvoiceLine) or exists(cac:CreditNoteLine)"
            )
            return
        for i, item in enumerate(raw_items):
            where = f"items[{i}]"
            if not isinstance(item, dict):
                self.error("Each invoice line must be an object.", where, "BR-16", "object")
                continue
            line = self.read_line(doc, i, item, doc_code)
            if line is not None:
                doc.lines.append(line)

    def read_line(self, doc: Document, i: int, item: dict, doc_code: str | None) -> Line | None:
        at = f"items[{i}]."
        _, description = self.text(item, at, "description")
        _, product_code = self.text(item, at, "product_code")
        name = description or product_code
        if not name:
            self.error(
                f"Line {i + 1} needs a description of what was sold.",
                at + "description",
                "BR-25",
                "normalize-space(cac:Item/cbc:Name) != ''",
            )
        quantity = self.number(item.get("quantity"), at + "quantity", "quantity")
        quantity_ok = quantity is not None or item.get("quantity") is None
        if quantity is None:
            quantity = Decimal(1)  # the API's default when the quantity is left out
        raw_unit = item.get("unit")
        unit = "C62"  # "one" / piece: what the API uses when no unit is given
        if raw_unit is not None:
            code = raw_unit.strip() if isinstance(raw_unit, str) else None
            if code in UNIT_CODES:
                unit = code
            else:
                self.error(
                    f"The unit {_show(raw_unit)} is not a UN/ECE unit code: use for example C62 "
                    "(pieces), HUR (hours), DAY (days), KGM (kilograms) or MTR (metres).",
                    at + "unit",
                    "BR-CL-23",
                    "@unitCode is in UN/ECE Recommendation 20/21",
                )
        price = self.number(item.get("unit_price"), at + "unit_price", "unit price")
        price_ok = price is not None or item.get("unit_price") is None
        if price is not None and price < 0:
            self.error(
                "The unit price cannot be negative: to give money back, use a credit note "
                "or a negative quantity.",
                at + "unit_price",
                "BR-27",
                "(cac:Price/cbc:PriceAmount) >= 0",
            )
        allowances = self.read_line_charges(item, at, is_charge=False)
        charges = self.read_line_charges(item, at, is_charge=True)
        code, rate = self.line_tax(i, item, at, doc_code)
        line_tax = self.amount(item.get("tax"), at + "tax", "line VAT amount", "BR-DEC-20")
        given = self.amount(item.get("amount"), at + "amount", "line amount", "BR-DEC-23")
        amount_ok = given is not None or item.get("amount") is None
        net_adjust = sum((c.amount for c in charges), ZERO) - sum(
            (a.amount for a in allowances), ZERO
        )
        if price is None and price_ok and given is not None:
            # Only the line total was sent: the price follows from it.
            price = (given - net_adjust) / quantity if quantity else given - net_adjust
            price = price.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        if price is None:
            if price_ok and amount_ok:
                self.error(
                    f"Line {i + 1} needs a unit price.",
                    at + "unit_price",
                    "BR-26",
                    "exists(cac:Price/cbc:PriceAmount)",
                )
            return None
        if not quantity_ok:
            return None
        expected = quantity * price + net_adjust
        if given is None:
            amount = _round2(expected)
        else:
            amount = given
            difference = abs(given - expected)
            test = (
                "u:slack(cbc:LineExtensionAmount, (cbc:InvoicedQuantity * (cac:Price/cbc:PriceAmount"
                " div $baseQuantity)) + $chargesTotal - $allowancesTotal, 0.02)"
            )
            if difference > LINE_SLACK:
                self.error(
                    f"Line {i + 1}: the amount {_fmt(given)} does not match quantity × unit price"
                    f"{' minus allowances plus charges' if allowances or charges else ''} "
                    f"({_fmt(quantity)} × {_fmt(price)} = {_fmt(_round2(expected))}).",
                    at + "amount",
                    "PEPPOL-EN16931-R120",
                    test,
                )
            elif difference > Decimal("0.005"):
                self.warning(
                    f"Line {i + 1}: the amount {_fmt(given)} differs by a cent from quantity × "
                    f"unit price ({_fmt(_round2(expected))}); Peppol tolerates this.",
                    at + "amount",
                    "PEPPOL-EN16931-R120",
                    test,
                )
        if quantity < 0 and doc.is_credit_note:
            self.warning(
                f"Line {i + 1} has a negative quantity. A credit note lists what is credited "
                "with positive quantities; a negative line here charges the customer again.",
                at + "quantity",
                "JSON-CREDIT-NOTE-QUANTITY",
                "credit note quantities are positive",
            )
        if line_tax is not None and code != "O":
            exact = _round2(amount * rate / 100)
            if abs(line_tax - exact) > CENT:
                self.warning(
                    f"Line {i + 1}: its VAT {_fmt(line_tax)} is not {_fmt(rate)}% of "
                    f"{_fmt(amount)} ({_fmt(exact)}). The VAT of the invoice is computed per "
                    "rate on the totals, so this figure is not used.",
                    at + "tax",
                    "JSON-LINE-TAX",
                    "tax = amount × tax_rate / 100",
                )
        return Line(
            number=i + 1,
            name=(name or "")[:500],
            description=description,
            quantity=quantity,
            unit=unit,
            price=price,
            amount=amount,
            tax_code=code,
            tax_rate=rate,
            product_code=product_code,
            allowances=allowances,
            charges=charges,
        )

    def line_tax(self, i: int, item: dict, at: str, doc_code: str | None) -> tuple[str, Decimal]:
        """The line's VAT category and rate. Lines have no category in the API: they take the
        document's tax_code, and a 0% line on a standard-rated invoice is zero rated."""
        own_code = self.tax_code(item.get("tax_code"), at + "tax_code")
        rate = self.rate(item.get("tax_rate"), at + "tax_rate")
        code = own_code or doc_code or "S"
        if rate is None:
            rate = ZERO
        if code == "S" and rate == 0 and own_code is None:
            code = "Z"
        self.check_category_rate(code, rate, at + "tax_rate", f"Line {i + 1}", "line")
        return code, rate

    def check_category_rate(
        self, code: str, rate: Decimal, where: str, what: str, kind: str
    ) -> None:
        family = _CATEGORY_RULES[code]
        suffix = {"line": "05", "allowance": "06", "charge": "07"}[kind]
        if code == "S" and rate <= 0:
            self.error(
                f"{what} is standard rated, so its VAT rate must be above 0 "
                '(for example "21.00"); use tax_code Z for zero-rated supplies.',
                where,
                f"BR-S-{suffix}",
                "(cbc:Percent) > 0",
            )
        elif code in ZERO_RATE_CATEGORIES and rate != 0:
            self.error(
                f"{what} is {CATEGORY_NAMES[code]} (tax_code {code}), so its VAT rate must be "
                f'"0.00", not "{_rate_str(rate)}".',
                where,
                f"{family}-{suffix}",
                "(xs:decimal(cbc:Percent) = 0)",
            )
        elif code == "O" and rate != 0:
            self.error(
                f"{what} is not subject to VAT (tax_code O), so it cannot carry a VAT rate.",
                where,
                f"BR-O-{suffix}",
                "not(cbc:Percent)",
            )

    def read_line_charges(self, item: dict, at: str, is_charge: bool) -> list[AllowanceCharge]:
        key = "charges" if is_charge else "allowances"
        raw = item.get(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.error(f"Line {key} must be a list.", at + key, "JSON-LIST", "array")
            return []
        out = []
        rules = ("BR-43", "BR-44", "BR-DEC-27", "BR-DEC-28") if is_charge else (
            "BR-41", "BR-42", "BR-DEC-24", "BR-DEC-25"
        )  # fmt: skip
        for j, entry in enumerate(raw):
            where = f"{at}{key}[{j}]"
            if not isinstance(entry, dict):
                self.error(
                    f"Each line {key[:-1]} must be an object.", where, "JSON-OBJECT", "object"
                )
                continue
            ac = self.read_allowance_charge(entry, where, is_charge, rules)
            if ac is not None:
                out.append(ac)
        return out

    def read_document_charges(self, key: str, is_charge: bool) -> list[AllowanceCharge]:
        rules = ("BR-36", "BR-38", "BR-DEC-05", "BR-DEC-06") if is_charge else (
            "BR-31", "BR-33", "BR-DEC-01", "BR-DEC-02"
        )  # fmt: skip
        out = []
        for j, entry in self.list_of_dicts(key, key):
            where = f"{key}[{j}]"
            ac = self.read_allowance_charge(entry, where, is_charge, rules)
            if ac is None:
                continue
            kind = "charge" if is_charge else "allowance"
            own_code = self.tax_code(entry.get("tax_code"), where + ".tax_code")
            raw_rate = entry.get("tax_rate", "21.00")  # the API's default for both
            rate = self.rate(raw_rate, where + ".tax_rate")
            rate = ZERO if rate is None else rate
            code = own_code or ("Z" if rate == 0 else "S")
            self.check_category_rate(code, rate, where + ".tax_rate", f"This {kind}", kind)
            ac.tax_code, ac.tax_rate = code, (ZERO if code == "O" else rate)
            ac.rate_defaulted = "tax_rate" not in entry and own_code is None
            ac.location = where
            out.append(ac)
        return out

    def read_allowance_charge(
        self, entry: dict, where: str, is_charge: bool, rules: tuple[str, str, str, str]
    ) -> AllowanceCharge | None:
        amount_rule, reason_rule, dec_rule, base_dec_rule = rules
        kind = "charge" if is_charge else "allowance"
        amount = self.amount(entry.get("amount"), where + ".amount", f"{kind} amount", dec_rule)
        base = self.amount(
            entry.get("base_amount"), where + ".base_amount", f"{kind} base amount", base_dec_rule
        )
        factor = self.number(
            entry.get("multiplier_factor"), where + ".multiplier_factor", "percentage"
        )
        if factor is not None and base is None:
            self.error(
                f"This {kind} gives a percentage but no base amount to apply it to.",
                where + ".base_amount",
                "PEPPOL-EN16931-R041",
                "exists(cbc:BaseAmount) or not(exists(cbc:MultiplierFactorNumeric))",
            )
        elif base is not None and factor is None:
            self.error(
                f"This {kind} gives a base amount but no percentage (multiplier_factor).",
                where + ".multiplier_factor",
                "PEPPOL-EN16931-R042",
                "exists(cbc:MultiplierFactorNumeric) or not(exists(cbc:BaseAmount))",
            )
        if amount is None and base is not None and factor is not None:
            amount = _round2(base * factor / 100)
        elif amount is not None and base is not None and factor is not None:
            if abs(amount - base * factor / 100) > LINE_SLACK:
                self.error(
                    f"This {kind} of {_fmt(amount)} is not {_fmt(factor)}% of {_fmt(base)}.",
                    where + ".amount",
                    "PEPPOL-EN16931-R040",
                    "u:slack(cbc:Amount, (cbc:BaseAmount * cbc:MultiplierFactorNumeric) div 100, 0.02)",
                )
        if amount is None:
            if entry.get("amount") is None:
                self.error(f"This {kind} has no amount.", where + ".amount", amount_rule,
                           "exists(cbc:Amount)")  # fmt: skip
            return None
        if amount < 0:
            self.error(
                f"The {kind} amount cannot be negative; use "
                f"{'an allowance' if is_charge else 'a charge'} instead.",
                where + ".amount",
                "JSON-NEGATIVE-AMOUNT",
                "cbc:Amount >= 0",
            )
        reason = _text(entry.get("reason"))
        codes = CHARGE_REASON_CODES if is_charge else ALLOWANCE_REASON_CODES
        raw_code = entry.get("reason_code")
        reason_code = _text(raw_code)
        if reason_code is not None and reason_code not in codes:
            self.error(
                f"The {kind} reason code {_show(raw_code)} is unknown "
                f"(UNCL{'7161' if is_charge else '5189'}).",
                where + ".reason_code",
                "BR-CL-20" if is_charge else "BR-CL-19",
                f"cbc:AllowanceChargeReasonCode is in UNCL{'7161' if is_charge else '5189'}",
            )
            reason_code = None
        if not reason and not reason_code and raw_code is None:
            self.error(
                f"Say why this {kind} is given (reason), for example "
                + ('"Shipping costs".' if is_charge else '"Early payment discount".'),
                where + ".reason",
                reason_rule,
                "exists(cbc:AllowanceChargeReason) or exists(cbc:AllowanceChargeReasonCode)",
            )
        return AllowanceCharge(
            is_charge=is_charge,
            amount=amount,
            base_amount=base,
            multiplier=factor,
            reason=reason,
            reason_code=reason_code,
        )

    def read_payments(self, doc: Document) -> None:
        for i, entry in self.list_of_dicts("payment_details", "payment_details"):
            at = f"payment_details[{i}]."
            payment = Payment()
            where, iban = self.text(entry, at, "iban")
            if iban:
                try:
                    payment.iban = stdnum.iban.validate(iban, check_country=False)
                except Exception:  # ValidationError, or worse on odd input
                    payment.iban = re.sub(r"\s", "", iban).upper()
                    self.error(
                        f"The IBAN {_show(iban)} is not valid: its length or check digits are "
                        "wrong. Please copy it again from a bank statement.",
                        where,
                        "JSON-IBAN",
                        "ISO 13616 IBAN check digits (mod 97)",
                    )
            where, bic = self.text(entry, at, "swift", "bic")
            if bic:
                try:
                    payment.bic = stdnum.bic.validate(bic)
                except Exception:  # ValidationError, or worse on odd input
                    self.error(
                        f"The BIC/SWIFT code {_show(bic)} is not valid: it has 8 or 11 characters, "
                        'such as "GEBABEBB".',
                        where,
                        "JSON-BIC",
                        "ISO 9362 BIC format",
                    )
                else:
                    if payment.iban and payment.bic[4:6] != payment.iban[:2]:
                        self.warning(
                            f"The BIC {payment.bic} belongs to a bank in {payment.bic[4:6]} but "
                            f"the IBAN is from {payment.iban[:2]}; check both.",
                            where,
                            "JSON-BIC-COUNTRY",
                            "BIC country = IBAN country",
                        )
            _, payment.account_number = self.text(entry, at, "bank_account_number")
            where, reference = self.text(entry, at, "payment_reference")
            payment.reference = reference
            if reference:
                self.check_payment_reference(reference, where)
            doc.payments.append(payment)

    def check_payment_reference(self, reference: str, where: str) -> None:
        """Structured references are checked, free text is not."""
        compact = reference.replace(" ", "")
        if compact.upper().startswith("RF") and compact[2:4].isdigit():
            if not _valid(stdnum.iso11649, compact):
                self.error(
                    f"The structured reference {_show(reference)} (RF…) has wrong check digits.",
                    where,
                    "JSON-PAYMENT-REFERENCE",
                    "ISO 11649 creditor reference",
                )
        elif re.fullmatch(r"(\+\+\+|\*\*\*)?[0-9]{3}/?[0-9]{4}/?[0-9]{5}(\+\+\+|\*\*\*)?", compact):
            if not _valid(stdnum.be.ogm_vcs, compact):
                self.error(
                    f"The structured communication {_show(reference)} has wrong check digits "
                    "(the last two digits are the first ten modulo 97).",
                    where,
                    "JSON-PAYMENT-REFERENCE",
                    "Belgian OGM-VCS check digits",
                )


def _country_from_tax_id(tax_id: str | None) -> str | None:
    if not tax_id or len(tax_id) < 2:
        return None
    prefix = tax_id[:2]
    prefix = {"EL": "GR", "XI": "GB"}.get(prefix, prefix)
    return prefix if prefix in COUNTRY_CODES else None


# --- Totals -----------------------------------------------------------------------------------------


def _totals(doc: Document) -> Totals:
    line_total = sum((line.amount for line in doc.lines), ZERO)
    allowance_total = sum((a.amount for a in doc.allowances), ZERO)
    charge_total = sum((c.amount for c in doc.charges), ZERO)
    # VAT breakdown per (category, rate): the tax is rounded once per group, never per line.
    groups: dict[tuple[str, Decimal], Decimal] = {}
    for line in doc.lines:
        key = (line.tax_code, ZERO if line.tax_code == "O" else line.tax_rate)
        groups[key] = groups.get(key, ZERO) + line.amount
    for ac in (*doc.allowances, *doc.charges):
        key = (ac.tax_code, ac.tax_rate)
        sign = 1 if ac.is_charge else -1
        groups[key] = groups.get(key, ZERO) + sign * ac.amount
    subtotals = []
    for (code, rate), taxable in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        tax = ZERO if code == "O" else _round2(taxable * rate / 100)
        subtotals.append(TaxSubtotal(code, rate, _round2(taxable), tax))
    tax_total = sum((s.tax_amount for s in subtotals), ZERO)
    tax_exclusive = _round2(line_total - allowance_total + charge_total)
    tax_inclusive = _round2(tax_exclusive + tax_total)
    payable = _round2(tax_inclusive + doc.previous_unpaid_balance)
    return Totals(
        line_total=_round2(line_total),
        allowance_total=_round2(allowance_total),
        charge_total=_round2(charge_total),
        tax_exclusive=tax_exclusive,
        tax_total=_round2(tax_total),
        tax_inclusive=tax_inclusive,
        prepaid=_round2(tax_inclusive - payable),
        payable=payable,
        subtotals=subtotals,
    )


# --- Cross-field rules ------------------------------------------------------------------------------


def _check_document(reader: _Reader, doc: Document) -> None:
    p = reader.payload
    if not doc.invoice_id:
        reader.error(
            "The invoice number is missing.",
            "invoice_number" if "invoice_number" in p else "invoice_id",
            "BR-02",
            "normalize-space(cbc:ID) != ''",
        )
    if doc.invoice_date is None and _blank(p.get("invoice_date")):
        reader.error(
            "The invoice date is missing.",
            "invoice_date",
            "BR-03",
            "normalize-space(cbc:IssueDate) != ''",
        )
    if doc.invoice_date and doc.due_date and doc.due_date < doc.invoice_date:
        reader.warning(
            f"The due date {doc.due_date.isoformat()} is before the invoice date "
            f"{doc.invoice_date.isoformat()}.",
            "due_date",
            "JSON-DUE-DATE",
            "due_date >= invoice_date",
        )
    if doc.service_start and doc.service_end and doc.service_end < doc.service_start:
        reader.error(
            "The service period ends before it starts.",
            "service_end_date",
            "BR-29",
            "xs:date(cbc:EndDate) >= xs:date(cbc:StartDate)",
        )
    if doc.billing_reference and doc.invoice_id and doc.billing_reference == doc.invoice_id:
        reader.warning(
            "The billing reference is this document's own number; it should be the number "
            "of the invoice being corrected.",
            "billing_reference",
            "JSON-BILLING-REFERENCE",
            "billing_reference != invoice_id",
        )
    _check_parties(reader, doc)
    _check_categories(reader, doc)
    if doc.lines:
        _check_totals(reader, doc, _totals(doc))


def _check_parties(reader: _Reader, doc: Document) -> None:
    vendor, customer = doc.vendor, doc.customer
    # A VAT number that was given but unreadable has its own error; no second one for its country.
    if vendor.country is None and _blank(reader.payload.get("vendor_tax_id")):
        reader.error(
            "We cannot tell the seller's country: give the VAT number with its country prefix "
            'or end the address with the country (for example "…, Belgium").',
            "vendor_address",
            "BR-09",
            "normalize-space(cac:Country/cbc:IdentificationCode) != ''",
        )
    if customer.country is None and _blank(reader.payload.get("customer_tax_id")):
        reader.error(
            "We cannot tell the buyer's country: give the VAT number with its country prefix "
            'or end the address with the country (for example "…, Belgium").',
            "customer_address",
            "BR-11",
            "normalize-space(cac:Country/cbc:IdentificationCode) != ''",
        )
    tax_id_given = not _blank(reader.payload.get("vendor_tax_id"))
    if not tax_id_given and not vendor.company_id:
        reader.error(
            "The seller needs a VAT number (vendor_tax_id) or a company number "
            "(vendor_company_id).",
            "vendor_tax_id",
            "BR-CO-26",
            "exists(cac:PartyTaxScheme/cbc:CompanyID) or exists(cac:PartyLegalEntity/cbc:CompanyID)",
        )
    elif vendor.endpoint is None and not tax_id_given:
        reader.error(
            "The seller's Peppol address cannot be derived: give the VAT number "
            "(vendor_tax_id) with its country prefix.",
            "vendor_tax_id",
            "PEPPOL-EN16931-R020",
            "cbc:EndpointID",
        )
    customer_id_given = not all(
        _blank(reader.payload.get(k)) for k in ("customer_tax_id", "customer_peppol_id")
    )
    if customer.endpoint is None and not customer_id_given:
        reader.error(
            "The buyer's Peppol address cannot be derived: give the customer's VAT number "
            "(customer_tax_id) or Peppol ID (customer_peppol_id).",
            "customer_tax_id",
            "PEPPOL-EN16931-R010",
            "cbc:EndpointID",
        )


def _check_categories(reader: _Reader, doc: Document) -> None:
    used = {line.tax_code for line in doc.lines}
    used |= {ac.tax_code for ac in (*doc.allowances, *doc.charges)}
    vendor_vat = not _blank(reader.payload.get("vendor_tax_id"))
    customer_vat = not _blank(reader.payload.get("customer_tax_id"))
    for code in sorted(used):
        family = _CATEGORY_RULES[code]
        name = CATEGORY_NAMES[code]
        if code in ("S", "Z", "E", "AE", "K", "G", "L", "M") and not vendor_vat:
            if _blank(reader.payload.get("vendor_company_id")):
                continue  # BR-CO-26 already asks for an identifier
            reader.error(
                f"An invoice with {name} lines must carry the seller's VAT number (vendor_tax_id).",
                "vendor_tax_id",
                f"{family}-02",
                "exists(cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID)",
            )
        if code in ("AE", "K") and not customer_vat:
            reader.error(
                f"An invoice with {name} lines must carry the buyer's VAT number "
                "(customer_tax_id).",
                "customer_tax_id",
                f"{family}-02",
                "exists(cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID)",
            )
        if code in EXEMPT_CATEGORIES and not (doc.vatex or doc.vatex_note):
            example = {"AE": "VATEX-EU-AE", "K": "VATEX-EU-IC", "G": "VATEX-EU-G",
                       "O": "VATEX-EU-O"}.get(code, "VATEX-EU-132")  # fmt: skip
            reader.error(
                f"Lines that are {name} need the legal reason for not charging VAT: set vatex "
                f"(for example {example}) or vatex_note.",
                "vatex",
                f"{family}-10",
                "exists(cbc:TaxExemptionReason) or exists(cbc:TaxExemptionReasonCode)",
            )
    line_rates = {line.tax_rate for line in doc.lines}
    for ac in (*doc.allowances, *doc.charges):
        if ac.rate_defaulted and doc.lines and ac.tax_rate not in line_rates:
            kind = "charge" if ac.is_charge else "allowance"
            reader.warning(
                f"This {kind} has no VAT rate, so {_rate_str(ac.tax_rate)}% applies, but no "
                f"line uses that rate. Give the {kind} the VAT rate of the lines it relates to.",
                ac.location + ".tax_rate",
                "JSON-DEFAULT-RATE",
                "allowance/charge tax_rate is one of the line rates",
            )
    if "O" in used and len(used) > 1:
        reader.error(
            "An invoice with lines not subject to VAT (O) cannot also contain other VAT "
            "categories; split it into two invoices.",
            "tax_code",
            "BR-O-11",
            "count(cac:TaxTotal/cac:TaxSubtotal) = 1",
        )


def _check_totals(reader: _Reader, doc: Document, totals: Totals) -> None:
    p = reader.payload

    def given(key: str, label: str, dec_rule: str) -> Decimal | None:
        return reader.amount(p.get(key), key, label, dec_rule)

    subtotal = given("subtotal", "subtotal", "BR-DEC-12")
    if subtotal is not None and subtotal != totals.tax_exclusive:
        if doc.allowances or doc.charges:
            if subtotal == totals.line_total:
                message = (
                    f"The subtotal {_fmt(subtotal)} leaves out the invoice-level allowances and "
                    f"charges: it should be {_fmt(totals.tax_exclusive)} (lines "
                    f"{_fmt(totals.line_total)} − allowances {_fmt(totals.allowance_total)} + "
                    f"charges {_fmt(totals.charge_total)})."
                )
            else:
                message = (
                    f"The subtotal {_fmt(subtotal)} should be {_fmt(totals.tax_exclusive)}: the "
                    "sum of the lines, minus allowances, plus charges."
                )
            rule = ("BR-CO-13", "TaxExclusiveAmount = LineExtensionAmount - AllowanceTotalAmount "
                    "+ ChargeTotalAmount")  # fmt: skip
        else:
            message = (
                f"The subtotal {_fmt(subtotal)} is not the sum of the line amounts "
                f"({_fmt(totals.line_total)})."
            )
            rule = ("BR-CO-10", "LineExtensionAmount = sum(InvoiceLine/LineExtensionAmount)")
        reader.error(message, "subtotal", rule[0], rule[1])

    total_tax = given("total_tax", "total VAT", "BR-DEC-13")
    if total_tax is not None and total_tax != totals.tax_total:
        per_rate = ", ".join(
            f"{_rate_str(s.rate)}% of {_fmt(s.taxable_amount)} = {_fmt(s.tax_amount)}"
            for s in totals.subtotals
            if s.tax_code != "O"
        )
        reader.error(
            f"The total VAT {_fmt(total_tax)} should be {_fmt(totals.tax_total)}. VAT is "
            f"computed once per rate on the total, not per line ({per_rate}).",
            "total_tax",
            "BR-CO-14",
            "TaxTotal/TaxAmount = sum(TaxSubtotal/TaxAmount)",
        )

    _check_tax_details(reader, totals)

    invoice_total = given("invoice_total", "invoice total", "BR-DEC-14")
    if invoice_total is not None and invoice_total != totals.tax_inclusive:
        reader.error(
            f"The invoice total {_fmt(invoice_total)} should be {_fmt(totals.tax_inclusive)}: "
            f"the subtotal {_fmt(totals.tax_exclusive)} plus VAT {_fmt(totals.tax_total)}.",
            "invoice_total",
            "BR-CO-15",
            "TaxInclusiveAmount = TaxExclusiveAmount + TaxTotal/TaxAmount",
        )

    amount_due = given("amount_due", "amount due", "BR-DEC-18")
    if amount_due is not None and amount_due != totals.payable:
        extra = (
            f" plus the previous unpaid balance {_fmt(doc.previous_unpaid_balance)}"
            if doc.previous_unpaid_balance
            else ""
        )
        reader.error(
            f"The amount due {_fmt(amount_due)} should be {_fmt(totals.payable)}: the invoice "
            f"total{extra}.",
            "amount_due",
            "BR-CO-16",
            "PayableAmount = TaxInclusiveAmount - PrepaidAmount + PayableRoundingAmount",
        )

    discount = given("total_discount", "total discount", "BR-DEC-10")
    if discount is not None and discount != 0:
        reader.warning(
            "total_discount is not part of the EN 16931 totals: put discounts in allowances "
            "(with their VAT category) so they reduce the subtotal.",
            "total_discount",
            "JSON-TOTAL-DISCOUNT",
            "total_discount = 0",
        )

    no_due_date = _blank(p.get("due_date"))
    if totals.payable > 0 and no_due_date and not doc.payment_term:
        reader.error(
            "Say when the invoice must be paid: give a due date (due_date) or payment terms "
            "(payment_term).",
            "due_date",
            "BR-CO-25",
            "(PayableAmount > 0 and (exists(cbc:DueDate) or exists(cac:PaymentTerms/cbc:Note)))",
        )
    if doc.is_credit_note and totals.tax_inclusive < 0:
        reader.error(
            f"This credit note adds up to {_fmt(totals.tax_inclusive)}. A credit note lists "
            "the amounts credited as positive numbers; a negative credit note would charge the "
            "customer. Use positive quantities, or send an invoice instead.",
            "invoice_total" if p.get("invoice_total") is not None else "items",
            "JSON-CREDIT-NOTE-TOTAL",
            "credit note total >= 0",
        )
    elif not doc.is_credit_note and totals.tax_inclusive < 0:
        reader.warning(
            f"This invoice adds up to {_fmt(totals.tax_inclusive)}. To give money back, send a "
            "credit note (document_type CREDIT_NOTE) with positive amounts.",
            "invoice_total" if p.get("invoice_total") is not None else "items",
            "JSON-NEGATIVE-INVOICE",
            "invoice total >= 0",
        )


def _check_tax_details(reader: _Reader, totals: Totals) -> None:
    by_rate: dict[Decimal, Decimal] = {}
    for s in totals.subtotals:
        by_rate[s.rate] = by_rate.get(s.rate, ZERO) + s.tax_amount
    for i, entry in reader.list_of_dicts("tax_details", "tax_details"):
        where = f"tax_details[{i}]"
        rate = reader.rate(entry.get("rate"), where + ".rate")
        amount = reader.amount(entry.get("amount"), where + ".amount", "VAT amount", "BR-DEC-20")
        if rate is None or amount is None:
            continue
        if rate not in by_rate:
            reader.error(
                f"No line, allowance or charge uses the VAT rate {_rate_str(rate)}%.",
                where + ".rate",
                "JSON-TAX-DETAIL-RATE",
                "every VAT breakdown has lines of that rate",
            )
        elif amount != by_rate[rate]:
            reader.error(
                f"The VAT at {_rate_str(rate)}% should be {_fmt(by_rate[rate])}, not "
                f"{_fmt(amount)}: the taxable amount at that rate × {_rate_str(rate)}%, "
                "rounded to the cent.",
                where + ".amount",
                "BR-CO-17",
                "TaxAmount = round(TaxableAmount * Percent div 100, 2)",
            )


# --- Public interface -------------------------------------------------------------------------------


def _read(payload: Any) -> tuple[_Reader, Document]:
    reader = _Reader(payload)
    return reader, reader.read()


def _read_with_totals(payload: Any) -> tuple[Document, Totals]:
    """The document and its totals; an empty document's when the payload cannot be read (the
    totals and the UBL keep validate_document's contract: never raise)."""
    try:
        _, doc = _read(payload)
        return doc, _totals(doc)
    except Exception:
        doc = Document()
        return doc, _totals(doc)


def validate_document(payload: dict) -> list[dict]:
    """EN 16931 / Peppol BIS 3.0 issues for a JSON invoice, in the API's ValidationIssue shape.

    The document is valid when no issue has type "error". Never raises.
    """
    with localcontext(prec=100):  # amounts are bounded, so with this precision Decimal is exact
        try:
            if not isinstance(payload, dict):
                reader = _Reader({})
                reader.error("The invoice must be a JSON object.", None, "JSON-OBJECT", "object")
                return reader.issues
            reader, doc = _read(payload)
            _check_document(reader, doc)
            return reader.issues
        except Exception as exc:  # a validator must answer, never crash the API
            return [
                {
                    "message": f"The sandbox could not check this document ({type(exc).__name__}).",
                    "type": "error",
                    "location": None,
                    "rule_id": "SANDBOX-INTERNAL",
                    "flag": "fatal",
                    "test": None,
                    "schematron": JSON,
                }
            ]


def compute_totals(payload: dict) -> dict:
    """The document totals as EN 16931 computes them, as ``Decimal`` with 2 decimals.

    Keys: line_total (BT-106), total_allowances (BT-107), total_charges (BT-108),
    subtotal (BT-109, the taxable base), total_discount (always 0.00: every allowance and charge
    here has a VAT category and is already inside subtotal, so the API's identity
    ``invoice_total = subtotal + total_tax + total_discount`` holds), total_tax (BT-110),
    invoice_total (BT-112), amount_due (BT-115, plus any previous_unpaid_balance) and
    tax_details: one entry per VAT category and rate, with the tax rounded once per entry.
    Lines that cannot be read are left out. Never raises.
    """
    with localcontext(prec=100):
        _, totals = _read_with_totals(payload)
        return {
            "line_total": totals.line_total,
            "total_allowances": totals.allowance_total,
            "total_charges": totals.charge_total,
            "subtotal": totals.tax_exclusive,
            "total_discount": ZERO,
            "total_tax": totals.tax_total,
            "invoice_total": totals.tax_inclusive,
            "amount_due": totals.payable,
            "tax_details": [
                {
                    "tax_code": s.tax_code,
                    "rate": _rate_str(s.rate),
                    "taxable_amount": s.taxable_amount,
                    "tax_amount": s.tax_amount,
                }
                for s in totals.subtotals
            ],
        }


def to_ubl(payload: dict, document_id: str) -> str:
    """The payload as a Peppol BIS Billing 3.0 UBL 2.1 Invoice or CreditNote (XML text).

    Best effort for invalid payloads (validate first); never raises.
    """
    from .ubl import render  # late import: ubl builds on this module's model

    with localcontext(prec=100):
        return render(*_read_with_totals(payload), document_id)
