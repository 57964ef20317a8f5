"""The bookkeeper's archive of a tenant's documents over a date range.

- `ArchiveForm`: the range (by document date, at most a year), the direction, the format.
- `csv_chunks`: one row per document, the VAT per rate in columns of their own (every rate
  any document of the range uses: taxable amount and VAT), every cell spreadsheet-safe.
  Amounts are as on the documents (a credit note's are positive; its type says what it is),
  with a dot for the decimals, as accounting software imports them.
- `zip_chunks`: per document its UBL (read from e-invoice.be with the tenant's key), its
  PDF and its attachments (in <document>_files/), plus the CSV and a list of what could not
  be included; streamed, one document at a time.

Only issued documents are archived: sent (in transit or delivered) and received ones; drafts
and documents whose delivery failed are not (a failed one sent again is archived as the
document that sent it). Nothing in the archive carries a key or a download link.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.spreadsheet import safe_row
from einvoice.errors import ApiError
from einvoice.tenant import TenantApi
from invoices import pdf
from invoices.attachments import content_of, safe_name
from invoices.models import Direction, Document, State
from invoices.rendering import file_stem, readable, vat_rows
from invoices.totals import money, to_decimal
from tenants.models import Tenant

MAX_DAYS = 366
# A ZIP is built while it downloads: each document costs a PDF rendering (~0.05-0.15 s) and a
# UBL read at e-invoice.be (two HTTP calls). 50 keep a download well inside a web worker's
# 30 s (gunicorn's default timeout); a longer range is asked for in parts (the CSV has no limit).
MAX_ZIP_DOCUMENTS = 50
DIRECTIONS = {
    "all": Q(),
    "sent": Q(direction=Direction.OUTBOUND),
    "received": Q(direction=Direction.INBOUND),
}
ISSUED = Q(direction=Direction.OUTBOUND, state__in=[State.TRANSIT, State.SENT]) | Q(
    direction=Direction.INBOUND, state=State.RECEIVED
)


class ArchiveForm(forms.Form):
    date_from = forms.DateField(
        label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("By document date, both days included; at most a year."),
    )
    direction = forms.ChoiceField(
        label=gettext_lazy("Documents"),
        choices=[
            ("all", gettext_lazy("Sent and received")),
            ("sent", gettext_lazy("Sent")),
            ("received", gettext_lazy("Received")),
        ],
        initial="all",
    )

    def __init__(self, *args, tenant: Tenant, kind: str = "csv", **kwargs) -> None:
        # Unbound: last month, the range a bookkeeper usually asks for.
        first = timezone.localdate().replace(day=1)
        last_month = (first - timedelta(days=1)).replace(day=1)
        initial = {
            "date_from": last_month,
            "date_to": first - timedelta(days=1),
            "direction": "all",
        }
        kwargs["initial"] = {**initial, **kwargs.get("initial", {})}
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.kind = kind  # "csv" or "zip" (the button pressed)

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if end < start:
                self.add_error("date_to", _("The end of the range is before its start."))
            elif end - start > timedelta(days=MAX_DAYS - 1):
                self.add_error("date_to", _("Choose a range of at most a year."))
        if not self.errors and self.kind == "zip":
            count = self.documents().count()
            if count > MAX_ZIP_DOCUMENTS:
                self.add_error(
                    "date_to",
                    _(
                        "This range holds %(count)d documents; a ZIP holds at most %(max)d. "
                        "Choose a shorter range (the CSV has no limit)."
                    )
                    % {"count": count, "max": MAX_ZIP_DOCUMENTS},
                )
        return data

    def documents(self) -> QuerySet[Document]:
        data = self.cleaned_data
        return documents_in(self.tenant, data["date_from"], data["date_to"], data["direction"])

    def file_name(self) -> str:
        data = self.cleaned_data
        span = f"{data['date_from']:%Y%m%d}-{data['date_to']:%Y%m%d}"
        return f"documents-{data['direction']}-{span}.{self.kind}"


def documents_in(tenant: Tenant, start: date, end: date, direction: str) -> QuerySet[Document]:
    """The tenant's issued documents dated in [start, end], oldest first."""
    return (
        Document.objects.filter(tenant=tenant, invoice_date__gte=start, invoice_date__lte=end)
        .filter(ISSUED & DIRECTIONS[direction])
        .order_by("invoice_date", "direction", "invoice_id", "pk")
    )


# --- CSV ---------------------------------------------------------------------------------------
class _Echo:
    def write(self, value: str) -> str:
        return value


def _rate_key(rate: Decimal) -> str:
    return format(rate.normalize(), "f")


def _rates(documents: QuerySet[Document]) -> list[Decimal]:
    """Every VAT rate the documents' breakdowns use, highest first."""
    found: set[Decimal] = set()
    for breakdown in documents.values_list("tax_breakdown", flat=True).iterator(chunk_size=2000):
        for group in breakdown or []:
            if (rate := to_decimal(group.get("rate"))) is not None:
                found.add(money(rate))
    return sorted(found, reverse=True)


