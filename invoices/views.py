"""Customer self-service invoice screens, the staff read-only view, and the webhook endpoint.

Every customer view reaches documents only through `_documents_of(request)` (the user's own
tenant): any other id is a 404, in pages, downloads and htmx partials alike.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.access import customer_required, staff_required
from invoices import services, webhooks
from invoices.forms import (
    ADJUSTMENTS_PREFIX,
    COMMON_VAT_RATES,
    LINES_PREFIX,
    MAX_ADJUSTMENTS,
    MAX_LINES,
    PEPPOL_ID_RE,
    AdjustmentForm,
    AdjustmentFormSet,
    DocumentForm,
    LineForm,
    LineFormSet,
    initial_header,
)
from invoices.issues import Placement, place
from invoices.models import Direction, Document, DocumentType, State
from invoices.tenant_api import (
    KeyUnavailable,
    Rejected,
    TenantApi,
    TenantApiError,
    current_key,
    key_message,
)
from invoices.totals import line_amount, to_decimal
from tenants.models import Tenant

PAGE_SIZE = 25
KINDS = {"invoice": DocumentType.INVOICE, "credit-note": DocumentType.CREDIT_NOTE}


# --- Access helpers ------------------------------------------------------------------------------
def _tenant_for_user(request: HttpRequest) -> Tenant:
    return request.user.tenant


def _documents_of(request: HttpRequest) -> QuerySet[Document]:
    return Document.objects.filter(tenant_id=request.user.tenant_id)


def _get_document_for_user(request: HttpRequest, pk: int) -> Document:
    return get_object_or_404(_documents_of(request).select_related("tenant", "corrects"), pk=pk)


def _key_problem(tenant: Tenant) -> str:
    """A sentence for the banner when the tenant has no usable key (revoked, never issued)."""
    key = current_key(tenant)
    if key is None or not key.is_held:
        return key_message("none")
    return ""


def _error_text(exc: Exception, tenant: Tenant) -> str:
    """What to say about a failed call: nothing when the key banner already says it."""
    if isinstance(exc, KeyUnavailable) and str(exc) == _key_problem(tenant):
        return ""
    return str(exc)


# --- Document list, inbox, detail ------------------------------------------------------------------
def _filtered(qs: QuerySet[Document], params: QueryDict) -> tuple[QuerySet[Document], dict]:
    filters = {
        "state": params.get("state", ""),
        "type": params.get("type", ""),
        "date_from": params.get("date_from", ""),
        "date_to": params.get("date_to", ""),
        "party": params.get("party", "")[:100],
        "q": params.get("q", "")[:100],
    }
    if filters["state"] in State.values:
        qs = qs.filter(state=filters["state"])
    if filters["type"] in DocumentType.values:
        qs = qs.filter(document_type=filters["type"])
    for key, lookup in (("date_from", "invoice_date__gte"), ("date_to", "invoice_date__lte")):
        try:
            day = parse_date(filters[key]) if filters[key] else None
        except ValueError:
            day = None
        if day:
            qs = qs.filter(**{lookup: day})
        else:
            filters[key] = ""
    if filters["party"]:
        term = filters["party"]
        qs = qs.filter(
            Q(customer_name__icontains=term)
            | Q(customer_tax_id__icontains=term)
            | Q(vendor_name__icontains=term)
            | Q(vendor_tax_id__icontains=term)
        )
    if filters["q"]:
        term = filters["q"]
        qs = qs.filter(
            Q(invoice_id__icontains=term)
            | Q(customer_name__icontains=term)
            | Q(vendor_name__icontains=term)
            | Q(purchase_order__icontains=term)
            | Q(note__icontains=term)
        )
    return qs, filters


def _list_context(request: HttpRequest, qs: QuerySet[Document], direction: str) -> dict[str, Any]:
    qs, filters = _filtered(qs.filter(direction=direction), request.GET)
    page = Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    states = (
        [State.RECEIVED]
        if direction == Direction.INBOUND
        else [s for s in State if s != State.RECEIVED]
    )
    return {
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "states": [(s.value, s.label) for s in states],
        "types": DocumentType.choices,
        "direction": direction,
        "inbound": direction == Direction.INBOUND,
    }


def _render_list(request: HttpRequest, ctx: dict[str, Any]) -> HttpResponse:
    if request.htmx and request.htmx.target == "results":
        return render(request, "invoices/_document_rows.html", ctx)
    return render(request, "invoices/documents.html", ctx)


@customer_required
def documents(request: HttpRequest) -> HttpResponse:
    tenant = _tenant_for_user(request)
    services.ensure_setup(tenant)
    ctx = _list_context(request, _documents_of(request), Direction.OUTBOUND)
    ctx.update(
        title=_("Documents"),
        tenant=tenant,
        key_problem=_key_problem(tenant),
        detail_url="invoices:detail",
    )
    return _render_list(request, ctx)


@customer_required
def inbox(request: HttpRequest) -> HttpResponse:
    tenant = _tenant_for_user(request)
    services.ensure_setup(tenant)
    sync_error = ""
    try:
        services.sync_inbox(tenant, force=request.GET.get("refresh") == "1")
    except TenantApiError as exc:
        sync_error = _error_text(exc, tenant)
    ctx = _list_context(request, _documents_of(request), Direction.INBOUND)
    ctx.update(
        title=_("Inbox"),
        tenant=tenant,
        key_problem=_key_problem(tenant),
        sync_error=sync_error,
        detail_url="invoices:detail",
    )
    return _render_list(request, ctx)


def _remote_timeline(document: Document) -> tuple[list[Any], str]:
    if not document.remote_id:
        return [], ""
    try:
        return TenantApi(document.tenant).timeline(document.remote_id), ""
    except TenantApiError as exc:
        return [], _error_text(exc, document.tenant)


def _render_detail(request: HttpRequest, document: Document, **extra: Any) -> HttpResponse:
    """The detail page, for the customer (with actions) and for staff (read-only)."""
    ctx = {
        "document": document,
        "lines": document.lines.all(),
        "adjustments": document.allowances_charges.all(),
        "events": document.events.all(),
        "credit_notes": document.credit_notes.all() if document.can_credit else [],
    }
    return render(request, "invoices/detail.html", {**ctx, **extra})


@customer_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    document = _get_document_for_user(request, pk)
    timeline, timeline_error = _remote_timeline(document)
    return _render_detail(
        request,
        document,
        timeline=timeline,
        timeline_error=timeline_error,
        key_problem=_key_problem(document.tenant),
        can_act=True,
    )


@customer_required
@require_GET
def state(request: HttpRequest, pk: int) -> HttpResponse:
    """The state badge (htmx polls it while a document is in transit)."""
    document = _get_document_for_user(request, pk)
    fresh = timezone.now() - timedelta(seconds=10)
    if document.state == State.TRANSIT and (
        document.last_polled_at is None or document.last_polled_at < fresh
    ):
        try:
            services.refresh(document)
        except TenantApiError:
            pass  # the mirror stays as it is; the poll task retries
    if request.htmx:
        response = render(request, "invoices/_state.html", {"document": document, "can_act": True})
        if document.state != State.TRANSIT:
            response["HX-Refresh"] = "true"  # show the final state's actions and timeline
        return response
    return redirect("invoices:detail", pk=document.pk)


@customer_required
@require_GET
def ubl(request: HttpRequest, pk: int) -> HttpResponse:
    document = _get_document_for_user(request, pk)
    if not document.remote_id:
        raise Http404
    try:
        file_name, content = TenantApi(document.tenant).ubl(document.remote_id)
    except TenantApiError as exc:
        if text := _error_text(exc, document.tenant):
            messages.error(request, text)
        return redirect("invoices:detail", pk=document.pk)
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", file_name)[:100] or "document.xml"
    response = HttpResponse(content, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    return response


@customer_required
@require_POST
def send(request: HttpRequest, pk: int) -> HttpResponse:
    document = _get_document_for_user(request, pk)
    try:
        services.send(document, request.user)
    except services.NotSendable as exc:
        messages.warning(request, str(exc))
    except TenantApiError as exc:
        if text := _error_text(exc, document.tenant):
            messages.error(request, text)
    else:
        messages.success(
            request, _("Document %(number)s is on its way.") % {"number": document.invoice_id}
        )
    return redirect("invoices:detail", pk=document.pk)


@customer_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    document = _get_document_for_user(request, pk)
    try:
        services.delete_draft(document, request.user)
    except services.NotSendable as exc:
        messages.warning(request, str(exc))
        return redirect("invoices:detail", pk=document.pk)
    except TenantApiError as exc:
        if text := _error_text(exc, document.tenant):
            messages.error(request, text)
        return redirect("invoices:detail", pk=document.pk)
    messages.success(request, _("Draft %(number)s deleted.") % {"number": document.invoice_id})
    return redirect("invoices:documents")


# --- Staff: read-only view of a tenant's documents ---------------------------------------------------
@staff_required
def staff_documents(request: HttpRequest, tenant_id: int) -> HttpResponse:
    tenant = get_object_or_404(Tenant, pk=tenant_id)
    direction = (
        Direction.INBOUND if request.GET.get("direction") == "INBOUND" else Direction.OUTBOUND
    )
    ctx = _list_context(request, Document.objects.filter(tenant=tenant), direction)
    ctx.update(
        title=_("Documents of %(tenant)s") % {"tenant": tenant.name},
        tenant=tenant,
        staff=True,
        detail_url="invoices:staff_detail",
    )
    return _render_list(request, ctx)


@staff_required
def staff_detail(request: HttpRequest, tenant_id: int, pk: int) -> HttpResponse:
    document = get_object_or_404(
        Document.objects.select_related("tenant"), tenant_id=tenant_id, pk=pk
    )
    return _render_detail(request, document, staff=True, can_act=False)


# --- The editor ----------------------------------------------------------------------------------------
LINE_FIELDS = list(LineForm.base_fields)
ADJUSTMENT_FIELDS = list(AdjustmentForm.base_fields)
LINE_INITIAL = {
    "description": "",
    "quantity": "1",
    "unit": "C62",
    "unit_price": "",
    "tax_rate": "21",
}
ADJUSTMENT_INITIAL = {"kind": "allowance", "reason": "", "amount": "", "tax_rate": "21"}
# What a copy or a credit note takes over from the document it starts from.
PREFILL_FIELDS = (
    "currency",
    "purchase_order",
    "payment_term",
    "iban",
    "bic",
    "note",
    "customer_name",
    "customer_tax_id",
    "customer_address",
    "customer_email",
    "customer_peppol_id",
)


def _count(data: QueryDict, prefix: str, limit: int) -> int:
    try:
        return max(0, min(int(data.get(f"{prefix}-TOTAL_FORMS", "0")), limit))
    except (TypeError, ValueError):
        return 0


def _rows(data: QueryDict, prefix: str, fields: list[str], limit: int) -> list[dict[str, str]]:
    return [
        {f: data.get(f"{prefix}-{i}-{f}", "") for f in fields}
        for i in range(_count(data, prefix, limit))
    ]


def _with_rows(data: QueryDict, prefix: str, rows: list[dict[str, str]]) -> QueryDict:
    """A copy of `data` whose formset `prefix` holds exactly `rows` (renumbered)."""
    out = data.copy()
    for key in list(out.keys()):
        if key.startswith(f"{prefix}-"):
            del out[key]
    out[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
    out[f"{prefix}-INITIAL_FORMS"] = "0"
    for i, row in enumerate(rows):
        for name, value in row.items():
            out[f"{prefix}-{i}-{name}"] = value
    return out


def _row_amounts(rows: list[dict[str, str]]) -> list[Decimal | None]:
    """Each line's amount as typed so far (None while it does not parse)."""
    amounts: list[Decimal | None] = []
    for raw in rows:
        quantity, price = to_decimal(raw.get("quantity")), to_decimal(raw.get("unit_price"))
        ok = quantity is not None and price is not None and abs(quantity * price) < 10**12
        amounts.append(line_amount(quantity, price) if ok else None)
    return amounts


