"""Allowances and charges, on the document and on lines: amount, or base amount × percentage
(Peppol R040-R042), reason or UNCL5189/UNCL7161 reason code, and the VAT of document-level ones.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from .codelists import ALLOWANCE_REASON_CODES, CHARGE_REASON_CODES
from .fields import Reader
from .model import AllowanceCharge
from .values import LINE_SLACK, ZERO, as_text, fmt, round2, show


class _Rules(NamedTuple):
    """The EN 16931 rule ids of one kind of allowance or charge."""

    amount: str  # the amount is missing
    reason: str  # neither reason nor reason code
    decimals: str  # the amount has more than 2 decimals
    base_decimals: str  # the base amount has more than 2 decimals


# (on a line?, is a charge?) -> its rules
_RULES = {
    (False, False): _Rules("BR-31", "BR-33", "BR-DEC-01", "BR-DEC-02"),
    (False, True): _Rules("BR-36", "BR-38", "BR-DEC-05", "BR-DEC-06"),
    (True, False): _Rules("BR-41", "BR-42", "BR-DEC-24", "BR-DEC-25"),
    (True, True): _Rules("BR-43", "BR-44", "BR-DEC-27", "BR-DEC-28"),
}


def read_document_charges(reader: Reader, key: str, is_charge: bool) -> list[AllowanceCharge]:
    """The document-level allowances (``key`` "allowances") or charges ("charges"), each with
    its own VAT category and rate (the API's 21.00 when none is given)."""
    rules = _RULES[False, is_charge]
    out = []
    for j, entry in reader.list_of_dicts(key, key):
        where = f"{key}[{j}]"
        ac = _read_allowance_charge(reader, entry, where, is_charge, rules)
        if ac is None:
            continue
        kind = "charge" if is_charge else "allowance"
        own_code = reader.tax_code(entry.get("tax_code"), where + ".tax_code")
        raw_rate = entry.get("tax_rate", "21.00")  # the API's default for both
        rate = reader.rate(raw_rate, where + ".tax_rate")
        rate = ZERO if rate is None else rate
        code = own_code or ("Z" if rate == 0 else "S")
        reader.check_category_rate(code, rate, where + ".tax_rate", f"This {kind}", kind)
        ac.tax_code, ac.tax_rate = code, (ZERO if code == "O" else rate)
        ac.rate_defaulted = "tax_rate" not in entry and own_code is None
        ac.location = where
        out.append(ac)
    return out


def read_line_charges(
    reader: Reader, item: dict, at: str, is_charge: bool
) -> list[AllowanceCharge]:
    """The allowances or charges of one line (``at`` is its location, "items[2].")."""
    key = "charges" if is_charge else "allowances"
    raw = item.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list):
        reader.error(f"Line {key} must be a list.", at + key, "JSON-LIST", "array")
        return []
    out = []
    rules = _RULES[True, is_charge]
    for j, entry in enumerate(raw):
        where = f"{at}{key}[{j}]"
        if not isinstance(entry, dict):
            reader.error(f"Each line {key[:-1]} must be an object.", where, "JSON-OBJECT", "object")
            continue
        ac = _read_allowance_charge(reader, entry, where, is_charge, rules)
        if ac is not None:
            out.append(ac)
    return out


def _read_allowance_charge(
    reader: Reader, entry: dict, where: str, is_charge: bool, rules: _Rules
) -> AllowanceCharge | None:
    kind = "charge" if is_charge else "allowance"
    amount, base, factor = _read_amounts(reader, entry, where, kind, rules)
    if amount is None:
        if entry.get("amount") is None:
            reader.error(f"This {kind} has no amount.", where + ".amount", rules.amount,
                         "exists(cbc:Amount)")  # fmt: skip
        return None
    if amount < 0:
        reader.error(
            f"The {kind} amount cannot be negative; use "
            f"{'an allowance' if is_charge else 'a charge'} instead.",
            where + ".amount",
            "JSON-NEGATIVE-AMOUNT",
            "cbc:Amount >= 0",
        )
    reason, reason_code = _read_reason(reader, entry, where, is_charge, rules)
    return AllowanceCharge(
        is_charge=is_charge,
        amount=amount,
        base_amount=base,
        multiplier=factor,
        reason=reason,
        reason_code=reason_code,
    )


def _read_amounts(
    reader: Reader, entry: dict, where: str, kind: str, rules: _Rules
) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """(amount, base amount, percentage); the amount follows from the other two when only
    they are given."""
    amount = reader.amount(entry.get("amount"), where + ".amount", f"{kind} amount", rules.decimals)
    base = reader.amount(
        entry.get("base_amount"), where + ".base_amount", f"{kind} base amount",
        rules.base_decimals,
    )  # fmt: skip
    factor = reader.number(
        entry.get("multiplier_factor"), where + ".multiplier_factor", "percentage"
    )
    if factor is not None and base is None:
        reader.error(
            f"This {kind} gives a percentage but no base amount to apply it to.",
            where + ".base_amount",
            "PEPPOL-EN16931-R041",
            "exists(cbc:BaseAmount) or not(exists(cbc:MultiplierFactorNumeric))",
        )
    elif base is not None and factor is None:
        reader.error(
            f"This {kind} gives a base amount but no percentage (multiplier_factor).",
            where + ".multiplier_factor",
            "PEPPOL-EN16931-R042",
            "exists(cbc:MultiplierFactorNumeric) or not(exists(cbc:BaseAmount))",
        )
    if base is None or factor is None:
        return amount, base, factor
    if amount is None:
        return round2(base * factor / 100), base, factor
    if abs(amount - base * factor / 100) > LINE_SLACK:
        reader.error(
            f"This {kind} of {fmt(amount)} is not {fmt(factor)}% of {fmt(base)}.",
            where + ".amount",
            "PEPPOL-EN16931-R040",
            "u:slack(cbc:Amount, (cbc:BaseAmount * cbc:MultiplierFactorNumeric) div 100, 0.02)",
        )
    return amount, base, factor


def _read_reason(
    reader: Reader, entry: dict, where: str, is_charge: bool, rules: _Rules
) -> tuple[str | None, str | None]:
    """(reason, reason code); an unknown code is reported and dropped."""
    kind = "charge" if is_charge else "allowance"
    reason = as_text(entry.get("reason"))
    codes = CHARGE_REASON_CODES if is_charge else ALLOWANCE_REASON_CODES
    code_list = "UNCL7161" if is_charge else "UNCL5189"
    raw_code = entry.get("reason_code")
    reason_code = as_text(raw_code)
    if reason_code is not None and reason_code not in codes:
        reader.error(
            f"The {kind} reason code {show(raw_code)} is unknown ({code_list}).",
            where + ".reason_code",
            "BR-CL-20" if is_charge else "BR-CL-19",
            f"cbc:AllowanceChargeReasonCode is in {code_list}",
        )
        reason_code = None
    if not reason and not reason_code and raw_code is None:
        reader.error(
            f"Say why this {kind} is given (reason), for example "
            + ('"Shipping costs".' if is_charge else '"Early payment discount".'),
            where + ".reason",
            rules.reason,
            "exists(cbc:AllowanceChargeReason) or exists(cbc:AllowanceChargeReasonCode)",
        )
    return reason, reason_code
