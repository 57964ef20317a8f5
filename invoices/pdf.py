"""The PDF of a document, rendered here with ReportLab from what `invoices.rendering` prints.

ReportLab is a pure-Python wheel: no system library (WeasyPrint would need Debian's Pango and
cairo installed beside the virtualenv), so `bin/run` still works on a fresh machine. The text
is set in Bitstream Vera, which ReportLab ships, embedded as a subset: € and the accents of
Dutch and French (é, ë, ç, œ) print as they are; a letter the font lacks is printed without
its accent (ő → o) rather than as a box. Long descriptions and notes wrap, tables continue on
the next page under their repeated header, and every page carries the number and
"page n of N".
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import io
import json
import logging
import threading
import unicodedata
from collections import OrderedDict
from concurrent.futures import Future, wait
from decimal import Decimal
from functools import cache
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.processes import DjangoProcess
from invoices.models import AllowanceCharge, Document, DocumentLine
from invoices.rendering import Party, Readable, date_text, file_stem, money_text, readable
from invoices.templatetags.invoice_tags import price, quantity, rate, unit_name

log = logging.getLogger(__name__)
FONT, BOLD = "Vera", "VeraBd"
MARGIN = 18 * mm
FRAME_PADDING = 6  # ReportLab's frame keeps 6 pt inside the margins
WIDTH = A4[0] - 2 * MARGIN - 2 * FRAME_PADDING
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#bbbbbb")
SHADE = colors.HexColor("#f0f0f0")


@cache
def _fonts() -> frozenset[int]:
    """Register the fonts once; the characters they can print."""
    regular = TTFont(FONT, "Vera.ttf")
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(TTFont(BOLD, "VeraBd.ttf"))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)
    return frozenset(regular.face.charToGlyph)


def printable(text: str) -> str:
    """`text` in the font's characters: control characters dropped, a letter the font lacks
    replaced by its base letter (or "?")."""
    known = _fonts()
    out = []
    for ch in text:
        if ch in "\n\t":
            out.append(" " if ch == "\t" else ch)
        elif unicodedata.category(ch).startswith("C"):
            continue
        elif ord(ch) in known or ch == " ":
            out.append(ch)
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            )
            out.append(base if base and all(ord(c) in known for c in base) else "?")
    return "".join(out)


def _styles() -> dict[str, ParagraphStyle]:
    _fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=GREY),
        "title": ParagraphStyle("title", parent=body, fontName=BOLD, fontSize=18, leading=22),
        "heading": ParagraphStyle(
            "heading", parent=body, fontName=BOLD, fontSize=10, leading=14, spaceBefore=6
        ),
        "num": ParagraphStyle("num", parent=body, alignment=TA_RIGHT),
        "th": ParagraphStyle("th", parent=body, fontName=BOLD, fontSize=8, leading=10),
        "th_num": ParagraphStyle(
            "th_num", parent=body, fontName=BOLD, fontSize=8, leading=10, alignment=TA_RIGHT
        ),
    }


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped; line breaks kept)."""
    return Paragraph(escape(printable(str(text or ""))).replace("\n", "<br/>"), style)


def _party(heading: str, party: Party, st: dict[str, ParagraphStyle]) -> list[Paragraph]:
    rows = [_p(heading, st["small"]), _p(party.name, st["heading"])]
    if party.address:
        rows.append(_p(party.address, st["body"]))
    for label, value in (
        (_("VAT number"), party.tax_id),
        (_("Company number"), party.company_id),
        (_("Peppol ID"), party.peppol_id),
        (_("Email"), party.email),
    ):
        if value:
            rows.append(
                _p(_("%(label)s: %(value)s") % {"label": label, "value": value}, st["body"])
            )
    return rows


def _grid(data: list[list], widths: list[float], *, header: bool = True) -> Table:
    table = Table(data, colWidths=widths, repeatRows=1 if header else 0, splitInRow=1)
    commands = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands += [
            ("BACKGROUND", (0, 0), (-1, 0), SHADE),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
            ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
        ]
    table.setStyle(TableStyle(commands))
    return table