def _edit_rows(data: QueryDict, action: str) -> QueryDict | None:
    """Apply an add/remove action to the posted formsets; None when `action` is not one."""
    match = re.fullmatch(r"(add|remove)_(line|adjustment)(?:-(\d{1,4}))?", action)
    if not match:
        return None
    op, what, index = match.group(1), match.group(2), match.group(3)
    if what == "line":
        prefix, fields, limit, initial = LINES_PREFIX, LINE_FIELDS, MAX_LINES, LINE_INITIAL
    else:
        prefix, fields, limit = ADJUSTMENTS_PREFIX, ADJUSTMENT_FIELDS, MAX_ADJUSTMENTS
        initial = ADJUSTMENT_INITIAL
    rows = _rows(data, prefix, fields, limit)
    if op == "add" and len(rows) < limit:
        rows.append(dict(initial))
    elif op == "remove" and index is not None and int(index) < len(rows):
        rows.pop(int(index))
        if what == "line" and not rows:
            rows.append(dict(initial))  # an invoice keeps at least one line
    return _with_rows(data, prefix, rows)


class Editor:
    """The bound (or initial) forms of the editor, and where the API's issues go."""

    def __init__(self, request: HttpRequest, document_type: str, data: QueryDict | None) -> None:
        tenant = _tenant_for_user(request)
        self.tenant = tenant
        self.document_type = document_type
        # Initial values matter only for a new, unbound form.
        initial = (
            initial_header(tenant, services.mailbox_for(tenant).seller_profile)
            if data is None
            else {}
        )
        self.form = DocumentForm(data, tenant=tenant, document_type=document_type, initial=initial)
        if data is None:
            self.lines = LineFormSet(prefix=LINES_PREFIX, initial=[LINE_INITIAL])
            self.adjustments = AdjustmentFormSet(prefix=ADJUSTMENTS_PREFIX)
        else:
            self.lines = LineFormSet(data, prefix=LINES_PREFIX)
            self.adjustments = AdjustmentFormSet(data, prefix=ADJUSTMENTS_PREFIX)
        self.data = data
        self.placement = Placement()

    def is_valid(self) -> bool:
        # Evaluate all three so every error shows at once.
        results = [self.form.is_valid(), self.lines.is_valid(), self.adjustments.is_valid()]
        return all(results)

    def cleaned(self) -> services.EditorInput:
        return services.EditorInput(
            document_type=self.document_type,
            header=self.form.cleaned_data,
            lines=[f.cleaned_data for f in self.lines.forms],
            adjustments=[f.cleaned_data for f in self.adjustments.forms],
        )

    def labels(self) -> dict[str, str]:
        labels = {name: str(f.label) for name, f in self.form.fields.items()}
        labels.update({name: str(f.label) for name, f in LineForm.base_fields.items()})
        labels.update(
            {"items": _("lines"), "swift": _("BIC"), "billing_reference": _("Corrected invoice")}
        )
        return labels

    def place(self, issues: list[dict[str, Any]], index: dict[tuple[str, int], int]) -> None:
        self.placement = place(
            issues,
            line_count=len(self.lines.forms),
            adjustment_index=index,
            adjustment_count=len(self.adjustments.forms),
            header_fields=set(self.form.fields),
            labels=self.labels(),
        )

    def preview(self):
        if self.data is None:
            return services.preview_totals([LINE_INITIAL], [])
        return services.preview_totals(
            _rows(self.data, LINES_PREFIX, LINE_FIELDS, MAX_LINES),
            _rows(self.data, ADJUSTMENTS_PREFIX, ADJUSTMENT_FIELDS, MAX_ADJUSTMENTS),
        )

    def peppol_id(self) -> str:
        source = self.data if self.data is not None else {}
        return services.peppol_id_for(
            str(source.get("customer_tax_id", "")), str(source.get("customer_peppol_id", ""))
        )

    def error_summary(self) -> list[tuple[str, str, str]]:
        """(where, what, link) for every input the form refused, in page order: the page is
        long, and the inputs in error may be far below the top where the page opens."""
        out: list[tuple[str, str, str]] = []
        for name, bound in ((n, self.form[n]) for n in self.form.fields):
            out += [(str(bound.label), str(e), f"#field-{name}") for e in bound.errors]
        for formset, anchor, title in (
            (self.lines, "line", _("Line %(n)s")),
            (self.adjustments, "adjustment", _("Discount or surcharge %(n)s")),
        ):
            section = "#lines-section" if anchor == "line" else "#adjustments-section"
            out += [("", str(e), section) for e in formset.non_form_errors()]
            for i, form in enumerate(formset.forms):
                for name, errors in form.errors.items():
                    where = title % {"n": i + 1}
                    if name in form.fields:
                        where = f"{where} · {form.fields[name].label}"
                    out += [(where, str(e), f"#{anchor}-{i}") for e in errors]
        return out

    def context(self, **extra: Any) -> dict[str, Any]:
        rows = (
            _rows(self.data, LINES_PREFIX, LINE_FIELDS, MAX_LINES)
            if self.data is not None
            else [LINE_INITIAL]
        )
        amounts = _row_amounts(rows)
        for i, form in enumerate(self.lines.forms):
            form.api = self.placement.lines.get(i, {})
            form.preview_amount = amounts[i] if i < len(amounts) else None
        for i, form in enumerate(self.adjustments.forms):
            form.api = self.placement.adjustments.get(i, {})
        kind = "credit-note" if self.document_type == DocumentType.CREDIT_NOTE else "invoice"
        key_problem = _key_problem(self.tenant)
        ctx = {
            "editor": self,
            "form": self.form,
            "lines": self.lines,
            "adjustments": self.adjustments,
            "placement": self.placement,
            "totals": self.preview(),
            "kind": kind,
            "is_credit_note": self.document_type == DocumentType.CREDIT_NOTE,
            "vat_rates": COMMON_VAT_RATES,
            "key_problem": key_problem,
            "error_summary": self.error_summary() if extra.get("show_errors") else [],
            "action_url": reverse(
                "invoices:new_credit_note" if kind == "credit-note" else "invoices:new_invoice"
            ),
        }
        ctx.update(extra)
        return ctx


