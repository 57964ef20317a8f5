"""A document as a document (HTML and PDF) and the bookkeeper's archive, for customers.

Documents are reached only through `invoices.access` (the user's own tenant): another
tenant's id is a 404 here as on every invoice screen.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.access import customer_required
from invoices import archive, pdf
from invoices.access import document_of, tenant_of
from invoices.rendering import file_stem, readable


@customer_required
@require_GET
def document(request: HttpRequest, pk: int) -> HttpResponse:
    """The document as it reads on paper (prints as such, too)."""
    doc = document_of(request, pk)
    ctx = {"view": readable(doc), "document": doc, "attachments": doc.attachments.all()}
    return render(request, "invoices/document.html", ctx)


@customer_required
@require_GET
def document_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The PDF, shown in the browser; ?download=1 saves it."""
    doc = document_of(request, pk)
    response = HttpResponse(pdf.render(readable(doc)), content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") == "1" else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{file_stem(doc)}.pdf"'
    return response


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