def _lines(view: Readable, st: dict[str, ParagraphStyle], width: float) -> Table:
    head = [
        _p("#", st["th"]),
        _p(_("Description"), st["th"]),
        _p(_("Quantity"), st["th_num"]),
        _p(_("Unit"), st["th"]),
        _p(_("Unit price"), st["th_num"]),
        _p(_("VAT %"), st["th_num"]),
        _p(_("Amount"), st["th_num"]),
    ]
    rows = [head]
    for ln in view.lines:
        rows.append(
            [
                _p(ln.position, st["body"]),
                _p(ln.description, st["body"]),
                _p(quantity(ln.quantity), st["num"]),
                _p(unit_name(ln.unit), st["body"]),
                _p(price(ln.unit_price), st["num"]),
                _p(rate(ln.tax_rate), st["num"]),
                _p(money_text(ln.amount, view.currency), st["num"]),
            ]
        )
    fixed = [7 * mm, 0, 17 * mm, 22 * mm, 23 * mm, 11 * mm, 25 * mm]
    fixed[1] = width - sum(fixed)
    return _grid(rows, fixed)


def _adjustments(view: Readable, st: dict[str, ParagraphStyle], width: float) -> Table:
    rows = [
        [
            _p(_("Kind"), st["th"]),
            _p(_("Reason"), st["th"]),
            _p(_("VAT %"), st["th_num"]),
            _p(_("Amount"), st["th_num"]),
        ]
    ]
    for a in view.adjustments:
        value = -a.amount if a.kind == "allowance" else a.amount
        rows.append(
            [
                _p(a.get_kind_display(), st["body"]),
                _p(a.reason, st["body"]),
                _p(rate(a.tax_rate), st["num"]),
                _p(money_text(value, view.currency), st["num"]),
            ]
        )
    fixed = [40 * mm, 0, 13 * mm, 26 * mm]
    fixed[1] = width - sum(fixed)
    return _grid(rows, fixed)


def _vat(view: Readable, st: dict[str, ParagraphStyle]) -> Table:
    rows = [
        [
            _p(_("VAT %"), st["th"]),
            _p(_("Taxable amount"), st["th_num"]),
            _p(_("VAT"), st["th_num"]),
        ]
    ]
    for g in view.vat:
        rows.append(
            [
                _p(f"{rate(g.rate)} % ({g.category})", st["body"]),
                _p(money_text(g.taxable, view.currency), st["num"]),
                _p(money_text(g.tax, view.currency), st["num"]),
            ]
        )
    table = _grid(rows, [30 * mm, 40 * mm, 28 * mm])
    table.hAlign = "LEFT"
    return table