def _prefill(request: HttpRequest, document_type: str) -> QueryDict | None:
    """The editor's data copied from one of the user's sent documents (?copy=<id>), or for a
    credit note of an invoice (?corrects=<id>): buyer, lines, discounts, payment terms."""
    raw = request.GET.get("corrects") or request.GET.get("copy")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise Http404
    source = get_object_or_404(
        _documents_of(request).filter(direction=Direction.OUTBOUND), pk=int(raw)
    )
    tenant = _tenant_for_user(request)
    header = initial_header(tenant, services.mailbox_for(tenant).seller_profile)
    header["invoice_date"] = header["invoice_date"].isoformat()
    for name in PREFILL_FIELDS:
        header[name] = getattr(source, name)
    # Not the payment reference: a structured reference belongs to one document.
    if document_type == DocumentType.CREDIT_NOTE:
        corrected = source if source.document_type == DocumentType.INVOICE else source.corrects
        header["corrects"] = str(corrected.pk) if corrected else ""
    data = QueryDict(mutable=True)
    data.update({k: "" if v is None else str(v) for k, v in header.items()})
    data = _with_rows(data, LINES_PREFIX, services.line_rows(source))
    return _with_rows(data, ADJUSTMENTS_PREFIX, services.adjustment_rows(source))


