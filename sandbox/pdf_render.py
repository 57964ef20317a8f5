"""A one-page PDF rendered from a document (``construct_pdf=true``): plain text, no fonts to embed.

Its text is shown with ``Tj``, so sandbox/pdf_extract.py reads it back.
"""

from __future__ import annotations

from typing import Any


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def lines_of(payload: dict[str, Any], totals: dict[str, Any]) -> list[str]:
    title = "Credit note" if payload.get("document_type") == "CREDIT_NOTE" else "Invoice"
    lines = [
        f"{title} {payload.get('invoice_id') or ''}".strip(),
        f"Date: {payload.get('invoice_date') or ''}",
        f"Due: {payload.get('due_date') or ''}",
        f"From: {payload.get('vendor_name') or ''} {payload.get('vendor_tax_id') or ''}",
        f"To: {payload.get('customer_name') or ''} {payload.get('customer_tax_id') or ''}",
    ]
    for item in payload.get("items", []):
        lines.append(
            f"{item.get('description') or ''}  {item.get('quantity') or ''} x "
            f"{item.get('unit_price') or ''}  = {item.get('amount') or ''}  VAT {item.get('tax_rate')}%"
        )
    lines.append(f"Total: {payload.get('currency', 'EUR')} {totals.get('invoice_total') or ''}")
    return lines


def render(payload: dict[str, Any], totals: dict[str, Any]) -> bytes:
    text = "\n".join(
        f"BT /F1 11 Tf 50 {800 - 16 * i} Td ({_escape(line)}) Tj ET"
        for i, line in enumerate(lines_of(payload, totals))
    ).encode("latin-1", errors="replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