def _pairs(
    rows: list[tuple[str, str, bool]], widths: list[float], st, *, bold_labels: bool = True
) -> Table:
    """Label/value rows, values right-aligned; the flagged ones in bold (their labels too
    unless `bold_labels` is false)."""
    value_style = ParagraphStyle("value", parent=st["body"], alignment=TA_RIGHT)
    bold_value = ParagraphStyle("bold_value", parent=st["heading"], alignment=TA_RIGHT)
    table = Table(
        [
            [
                _p(label, st["heading"] if bold and bold_labels else st["body"]),
                _p(value, bold_value if bold else value_style),
            ]
            for label, value, bold in rows
        ],
        colWidths=widths,
        hAlign="RIGHT",
    )
    table.setStyle(
        TableStyle(
            [
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _totals(view: Readable, st: dict[str, ParagraphStyle]) -> Table:
    table = _pairs(view.totals(), [50 * mm, 34 * mm], st)
    table.setStyle(TableStyle([("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black)]))
    return table


def _payment(view: Readable, st: dict[str, ParagraphStyle]) -> list:
    d = view.document
    rows = []
    if view.iban:
        rows.append((_("IBAN"), view.iban, True))
    if view.bic:
        rows.append((_("BIC"), view.bic, False))
    if view.reference:
        rows.append((view.reference.label, view.reference.text, True))
    if d.due_date:
        rows.append((_("Due date"), date_text(d.due_date), False))
    rows.append((_("Amount"), money_text(d.total, d.currency), True))
    table = _pairs(rows, [52 * mm, 70 * mm], st, bold_labels=False)
    table.hAlign = "LEFT"
    table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.6, RULE)]))
    return [_p(_("Payment"), st["heading"]), table]


class _NumberedCanvas(Canvas):
    """Draws "page n of N" once the page count is known (pages are kept until save)."""

    footer = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self):  # noqa: N802 (ReportLab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont(FONT, 8)
            self.setFillColor(GREY)
            text = _("%(document)s · page %(page)d of %(pages)d") % {
                "document": self.footer,
                "page": number,
                "pages": total,
            }
            self.drawRightString(A4[0] - MARGIN - FRAME_PADDING, 10 * mm, printable(text))
            super().showPage()
        super().save()


def render(view: Readable) -> bytes:
    """The PDF of one document (A4), in the active language."""
    st = _styles()
    d = view.document
    buffer = io.BytesIO()
    title = f"{view.title} {d.invoice_id}"
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=printable(title),
        author=printable(d.vendor_name),
        subject=printable(view.title),
        creator="Peppol Reseller Portal",
        pageCompression=1,
    )
    width = WIDTH
    half = width / 2
    story: list = [_p(title, st["title"])]
    if view.draft_note:
        story.append(_p(view.draft_note, st["heading"]))
    story.append(Spacer(0, 3 * mm))
    parties = Table(
        [[_party(_("Seller"), view.seller, st), _party(_("Buyer"), view.buyer, st)]],
        colWidths=[half, half],
        splitInRow=1,
    )
    parties.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    )
    story += [parties, Spacer(0, 4 * mm)]
    meta = Table(
        [[_p(label, st["small"]), _p(value, st["body"])] for label, value in view.meta],
        colWidths=[40 * mm, width - 40 * mm],
        hAlign="LEFT",
        splitInRow=1,
    )
    meta.setStyle(
        TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    )
    story += [meta, Spacer(0, 4 * mm)]
    if view.lines:
        story.append(_lines(view, st, width))
    if view.adjustments:
        story += [Spacer(0, 3 * mm), _p(_("Discounts and surcharges"), st["heading"])]
        story.append(_adjustments(view, st, width))
    story.append(Spacer(0, 4 * mm))
    summary = []
    if view.vat:
        summary += [_p(_("VAT breakdown"), st["heading"]), _vat(view, st), Spacer(0, 3 * mm)]
    summary.append(_totals(view, st))
    story.append(KeepTogether(summary))
    if view.has_payment and not d.is_credit_note:
        story += [Spacer(0, 5 * mm), KeepTogether(_payment(view, st))]
    if d.note:
        story += [Spacer(0, 4 * mm), _p(_("Note"), st["heading"]), _p(d.note, st["body"])]
    canvas = type("Numbered", (_NumberedCanvas,), {"footer": printable(title)})
    doc.build(story, canvasmaker=canvas)
    return buffer.getvalue()


# --- The attachment of a send, rendered ahead while a check waits -------------------------------
# A "Check" of the editor waits for e-invoice.be's answer; meanwhile the PDF of that content is
# rendered (`render_ahead`), so that the "Send" that follows does not render it again before
# its create call. Kept per process, by content: a send served by another process, or of other
# content, renders its own.
#
# The render ahead runs in a child process, not a thread: ReportLab is pure Python, and a
# thread held the interpreter lock for its 20+ ms while the Check's own work (reading the
# validate answer, drawing the page) waited for it; with no API latency to hide it in, that
# doubled the Check. The child is spawned (a fork would copy the database connections and
# threads) on the first check of a web process and set up Django once.
AHEAD_KEPT = 16
_ahead: OrderedDict[str, bytes] = OrderedDict()
_rendering: dict[str, Future] = {}  # renders ahead not finished yet, by content
_ahead_lock = threading.Lock()
_renderer = DjangoProcess()
# ReportLab keeps state per font between documents: one render of an attachment at a time.
_render_lock = threading.Lock()
# Columns that no page of the PDF prints; they differ between a check and the send after it.
_NOT_PRINTED = frozenset(
    {
        "id",
        "remote_id",
        "create_attempted_at",
        "remote_digest",
        "draft_input",
        "is_complete",
        "state_changed_at",
        "failure_reason",
        "sending_since",
        "last_error",
        "last_polled_at",
        "remote_timeline",
        "remote_timeline_at",
        "next_poll_at",
        "created_by_id",
        "created_at",
        "updated_at",
    }
)
Rows = tuple[list[DocumentLine], list[AllowanceCharge]]