def _editor(request: HttpRequest, document_type: str) -> HttpResponse:
    tenant = _tenant_for_user(request)
    if request.method == "GET":
        services.ensure_setup(tenant)
        prefill = _prefill(request, document_type)
        return render(
            request,
            "invoices/editor.html",
            Editor(request, document_type, prefill).context(show_errors=False),
        )
    if request.method != "POST":
        return HttpResponse(status=405)

    action = request.POST.get("action", "")[:40]
    edited = _edit_rows(request.POST, action)
    if edited is not None:
        editor = Editor(request, document_type, edited)
        ctx = editor.context(show_errors=False)
        if request.htmx:
            return render(request, "invoices/_editor_rows.html", ctx)
        return render(request, "invoices/editor.html", ctx)

    if "use_participant" in request.POST:
        peppol_id, _sep, name = request.POST.get("use_participant", "")[:300].partition("|")
        data = request.POST.copy()
        if PEPPOL_ID_RE.match(peppol_id):
            data["customer_peppol_id"] = peppol_id
            if not data.get("customer_name", "").strip():
                data["customer_name"] = name[:200]
        editor = Editor(request, document_type, data)
        return render(request, "invoices/editor.html", editor.context(show_errors=False))

    editor = Editor(request, document_type, request.POST)
    if action == "search_participants":
        found = _participant_search(tenant, request.POST.get("participant_query", ""))
        return render(request, "invoices/editor.html", editor.context(show_errors=False, **found))
    if action == "peppol_check":
        return render(
            request,
            "invoices/editor.html",
            editor.context(
                show_errors=False, peppol=_peppol_result(tenant, editor.peppol_id(), document_type)
            ),
        )
    if action not in ("validate", "save", "send"):
        return render(request, "invoices/editor.html", editor.context(show_errors=False))
    if not editor.is_valid():
        return render(request, "invoices/editor.html", editor.context(show_errors=True), status=200)

    data = editor.cleaned()
    try:
        if action == "validate":
            result, index = services.validate_remote(tenant, data)
            editor.place(result.issues, index)
            return render(
                request,
                "invoices/editor.html",
                editor.context(
                    show_errors=True, validated=result.is_valid and not editor.placement.has_errors
                ),
            )
        document = services.create_draft(tenant, request.user, data, claim_send=action == "send")
    except services.DuplicateNumber as exc:
        editor.form.add_error("invoice_id", str(exc))
        return render(request, "invoices/editor.html", editor.context(show_errors=True))
    except Rejected as exc:
        message = str(exc)
        if exc.issues:
            _payload, index = services.build_payload(data, services.totals_for(data))
            editor.place(exc.issues, index)
            message = _("e-invoice.be refused the document; nothing was created or sent.")
        return render(
            request, "invoices/editor.html", editor.context(show_errors=True, api_error=message)
        )
    except TenantApiError as exc:
        # Includes a create with no answer: the draft is kept and shown on its page.
        existing = (
            _documents_of(request)
            .filter(direction=Direction.OUTBOUND, invoice_id=data.header["invoice_id"])
            .first()
        )
        if existing is not None:
            messages.error(request, str(exc))
            return redirect("invoices:detail", pk=existing.pk)
        return render(
            request,
            "invoices/editor.html",
            editor.context(show_errors=True, api_error=_error_text(exc, tenant)),
        )

    if action == "send":
        try:
            services.send(document, request.user, claimed=True)
            messages.success(
                request, _("Document %(number)s is on its way.") % {"number": document.invoice_id}
            )
        except (TenantApiError, services.NotSendable) as exc:
            messages.error(
                request, _("Saved as a draft, but not sent: %(reason)s") % {"reason": exc}
            )
    else:
        messages.success(request, _("Draft %(number)s saved.") % {"number": document.invoice_id})
    url = reverse("invoices:detail", kwargs={"pk": document.pk})
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return redirect(url)


