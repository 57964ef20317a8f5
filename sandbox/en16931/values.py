"""The payload's scalar values: numbers, dates, text and countries read leniently, and the
rounding and formatting EN 16931 amounts and messages use. No issues are recorded here.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .codelists import COUNTRY_CODES, COUNTRY_NAMES

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Amounts beyond this are typing accidents, and keeping them bounded keeps Decimal exact.
MAX_NUMBER = Decimal(10) ** 12
# Peppol R120 lets the line amount differ from quantity × price by up to 0.02 (its u:slack).
LINE_SLACK = Decimal("0.02")


def round2(value: Decimal) -> Decimal:
    """EN 16931 rounding: half up to two decimals."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def decimals(value: Decimal) -> int:
    """Significant decimals: 1.50 counts as one, as the UBL will carry it normalised."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def fmt(value: Decimal) -> str:
    """Plain decimal notation, never 1E+3."""
    return format(value, "f")


def rate_str(rate: Decimal) -> str:
    """A VAT rate as the API writes it: "21.00"."""
    return fmt(rate.quantize(CENT, rounding=ROUND_HALF_UP))


_NUMBER_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?")
_COMMA_NUMBER_RE = re.compile(r"[+-]?[0-9]+,[0-9]+")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_number(raw: Any) -> tuple[Decimal | None, str | None]:
    """A JSON number or numeric string -> (value, None); absent -> (None, None);
    anything else -> (None, what is wrong, in words)."""
    if raw is None:
        return None, None
    value, problem = _decimal_of(raw)
    if value is not None and abs(value) >= MAX_NUMBER:
        return None, "is far too large"
    return value, problem


def _decimal_of(raw: Any) -> tuple[Decimal | None, str | None]:
    if isinstance(raw, bool):
        return None, "must be a number, not true or false"
    if isinstance(raw, int):  # checked before Decimal(): a huge int is refused, not converted
        return (None, "is far too large") if abs(raw) >= MAX_NUMBER else (Decimal(raw), None)
    if isinstance(raw, float):
        return (Decimal(repr(raw)), None) if math.isfinite(raw) else (None, "must be a number")
    if isinstance(raw, Decimal):  # Python callers (the sandbox itself) pass Decimals
        return (raw, None) if raw.is_finite() else (None, "must be a number")
    if isinstance(raw, str):
        return _decimal_of_text(raw.strip())
    return None, "must be a number"


def _decimal_of_text(text: str) -> tuple[Decimal | None, str | None]:
    if not text:
        return None, None
    if _COMMA_NUMBER_RE.fullmatch(text):
        return None, "must use a dot as decimal separator (for example 12.50)"
    if not _NUMBER_RE.fullmatch(text):
        return None, "must be a number"
    return Decimal(text), None


def parse_date(raw: Any) -> tuple[date | None, str | None]:
    """Like parse_number, for a YYYY-MM-DD date."""
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


def blank(raw: Any) -> bool:
    """Not given: null, or a string of spaces (a field error elsewhere covers other types)."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def as_text(raw: Any) -> str | None:
    """Lenient text: numbers become their string form; blank, lists and dicts count as absent."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        return str(raw) if not isinstance(raw, float) or math.isfinite(raw) else None
    if isinstance(raw, str):
        return raw.strip() or None
    return None


def country_from_address(address: str | None) -> str | None:
    """The country a free-text address ends with ("…, Belgium" or "…, BE"), if any."""
    if not address:
        return None
    last = address.replace("\n", ",").split(",")[-1].strip().rstrip(".")
    if last.upper() in COUNTRY_CODES and len(last) == 2:
        return last.upper()
    return COUNTRY_NAMES.get(last.lower())


def show(value: Any) -> str:
    """A value quoted for a message, cut short: messages must stay readable."""
    text = value if isinstance(value, str) else repr(value)
    return f'"{text[:40]}…"' if len(text) > 40 else f'"{text}"'


def is_valid(module: Any, number: str) -> bool:
    """A python-stdnum module's verdict on ``number``, False when it trips over the input."""
    try:
        return bool(module.is_valid(number))
    except Exception:  # stdnum promises False, but odd unicode has surprised it before
        return False


def country_from_tax_id(tax_id: str | None) -> str | None:
    """The ISO 3166 country of a compact VAT number (EL is Greece, XI Northern Ireland)."""
    if not tax_id or len(tax_id) < 2:
        return None
    prefix = tax_id[:2]
    prefix = {"EL": "GR", "XI": "GB"}.get(prefix, prefix)
    return prefix if prefix in COUNTRY_CODES else None
