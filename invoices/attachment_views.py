"""A document's files on its detail page: add and remove (drafts), download (any document).

Documents and their files are reached only through `invoices.access` (the user's own
tenant): another tenant's document or file is a 404. htmx posts get the `_attachments.html`
partial back; without JavaScript the form posts to the same URL and lands on the detail page,
or, with an error, on a page of its own with the error at the file input.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import customer_required
from einvoice.errors import ApiError
from invoices import attachments
from invoices.access import document_of, error_text
from invoices.models import Attachment, Document


class AttachmentForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        required=False,  # an empty choice gets our own message (attachments.check)
        help_text=gettext_lazy("PDF, PNG, JPEG, CSV, XLSX or ODS, at most 10 MB."),
        error_messages={
            "empty": gettext_lazy("This file is empty."),
            "invalid": gettext_lazy("Choose a file."),
        },
    )

    def __init__(self, *args, document: Document, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.document = document
        self.checked: attachments.CheckedFile | None = None
        self.fields["file"].widget.attrs["accept"] = attachments.allowed_endings().replace(" ", "")

    def clean_file(self):
        self.checked = attachments.check(self.cleaned_data.get("file"), self.document)
        return self.cleaned_data.get("file")


def context(document: Document, form: AttachmentForm | None = None) -> dict:
    """What `_attachments.html` shows, for the detail page and the partial alike."""
    can_change = attachments.can_change(document)
    return {
        "document": document,
        "attachments": document.attachments.defer("content"),
        "attachment_form": (form or AttachmentForm(document=document)) if can_change else None,
        "can_change_attachments": can_change,
    }


def _file_of(request: HttpRequest, pk: int, attachment_pk: int) -> tuple[Document, Attachment]:
    document = document_of(request, pk)
    return document, get_object_or_404(Attachment, document=document, pk=attachment_pk)


def _answer(request: HttpRequest, document: Document, form=None, status: int = 200):
    if request.htmx:
        return render(request, "invoices/_attachments.html", context(document, form), status=status)
    if form is not None and form.errors:
        return render(request, "invoices/attach.html", context(document, form), status=status)
    return redirect("invoices:detail", pk=document.pk)


@customer_required
@require_http_methods(["GET", "POST"])
def add(request: HttpRequest, pk: int) -> HttpResponse:
    document = document_of(request, pk)
    if not attachments.can_change(document):
        messages.warning(request, _("Files can only be added to a draft made in the portal."))
        return redirect("invoices:detail", pk=document.pk)
    if request.method == "GET":
        return render(request, "invoices/attach.html", context(document))
    form = AttachmentForm(request.POST, request.FILES, document=document)
    if not form.is_valid():
        return _answer(request, document, form, status=400)
    attachments.add(document, form.checked, request.user)
    if not request.htmx:  # the partial shows the new file itself
        messages.success(request, _("%(name)s attached.") % {"name": form.checked.name})
    return _answer(request, document)


@customer_required
@require_POST
def remove(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    document, attachment = _file_of(request, pk, attachment_pk)
    if not attachments.can_change(document):
        raise Http404
    attachments.remove(document, attachment, request.user)
    if not request.htmx:
        messages.success(request, _("%(name)s removed.") % {"name": attachment.file_name})
    return _answer(request, document)


@customer_required
@require_GET
def download(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    document, attachment = _file_of(request, pk, attachment_pk)
    try:
        content = attachments.content_of(attachment)
    except ApiError as exc:
        messages.error(request, error_text(exc, document.tenant) or str(exc))
        return redirect("invoices:detail", pk=document.pk)
    response = HttpResponse(content, content_type=attachments.download_type(attachment))
    # Always a download, never shown inline: the file comes from a customer or a sender.
    name = attachments.safe_name(attachment.file_name)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
