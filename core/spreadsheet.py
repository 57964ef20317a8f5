"""Cells that are safe in a spreadsheet: every CSV and spreadsheet the portal writes uses this.

A spreadsheet program runs a cell that starts with = + - @ (or a tab or carriage return
before one) as a formula: such text is written with a leading apostrophe (OWASP's advice),
which the program shows as plain text.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def safe_row(values: list | tuple) -> list[str]:
    return [safe_cell(v) for v in values]


def xlsx_row(sheet, values: list | tuple) -> list:
    """A row of a write-only openpyxl sheet: numbers and times as such (times in the local
    zone, which a spreadsheet cannot hold), everything else as text cells made safe as
    above. openpyxl would store text that starts with "=" as a formula: these never are."""
    from django.utils import timezone
    from openpyxl.cell import WriteOnlyCell

    cells = []
    for value in values:
        if isinstance(value, datetime):
            cell = WriteOnlyCell(sheet, value=timezone.localtime(value).replace(tzinfo=None))
            cell.number_format = "yyyy-mm-dd hh:mm"
        elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            cell = WriteOnlyCell(sheet, value=value)
        else:
            cell = WriteOnlyCell(sheet, value=safe_cell(value))
            cell.data_type = "s"
        cells.append(cell)
    return cells
