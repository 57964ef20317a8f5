"""Cells that are safe in a spreadsheet: every CSV and spreadsheet the portal writes uses this.

A spreadsheet program runs a cell that starts with = + - @ (or a tab or carriage return
before one) as a formula: such text is written with a leading apostrophe (OWASP's advice),
which the program shows as plain text.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def safe_row(values: list | tuple) -> list[str]:
    return [safe_cell(v) for v in values]
