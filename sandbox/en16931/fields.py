"""The payload and the issues found in it: typed access to single fields (text, numbers,
amounts, VAT rates and categories) that records what is wrong in the API's issue shape.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from .codelists import CATEGORY_NAMES, CATEGORY_RULES, TAX_CATEGORIES, ZERO_RATE_CATEGORIES
from .values import as_text, decimals, fmt, parse_number, rate_str, round2, show

Issue = dict[str, str | None]

# The schematron an issue is reported under, by its rule id's family.
CEN = "CEN-EN16931-UBL"
PEPPOL = "PEPPOL-EN16931-UBL"
JSON = "JSON"  # checks the API makes on the JSON itself, before the UBL exists

_RATE_RE = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?")


class Reader:
    """The payload being read and the issues recorded so far (the reading itself is in
    ``reader``, ``parties``, ``lines`` and ``charges``; the cross-field rules in ``rules``).

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
        if raw is not None and as_text(raw) is None and not isinstance(raw, str):
            self.error(f"{key} must be text.", where, "JSON-TEXT", f"{key} is a string")
        return where, as_text(raw)

    def number(self, raw: Any, where: str, label: str) -> Decimal | None:
        value, problem = parse_number(raw)
        if problem:
            self.error(f"The {label} {problem}.", where, "JSON-NUMBER", f"{where} is a number")
        return value

    def amount(self, raw: Any, where: str, label: str, dec_rule: str) -> Decimal | None:
        value = self.number(raw, where, label)
        if value is not None and decimals(value) > 2:
            self.error(
                f"The {label} has more than 2 decimals ({fmt(value)}); round it to the cent.",
                where,
                dec_rule,
                "string-length(substring-after(., '.')) <= 2",
            )
            value = round2(value)
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
                value = None if "%" in text else parse_number(text)[0]
                if value is None or value < 0 or value > 100:
                    self.error(
                        message, where, "JSON-TAX-RATE", "tax_rate matches \\d{1,3}(\\.\\d{1,2})?"
                    )
                    return None
        else:
            value, problem = parse_number(raw)
            if value is None:
                self.error(message, where, "JSON-TAX-RATE", "tax_rate is a percentage")
                return None
        if value > 100:
            self.error(
                f'The VAT rate {fmt(value)}% is above 100%: write the percentage, such as "21.00".',
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
        if decimals(value) > 2:
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
                f"The VAT category {show(raw)} is unknown: use S (standard), Z (zero rated), "
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

    def check_category_rate(
        self, code: str, rate: Decimal, where: str, what: str, kind: str
    ) -> None:
        family = CATEGORY_RULES[code]
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
                f'"0.00", not "{rate_str(rate)}".',
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