def _plain(value: object) -> str:
    # 10 and 10.0000 print alike (every number on the PDF is formatted from its value).
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def _content_key(document: Document, rows: Rows) -> str:
    """A fingerprint of everything the attachment prints: every other column and every row."""

    def columns(obj: Document | DocumentLine | AllowanceCharge, skip: frozenset[str]) -> dict:
        return {
            f.attname: getattr(obj, f.attname)
            for f in obj._meta.concrete_fields
            if f.attname not in skip
        }

    row_skip = frozenset({"id", "document_id"})  # a row's own id and its document's
    content = [
        settings.LANGUAGE_CODE,
        columns(document, _NOT_PRINTED),
        [[columns(row, row_skip) for row in group] for group in rows],
    ]
    text = json.dumps(content, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def _render_attachment(document: Document, rows: Rows) -> bytes:
    with translation.override(settings.LANGUAGE_CODE), _render_lock:
        return render(readable(document, rows, as_sent=True))


def _bare(obj: Document | DocumentLine | AllowanceCharge):
    # A copy without its cached related objects: the document's tenant holds its API client
    # (locks, sockets), which neither pickles nor belongs in another process. No page of the
    # PDF reads a related object.
    clone = copy.copy(obj)
    clone._state = copy.copy(obj._state)
    clone._state.fields_cache = {}
    return clone


def _detached(view: Readable) -> Readable:
    return dataclasses.replace(
        view,
        document=_bare(view.document),
        lines=[_bare(row) for row in view.lines],
        adjustments=[_bare(row) for row in view.adjustments],
    )


def _render_in_child(view: Readable, language: str) -> bytes:
    with translation.override(language):
        return render(view)


def start_renderer() -> None:
    """Start the renderer process while the editor is being filled in: it takes longer to
    start than to render, and a check's render ahead should find it ready."""
    if settings.INVOICES_ATTACH_PDF:
        _renderer.start()


def render_ahead(document: Document, rows: Rows) -> None:
    """Start rendering the attachment of `document` (unsaved: the editor's content, `rows` its
    lines and allowances/charges) in the renderer process; `attachment` of the same content
    takes it. The caller need not wait for it."""
    if not settings.INVOICES_ATTACH_PDF:
        return
    key = _content_key(document, rows)
    with _ahead_lock:
        if key in _ahead or key in _rendering:
            return  # checked again unchanged: the PDF is there or on its way
    with translation.override(settings.LANGUAGE_CODE):
        view = _detached(readable(document, rows, as_sent=True))
    future = _renderer.submit("invoices.pdf._render_in_child", view, settings.LANGUAGE_CODE)
    if future is None:
        return  # the send renders its own
    with _ahead_lock:
        _rendering[key] = future
    future.add_done_callback(lambda done: _keep(key, done))


def _keep(key: str, done: Future) -> None:
    content = None
    try:
        content = done.result()
    except Exception:  # the send renders it again, and says what failed
        log.warning("rendering the PDF ahead failed", exc_info=True)
    with _ahead_lock:
        _rendering.pop(key, None)
        if content is not None:
            _ahead[key] = content
            while len(_ahead) > AHEAD_KEPT:
                _ahead.popitem(last=False)


def attachment(document: Document) -> dict[str, str]:
    """The document's PDF as an attachment of the API's create call (embedded in the UBL the
    buyer receives), as sent (no draft note), in the portal's default language: the buyer's
    is not known. Rendered here unless a check rendered this content ahead."""
    rows = (list(document.lines.all()), list(document.allowances_charges.all()))
    key = _content_key(document, rows)
    with _ahead_lock:
        ahead = _rendering.get(key)
        content = _ahead.get(key)
    if content is None and ahead is not None and _renderer.ready.is_set():
        # A send right after its check: the render is half done, not redone. (Not while the
        # renderer is still starting: that takes longer than rendering here.)
        done, _pending = wait([ahead], timeout=60)
        if done and ahead.exception() is None:
            content = ahead.result()
    if content is None:
        content = _render_attachment(document, rows)
    return {
        "file_name": f"{file_stem(document)}.pdf",
        "file_type": "application/pdf",
        "file_data": base64.b64encode(content).decode("ascii"),
    }


def with_attachment(document: Document, payload: dict) -> dict:
    """`payload` with the document's PDF among its attachments (INVOICES_ATTACH_PDF), unless
    it already carries a PDF of that name (one the customer attached)."""
    if not settings.INVOICES_ATTACH_PDF:
        return payload
    pdf = attachment(document)
    given = list(payload.get("attachments") or [])
    if any(a.get("file_name") == pdf["file_name"] for a in given):
        return payload
    return {**payload, "attachments": [*given, pdf]}
