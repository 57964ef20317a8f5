"""What the sandbox can read from a PDF invoice, without OCR or AI (the real service uses both).

The text shown with ``Tj``/``TJ`` in uncompressed content streams (and any plain text in the file)
is searched for an invoice number, dates, Belgian-style VAT numbers and a total. Whatever is
found fills the DocumentCreateFromPdf answer; what is not found stays null, as on the real
service when a human has to complete the invoice.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_SHOWN = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj|\[((?:[^\]])*)\]\s*TJ")
_STRINGS = re.compile(rb"\(((?:\\.|[^\\)])*)\)")
_INVOICE_ID = re.compile(r"(?:invoice|factuur|facture|credit note)\s*(?:no\.?|number|nr\.?|#)?\s*[:#]?\s*([A-Z0-9][A-Z0-9/._-]{2,30})", re.I)  # fmt: skip
_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_VAT = re.compile(r"\b((?:BE|NL|LU|FR|DE)\s?[0-9][0-9A-Z.\s]{7,14}[0-9A-Z])\b")
_TOTAL = re.compile(r"total(?:\s+due|\s+amount|\s+incl\.?\s*vat)?\s*:?\s*(?:EUR|€)?\s*([0-9][0-9.,\s]*[0-9])", re.I)  # fmt: skip
_RATE = re.compile(r"\b(21|12|6|0)\s?%")


def is_pdf(data: bytes) -> bool:
    return data[:1024].lstrip().startswith(b"%PDF-")


def text_of(data: bytes) -> str:
    shown = [
        m.group(1) or b" ".join(_STRINGS.findall(m.group(2) or b"")) for m in _SHOWN.finditer(data)
    ]
    raw = b"\n".join(shown) if shown else data
    return raw.replace(rb"\(", b"(").replace(rb"\)", b")").decode("latin-1", errors="replace")


def _amount(text: str) -> Decimal | None:
    cleaned = text.replace(" ", "")
    if "," in cleaned and cleaned.rfind(",") > cleaned.rfind("."):
        cleaned = cleaned.replace(".", "").replace(",", ".")  # 1.210,00
    else:
        cleaned = cleaned.replace(",", "")
    try:
        return Decimal(cleaned).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def extract(data: bytes) -> dict[str, Any]:
    """The DocumentCreate fields found in the PDF (absent when not found)."""
    text = text_of(data)
    found: dict[str, Any] = {}
    if match := _INVOICE_ID.search(text):
        found["invoice_id"] = match.group(1)
    dates = sorted(set(_DATE.findall(text)))
    if dates:
        found["invoice_date"] = dates[0]
        if len(dates) > 1:
            found["due_date"] = dates[-1]
    vat_ids = list(dict.fromkeys(re.sub(r"[\s.]", "", v) for v in _VAT.findall(text)))
    for name, value in zip(("vendor_tax_id", "customer_tax_id"), vat_ids, strict=False):
        found[name] = value
    total = _amount(m.group(1)) if (m := _TOTAL.search(text)) else None
    if total is not None:
        rate = Decimal(m.group(1)) if (m := _RATE.search(text)) else Decimal(21)
        net = (total / (1 + rate / 100)).quantize(Decimal("0.01"))
        found["invoice_total"] = str(total)
        found["items"] = [
            {"description": "Extracted from PDF", "quantity": "1", "unit": "C62",
             "unit_price": str(net), "amount": str(net), "tax_rate": f"{rate:.2f}"}
        ]  # fmt: skip
    return found