@customer_required
def new_invoice(request: HttpRequest) -> HttpResponse:
    return _editor(request, DocumentType.INVOICE)


@customer_required
def new_credit_note(request: HttpRequest) -> HttpResponse:
    return _editor(request, DocumentType.CREDIT_NOTE)


@customer_required
@require_POST
def totals(request: HttpRequest) -> HttpResponse:
    """Live totals of the posted lines (htmx partial); half-typed rows are left out."""
    lines = _rows(request.POST, LINES_PREFIX, LINE_FIELDS, MAX_LINES)
    adjustments = _rows(request.POST, ADJUSTMENTS_PREFIX, ADJUSTMENT_FIELDS, MAX_ADJUSTMENTS)
    currency = request.POST.get("currency", "EUR")[:3]
    return render(
        request,
        "invoices/_totals.html",
        {
            "totals": services.preview_totals(lines, adjustments),
            "currency": currency,
            # Each line's amount cell follows too (out-of-band swaps).
            "row_amounts": list(enumerate(_row_amounts(lines))),
        },
    )


def _peppol_result(tenant: Tenant, peppol_id: str, document_type: str) -> dict[str, Any]:
    if not peppol_id:
        return {"error": _("Give the buyer's VAT number or Peppol ID first.")}
    if not PEPPOL_ID_RE.match(peppol_id):
        return {"error": _("%(id)s is not a Peppol ID (scheme:identifier).") % {"id": peppol_id}}
    try:
        check = services.check_peppol(tenant, peppol_id, document_type)
    except TenantApiError as exc:
        return {"error": str(exc), "peppol_id": peppol_id}
    return {
        "check": check,
        "peppol_id": peppol_id,
        "credit_note": document_type == DocumentType.CREDIT_NOTE,
    }