def _header(rates: list[Decimal]) -> list[str]:
    columns = [
        _("Direction"),
        _("Type"),
        _("Number"),
        _("Date"),
        _("Due date"),
        _("State"),
        _("Seller"),
        _("Seller VAT number"),
        _("Buyer"),
        _("Buyer VAT number"),
        _("Corrects invoice"),
        _("Purchase order"),
        _("Payment reference"),
        _("Currency"),
        _("Total without VAT"),
        _("VAT"),
        _("Total"),
    ]
    for rate in rates:
        columns.append(_("Taxable at %(rate)s%%") % {"rate": _rate_key(rate)})
        columns.append(_("VAT at %(rate)s%%") % {"rate": _rate_key(rate)})
    return columns


def _row(document: Document, rates: list[Decimal]) -> list[object]:
    per_rate = {
        g.rate: g
        for g in vat_rows(
            document, list(document.lines.all()), list(document.allowances_charges.all())
        )
    }
    row: list[object] = [
        document.get_direction_display(),
        document.get_document_type_display(),
        document.invoice_id,
        document.invoice_date.isoformat() if document.invoice_date else "",
        document.due_date.isoformat() if document.due_date else "",
        document.get_state_display(),
        document.vendor_name,
        document.vendor_tax_id,
        document.customer_name,
        document.customer_tax_id,
        document.billing_reference,
        document.purchase_order,
        document.payment_reference,
        document.currency,
        document.subtotal,
        document.total_tax,
        document.total,
    ]
    for rate in rates:
        group = per_rate.get(rate)
        row += [
            group.taxable if group and group.taxable is not None else "",
            group.tax if group else "",
        ]
    return row


def csv_chunks(documents: QuerySet[Document]) -> Iterator[str]:
    """The CSV, a row at a time (UTF-8 with a BOM so that spreadsheet programs read accents)."""
    writer = csv.writer(_Echo())
    rates = _rates(documents)
    yield "\ufeff" + writer.writerow(safe_row(_header(rates)))
    for document in documents.prefetch_related("lines", "allowances_charges").iterator(
        chunk_size=200
    ):
        yield writer.writerow(safe_row(_row(document, rates)))


# --- ZIP ---------------------------------------------------------------------------------------
class _Pipe(io.RawIOBase):
    """An unseekable sink that zipfile writes into and the response empties chunk by chunk."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out, self.chunks = b"".join(self.chunks), []
        return out


def _unique(name: str, used: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{stem}-{n}{dot}{ext}", n + 1
    used.add(candidate)
    return candidate


def _stamp(document: Document) -> tuple[int, int, int, int, int, int]:
    day = document.invoice_date or date(1980, 1, 1)
    return (max(day.year, 1980), day.month, day.day, 0, 0, 0)


def _ubl(api: TenantApi, document: Document, missing: list[str]) -> bytes:
    if not document.remote_id:
        missing.append(f"{document.invoice_id}: {_('no UBL')}")
        return b""
    try:
        return api.ubl(document.remote_id)[1]
    except ApiError as exc:
        missing.append(f"{document.invoice_id}: {_('no UBL')} ({exc})")
        return b""


def _files(document: Document, missing: list[str]) -> Iterator[tuple[str, bytes]]:
    """The document's attachments (a received one's read from e-invoice.be once)."""
    for attachment in document.attachments.all():
        try:
            yield safe_name(attachment.file_name), content_of(attachment)
        except ApiError as exc:
            missing.append(f"{document.invoice_id}: {attachment.file_name} ({exc})")


def _members(
    tenant: Tenant, documents: Iterable[Document]
) -> Iterator[tuple[str, Document, bytes]]:
    """(name, document, content) of every file, and the list of what is missing, last."""
    api = TenantApi(tenant)
    used: set[str] = set()
    missing: list[str] = []
    for document in documents:
        folder = "received" if document.direction == Direction.INBOUND else "sent"
        stem = f"{folder}/{document.invoice_date:%Y-%m-%d}_{file_stem(document)}"
        yield _unique(f"{stem}.pdf", used), document, pdf.render(readable(document))
        if ubl := _ubl(api, document, missing):
            yield _unique(f"{stem}.xml", used), document, ubl
        for name, content in _files(document, missing):
            yield _unique(f"{stem}_files/{name}", used), document, content
    if missing:
        text = _("Not in this archive:") + "\n" + "\n".join(missing) + "\n"
        yield "missing.txt", None, text.encode()


def zip_chunks(tenant: Tenant, documents: QuerySet[Document]) -> Iterator[bytes]:
    """The ZIP, streamed: each file is compressed and handed on before the next is read."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("documents.csv", "".join(csv_chunks(documents)).encode())
        yield pipe.drain()
        for name, document, content in _members(tenant, documents.iterator(chunk_size=50)):
            info = zipfile.ZipInfo(
                name, date_time=_stamp(document) if document else (1980, 1, 1, 0, 0, 0)
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
            yield pipe.drain()
    yield pipe.drain()
