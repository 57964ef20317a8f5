"""Customer self-service invoice screens, the staff read-only view, and the webhook endpoint.

Every customer view reaches documents only through `invoices.access` (the user's own tenant):
any other id is a 404, in pages, downloads and htmx partials alike. The views parse the
request, call one function (`outbound`, `inbound`, `mailbox`, `editor`) and render.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from functools import reduce
from operator import or_
from types import SimpleNamespace
from typing import Any

from django.contrib import messages
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
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import customer_required, staff_required
from core.paging import page_query, seek_page
from einvoice.errors import ApiError, RateLimited
from einvoice.tenant import TenantApi
from invoices import attachment_views, checks, editor, inbound, outbound, pdf, webhooks
from invoices.access import document_of, documents_of, error_text, key_problem, tenant_of
from invoices.models import Direction, Document, DocumentType, State
from invoices.payload import peppol_id_for, typed_lines
from tenants.models import Tenant

PAGE_SIZE = 25
KINDS = {"invoice": DocumentType.INVOICE, "credit-note": DocumentType.CREDIT_NOTE}
# The columns each free-text filter of the lists searches.
SEARCHES = {
    "party": ("customer_name", "customer_tax_id", "vendor_name", "vendor_tax_id"),
    "q": ("invoice_id", "customer_name", "vendor_name", "purchase_order", "note"),
}


# --- Document list, inbox, detail ------------------------------------------------------------------
def _filtered(qs: QuerySet[Document], params: QueryDict) -> tuple[QuerySet[Document], dict]:
    filters = {
        "state": params.get("state", ""),
        "type": params.get("type", ""),
        "date_from": params.get("date_from", ""),
        "date_to": params.get("date_to", ""),
        # PostgreSQL refuses NUL in a string literal (a 500 there, not on SQLite).
        "party": params.get("party", "").replace("\x00", "")[:100],
        "q": params.get("q", "").replace("\x00", "")[:100],
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
    for key, columns in SEARCHES.items():
        if term := filters[key]:
            qs = qs.filter(reduce(or_, (Q(**{f"{c}__icontains": term}) for c in columns)))
    return qs, filters


def _list_context(request: HttpRequest, qs: QuerySet[Document], direction: str) -> dict[str, Any]:
    qs, filters = _filtered(qs.filter(direction=direction), request.GET)
    page = seek_page(qs, request.GET.get("page"), ("-created_at", "-pk"), size=PAGE_SIZE)
    states = (
        [State.RECEIVED]
        if direction == Direction.INBOUND
        else [s for s in State if s != State.RECEIVED]
    )
    return {
        "page": page,
        "filters": filters,
        "query": page_query(request),
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
    tenant = tenant_of(request)
    ctx = _list_context(request, documents_of(request), Direction.OUTBOUND)
    ctx.update(
        title=_("Documents"),
        tenant=tenant,
        key_problem=key_problem(tenant),
        detail_url="invoices:detail",
    )
    return _render_list(request, ctx)


@customer_required
def inbox(request: HttpRequest) -> HttpResponse:
    tenant = tenant_of(request)
    sync_error = ""
    try:
        inbound.sync_inbox(tenant, force=request.GET.get("refresh") == "1")
    except ApiError as exc:
        sync_error = error_text(exc, tenant)
    ctx = _list_context(request, documents_of(request), Direction.INBOUND)
    ctx.update(
        title=_("Inbox"),
        tenant=tenant,
        key_problem=key_problem(tenant),
        sync_error=sync_error,
        detail_url="invoices:detail",
    )
    return _render_list(request, ctx)


def _delivery(document: Document, timeline: list[Any]) -> dict[str, Any]:
    """A document in TRANSIT: since when, and the network's next attempt when the timeline
    says so (e-invoice.be retries delivery for up to 24 h before FAILED)."""
    if document.state != State.TRANSIT:
        return {}
    found: dict[str, Any] = {"since": document.state_changed_at}
    for event in reversed(timeline):
        details = event.details if isinstance(event.details, dict) else {}
        if event.event_type == "send_attempted" and details.get("next_attempt_at"):
            found["next_attempt_at"] = webhooks.parse_timestamp(details["next_attempt_at"])
            found["attempt"] = details.get("attempt")
            found["attempts"] = details.get("attempts")
            found["last_error"] = details.get("error") or ""
            break
    return found


def _timeline_event(stored: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(
        event_type=stored.get("event_type", ""),
        timestamp=parse_datetime(stored.get("timestamp") or ""),
        details=stored.get("details") or {},
    )


def _remote_timeline(document: Document) -> tuple[list[Any], str]:
    """The stored timeline; read (once) again only when a webhook or a poll has changed or
    checked the document since the last read."""
    if not document.remote_id:
        return [], ""
    seen = max(t for t in (document.updated_at, document.last_polled_at) if t is not None)
    if document.remote_timeline_at is None or document.remote_timeline_at < seen:
        at = timezone.now()  # before the read: a change during it reads again next time
        try:
            events = TenantApi(document.tenant).timeline(document.remote_id)
        except ApiError as exc:
            stored = [_timeline_event(e) for e in document.remote_timeline]
            return stored, error_text(exc, document.tenant)
        document.remote_timeline = [
            {
                "event_type": str(e.event_type or ""),
                "timestamp": e.timestamp.isoformat()
                if hasattr(e.timestamp, "isoformat")
                else str(e.timestamp or ""),
                "details": e.details if isinstance(e.details, dict) else {},
            }
            for e in events
        ]
        Document.objects.filter(pk=document.pk).update(
            remote_timeline=document.remote_timeline, remote_timeline_at=at
        )
    return [_timeline_event(e) for e in document.remote_timeline], ""


def _render_detail(request: HttpRequest, document: Document, **extra: Any) -> HttpResponse:
    """The detail page, for the customer (with actions) and for staff (read-only)."""
    ctx = {
        "document": document,
        "lines": document.lines.all() if document.is_complete else typed_lines(document),
        "adjustments": document.allowances_charges.all(),
        "events": document.events.select_related("actor", "link"),
        "credit_notes": document.credit_notes.all() if document.can_credit else [],
        "replaces": document.replaces,
        "replacement": document.replacement,
        **attachment_views.context(document),
    }
    if extra.get("staff"):
        ctx.update(attachment_form=None, can_change_attachments=False)
    return render(request, "invoices/detail.html", {**ctx, **extra})


@customer_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    document = document_of(request, pk)
    timeline, timeline_error = _remote_timeline(document)
    return _render_detail(
        request,
        document,
        timeline=timeline,
        timeline_error=timeline_error,
        delivery=_delivery(document, timeline),
        key_problem=key_problem(document.tenant),
        can_act=True,
    )


@customer_required
@require_GET
def state(request: HttpRequest, pk: int) -> HttpResponse:
    """The state badge (htmx polls it while a document is in transit)."""
    document = document_of(request, pk)
    now = timezone.now()
    if document.state == State.TRANSIT and (
        (document.last_polled_at is None or document.last_polled_at < now - timedelta(seconds=10))
        # A 429 put the tenant's next check later: the open page waits too.
        and not (document.next_poll_at and document.next_poll_at > now + timedelta(seconds=10))
    ):
        try:
            outbound.refresh(document)
        except RateLimited as exc:
            outbound.hold_tenant(document.tenant_id, exc.retry_after or 60)
        except ApiError:
            pass  # the mirror stays as it is; the poll task retries
    if request.htmx:
        response = render(request, "invoices/_state.html", {"document": document, "can_act": True})
        if document.state != State.TRANSIT:
            response["HX-Refresh"] = "true"  # show the final state's actions and timeline
        return response
    return redirect("invoices:detail", pk=document.pk)


def _report(request: HttpRequest, exc: ApiError, tenant: Tenant) -> None:
    if text := error_text(exc, tenant):
        messages.error(request, text)


def _attempt(request: HttpRequest, document: Document, action: Callable[[], Any]) -> bool:
    """Run an action on the document; when it is refused, say why in a message."""
    try:
        action()
    except outbound.NotSendable as exc:
        messages.warning(request, str(exc))
    except ApiError as exc:
        _report(request, exc, document.tenant)
    else:
        return True
    return False


@customer_required
@require_GET
def ubl(request: HttpRequest, pk: int) -> HttpResponse:
    document = document_of(request, pk)
    if not document.remote_id:
        raise Http404
    try:
        file_name, content = TenantApi(document.tenant).ubl(document.remote_id)
    except ApiError as exc:
        _report(request, exc, document.tenant)
        return redirect("invoices:detail", pk=document.pk)
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", file_name)[:100] or "document.xml"
    response = HttpResponse(content, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    return response


def _send_again(request: HttpRequest, document: Document) -> HttpResponse:
    """A FAILED document: a new one is made and sent; the customer lands on its page."""
    if _attempt(request, document, lambda: outbound.send_again(document, request.user)):
        messages.success(
            request,
            _("Document %(number)s is on its way again, as a new document.")
            % {"number": document.invoice_id},
        )
    new = Document.objects.filter(replaces=document).first()
    return redirect("invoices:detail", pk=(new or document).pk)


@customer_required
@require_POST
def send(request: HttpRequest, pk: int) -> HttpResponse:
    document = document_of(request, pk)
    if document.state == State.FAILED:
        return _send_again(request, document)
    if _attempt(request, document, lambda: outbound.send(document, request.user)):
        messages.success(
            request, _("Document %(number)s is on its way.") % {"number": document.invoice_id}
        )
    return redirect("invoices:detail", pk=document.pk)


@customer_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    document = document_of(request, pk)
    if request.method == "GET":  # the button without JavaScript: ask first (issue 17)
        return render(
            request,
            "confirm.html",
            {
                "question": _("Delete this draft?"),
                "explanation": document,
                "action_url": request.path,
                "button": _("Delete draft"),
                "cancel_url": reverse("invoices:detail", args=[document.pk]),
            },
        )
    if not _attempt(request, document, lambda: outbound.delete_draft(document, request.user)):
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
def _prefill_source(request: HttpRequest) -> Document | None:
    """The user's sent document a new one starts from: ?copy=<id>, or ?corrects=<id> for a
    credit note of it."""
    raw = request.GET.get("corrects") or request.GET.get("copy")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise Http404
    return get_object_or_404(
        documents_of(request).filter(direction=Direction.OUTBOUND), pk=int(raw)
    )


def _editor(
    request: HttpRequest, document_type: str, document: Document | None = None
) -> HttpResponse:
    """The editor of a new document, or of the draft `document`."""
    tenant = tenant_of(request)
    if request.method == "GET":
        if document is not None:
            data = editor.data_of(tenant, document)
        else:
            source = _prefill_source(request)
            data = editor.prefill(tenant, source, document_type) if source else None
        page = editor.Editor(tenant, document_type, data, document)
        pdf.start_renderer()
        return render(request, editor.PAGE, page.context())
    if request.method != "POST":
        return HttpResponse(status=405)
    outcome = editor.submit(
        tenant,
        request.user,
        document_type,
        request.POST,
        htmx=bool(request.htmx),
        document=document,
    )
    if isinstance(outcome, editor.Page):
        return _editor_page(request, outcome)
    messages.add_message(request, outcome.level, outcome.text)
    url = reverse("invoices:detail", kwargs={"pk": outcome.document.pk})
    if request.htmx and outcome.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return redirect(url)


def _editor_page(request: HttpRequest, page: editor.Page) -> HttpResponse:
    response = render(request, page.template, page.context)
    if page.settle is not None and (context := page.settle()) is not None:
        response = render(request, page.template, context)  # the answer changed the page
    return response


@customer_required
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    """A saved draft in the editor again: edit, save, check and send it as often as needed."""
    document = document_of(request, pk)
    if not document.can_edit:
        messages.warning(request, _("Only a draft can be edited, and not while it is being sent."))
        return redirect("invoices:detail", pk=document.pk)
    return _editor(request, document.document_type, document)


@customer_required
def new_invoice(request: HttpRequest) -> HttpResponse:
    return _editor(request, DocumentType.INVOICE)


@customer_required
def new_credit_note(request: HttpRequest) -> HttpResponse:
    return _editor(request, DocumentType.CREDIT_NOTE)


@customer_required
@require_POST
def totals(request: HttpRequest) -> HttpResponse:
    """Live totals of the posted lines (htmx partial): a line that cannot be computed yet is
    left out and says why at its place, and the totals say they are incomplete."""
    tenant = tenant_of(request)
    document_type = KINDS.get(request.POST.get("kind", ""), DocumentType.INVOICE)
    preview = checks.preview(
        editor.rows(request.POST, editor.LINES),
        editor.rows(request.POST, editor.ADJUSTMENTS),
        document_type=document_type,
        country=checks.seller_country(
            request.POST.get("vendor_tax_id", "")[:40], tenant.company_tax_id
        ),
    )
    return render(
        request,
        "invoices/_totals.html",
        {
            "totals": preview.totals,
            "preview": preview,
            "currency": request.POST.get("currency", "EUR")[:3],
            # Each line's amount and note follow into its cells (copied by portal.js).
            "live": True,
        },
    )


@customer_required
@require_GET
def peppol_check(request: HttpRequest) -> HttpResponse:
    tenant = tenant_of(request)
    document_type = KINDS.get(request.GET.get("kind", ""), DocumentType.INVOICE)
    peppol_id = peppol_id_for(
        request.GET.get("customer_tax_id", "")[:40], request.GET.get("customer_peppol_id", "")[:70]
    )
    return render(
        request,
        "invoices/_peppol.html",
        {"peppol": editor.peppol_result(tenant, peppol_id, document_type)},
    )


@customer_required
@require_GET
def participants(request: HttpRequest) -> HttpResponse:
    found = editor.participant_search(tenant_of(request), request.GET.get("participant_query", ""))
    return render(request, "invoices/_participants.html", found)


# --- Webhook endpoint (authenticated by signature, not by login) ----------------------------------
@csrf_exempt
@require_POST
def webhook(request: HttpRequest, token: str) -> HttpResponse:
    if len(token) > 100:
        return HttpResponseBadRequest()
    outcome = webhooks.handle(token, request.body, request.headers.get("X-Signature", ""))
    return JsonResponse({"status": outcome.message}, status=outcome.status)