@customer_required
@require_GET
def peppol_check(request: HttpRequest) -> HttpResponse:
    tenant = _tenant_for_user(request)
    document_type = KINDS.get(request.GET.get("kind", ""), DocumentType.INVOICE)
    peppol_id = services.peppol_id_for(
        request.GET.get("customer_tax_id", "")[:40], request.GET.get("customer_peppol_id", "")[:70]
    )
    return render(
        request,
        "invoices/_peppol.html",
        {"peppol": _peppol_result(tenant, peppol_id, document_type)},
    )


def _participant_search(tenant: Tenant, raw_query: str) -> dict[str, Any]:
    query = raw_query.strip()[:100]
    ctx: dict[str, Any] = {"participant_query": query, "participant_results": []}
    if len(query) < 2:
        if query:
            ctx["participant_error"] = _("Type at least two letters.")
        return ctx
    try:
        found = TenantApi(tenant).search_participants(query)
    except TenantApiError as exc:
        ctx["participant_error"] = str(exc)
        return ctx
    ctx["participant_results"] = [
        {
            "peppol_id": p.peppol_id,
            "name": next((e.name for e in (p.entities or []) if e.name), ""),
            "country": next((e.country_code for e in (p.entities or []) if e.country_code), ""),
        }
        for p in found[:20]
    ]
    return ctx


@customer_required
@require_GET
def participants(request: HttpRequest) -> HttpResponse:
    found = _participant_search(_tenant_for_user(request), request.GET.get("participant_query", ""))
    return render(request, "invoices/_participants.html", found)


# --- Webhook endpoint (authenticated by signature, not by login) ----------------------------------
@csrf_exempt
@require_POST
def webhook(request: HttpRequest, token: str) -> HttpResponse:
    if len(token) > 100:
        return HttpResponseBadRequest()
    outcome = webhooks.handle(token, request.body, request.headers.get("X-Signature", ""))
    return JsonResponse({"status": outcome.message}, status=outcome.status)
