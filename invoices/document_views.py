"""A document as a document (HTML and PDF) and the bookkeeper's archive, for customers;
the same document and PDF read-only for reseller staff.

Customers reach documents only through `invoices.access` (the user's own tenant): another
tenant's id is a 404 here as on every invoice screen.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.access import customer_required, staff_required
from invoices import archive, pdf
from invoices.access import document_of, tenant_of
from invoices.models import Document
from invoices.rendering import file_stem, readable


def _document_page(request: HttpRequest, doc: Document, *, staff: bool) -> HttpResponse:
    args = [doc.tenant_id, doc.pk] if staff else [doc.pk]
    prefix = "invoices:staff_" if staff else "invoices:"
    ctx = {
        "view": readable(doc),
        "document": doc,
        "attachments": doc.attachments.all(),
        "staff": staff,
        "pdf_url": reverse(f"{prefix}pdf", args=args),
        "detail_url": reverse(f"{prefix}detail", args=args),
    }
    return render(request, "invoices/document.html", ctx)


def _pdf_response(request: HttpRequest, doc: Document) -> HttpResponse:
    response = HttpResponse(pdf.render(readable(doc)), content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") == "1" else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{file_stem(doc)}.pdf"'
    return response


@customer_required
@require_GET
def document(request: HttpRequest, pk: int) -> HttpResponse:
    """The document as it reads on paper (prints as such, too)."""
    return _document_page(request, document_of(request, pk), staff=False)


@customer_required
@require_GET
def document_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The PDF, shown in the browser; ?download=1 saves it."""
    return _pdf_response(request, document_of(request, pk))


def _staff_document(tenant_id: int, pk: int) -> Document:
    return get_object_or_404(Document.objects.select_related("tenant"), tenant_id=tenant_id, pk=pk)


@staff_required
@require_GET
def staff_document(request: HttpRequest, tenant_id: int, pk: int) -> HttpResponse:
    """Reseller staff: the same page, read-only (no file downloads)."""
    return _document_page(request, _staff_document(tenant_id, pk), staff=True)


@staff_required
@require_GET
def staff_pdf(request: HttpRequest, tenant_id: int, pk: int) -> HttpResponse:
    return _pdf_response(request, _staff_document(tenant_id, pk))


FORMATS = ("csv", "zip")


@customer_required
@require_GET
def archive_export(request: HttpRequest) -> HttpResponse:
    """The form; with a valid range and a format (the button pressed), that file."""
    tenant = tenant_of(request)
    kind = request.GET.get("format", "")
    bound = kind in FORMATS
    asked = request.GET.get("direction", "")  # the inbox links to its received documents
    initial = {"direction": asked} if asked in archive.DIRECTIONS else {}
    form = archive.ArchiveForm(
        request.GET if bound else None, tenant=tenant, kind=kind, initial=initial
    )
    if not bound or not form.is_valid():
        status = 400 if bound else 200
        return render(request, "invoices/archive.html", {"form": form}, status=status)
    documents = form.documents()
    if kind == "zip":
        chunks, content_type = archive.zip_chunks(tenant, documents), "application/zip"
    else:
        chunks, content_type = archive.csv_chunks(documents), "text/csv; charset=utf-8"
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{form.file_name()}"'
    return response
