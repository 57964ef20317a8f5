"""Upload screens: a UBL file checked, created and sent; a PDF converted (with progress),
checked by the customer, then sent the same way. Logic in `invoices.upload`."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import customer_required
from einvoice.errors import ApiError, NotFound, Rejected
from invoices import upload
from invoices.access import error_text, key_problem, tenant_of
from invoices.outbound import NotSendable

PAGE = "invoices/upload.html"
CONVERSION_PAGE = "invoices/conversion.html"


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("UBL or PDF file"),
        required=False,
        help_text=gettext_lazy(
            "A Peppol BIS Billing 3.0 invoice or credit note (XML) from your accounting "
            "software, or a PDF invoice for e-invoice.be to read. At most 10 MB."
        ),
        error_messages={
            "empty": gettext_lazy("This file is empty."),
            "invalid": gettext_lazy("Choose a file."),
        },
    )

    def clean_file(self):
        chosen = self.cleaned_data.get("file")
        if chosen is None:
            raise forms.ValidationError(_("Choose a file."))
        upload.check_size(chosen.name, chosen.size)
        self.content = chosen.read(upload.MAX_BYTES + 1)
        upload.check_size(chosen.name, len(self.content))
        self.kind = upload.kind_of(self.content)
        if self.kind == "ubl":
            self.ubl = upload.read_ubl(chosen.name, self.content)
        return chosen


def _page(request: HttpRequest, form: UploadForm, status: int = 200, **extra) -> HttpResponse:
    tenant = tenant_of(request)
    ctx = {"form": form, "key_problem": key_problem(tenant), **extra}
    return render(request, PAGE, ctx, status=status)


def _outcome(request: HttpRequest, form: UploadForm, run, file_name: str) -> HttpResponse:
    """Run a create-and-send; the document's page, or this page with why not."""
    try:
        outcome = run()
    except upload.Refused as exc:
        form.add_error("file", str(exc))
        return _page(request, form, status=400)
    except Rejected as exc:  # e.g. 422/415: the API cannot read the file
        form.add_error("file", error_text(exc, tenant_of(request)) or str(exc))
        return _page(request, form, status=400)
    except NotSendable as exc:
        messages.warning(request, str(exc))
        return redirect("invoices:documents")
    except ApiError as exc:
        form.add_error(None, error_text(exc, tenant_of(request)) or str(exc))
        return _page(request, form, status=503)
    if outcome.document is None:
        return _page(
            request,
            form,
            status=400,
            places=upload.places(outcome.placement),
            issue_count=outcome.placement.count,
            file_name=file_name,
        )
    messages.success(
        request,
        _("Document %(number)s was created from %(name)s and is on its way.")
        % {"number": outcome.document.invoice_id, "name": file_name},
    )
    return redirect("invoices:detail", pk=outcome.document.pk)


@customer_required
@require_http_methods(["GET", "POST"])
def upload_file(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, UploadForm())
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=400)
    tenant = tenant_of(request)
    if form.kind == "pdf":
        try:
            task_id = upload.start_conversion(tenant, form.cleaned_data["file"].name, form.content)
        except ApiError as exc:
            form.add_error("file", error_text(exc, tenant) or str(exc))
            return _page(request, form, status=400)
        return redirect("invoices:conversion", task_id=task_id)
    file = form.ubl
    return _outcome(
        request,
        form,
        lambda: upload.create_and_send(tenant, request.user, file),
        file.name,
    )


def _conversion_of(request: HttpRequest, task_id: str) -> upload.Conversion:
    """The tenant's own conversion task (another tenant's is not found at e-invoice.be)."""
    try:
        return upload.conversion(tenant_of(request), task_id)
    except NotFound:
        raise Http404 from None


@customer_required
@require_GET
def conversion(request: HttpRequest, task_id: str) -> HttpResponse:
    """The PDF's conversion: progress while pending (htmx polls the partial; without
    JavaScript the page refreshes itself), then what was read."""
    try:
        done = _conversion_of(request, task_id)
    except ApiError as exc:
        done = upload.Conversion(task_id, "pending")
        messages.warning(request, error_text(exc, tenant_of(request)) or str(exc))
    ctx = {"conversion": done, "found": done.found()}
    if request.htmx:
        return render(request, "invoices/_conversion.html", ctx)
    return render(request, CONVERSION_PAGE, ctx)


@customer_required
@require_POST
def send_conversion(request: HttpRequest, task_id: str) -> HttpResponse:
    tenant = tenant_of(request)
    _conversion_of(request, task_id)  # 404 for a task that is not the tenant's
    return _outcome(
        request,
        UploadForm(),
        lambda: upload.send_converted(tenant, request.user, task_id),
        _("the PDF"),
    )
