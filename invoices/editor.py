"""The document editor: its forms and rows, and what each of its buttons does.

`submit()` takes one POST of the editor page and answers either a page to show (`Page`) or
a saved document to go to (`Saved`); the view only renders or redirects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _

from einvoice.errors import ApiError, Rejected
from einvoice.tenant import TenantApi
from invoices import checks, outbound
from invoices.access import error_text, key_problem
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
from invoices.mailbox import mailbox_for
from invoices.models import PARTY_FIELDS, Document, DocumentType, State
from invoices.payload import (
    EditorInput,
    adjustment_rows,
    build_payload,
    line_rows,
    peppol_id_for,
    totals_for,
)
from tenants.models import Tenant

PAGE = "invoices/editor.html"
ROWS = "invoices/_editor_rows.html"
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
# The editor's two formsets: prefix, row fields, most rows, a new row.
LINES = (LINES_PREFIX, LINE_FIELDS, MAX_LINES, LINE_INITIAL)
ADJUSTMENTS = (ADJUSTMENTS_PREFIX, ADJUSTMENT_FIELDS, MAX_ADJUSTMENTS, ADJUSTMENT_INITIAL)
SAVING_ACTIONS = ("validate", "save", "send")
# Header inputs kept as typed in an incomplete draft (the others are dates and choices).
TEXT_COLUMNS = ("purchase_order", "note", "payment_term", "iban", "bic", "payment_reference")
TEXT_COLUMNS += tuple(f for f in PARTY_FIELDS)


# --- Posted rows -------------------------------------------------------------------------------
def _count(data: QueryDict, prefix: str, limit: int) -> int:
    try:
        return max(0, min(int(data.get(f"{prefix}-TOTAL_FORMS", "0")), limit))
    except (TypeError, ValueError):
        return 0


def _storable(value: Any) -> str:
    """Text as typed, without NUL characters: PostgreSQL cannot store them, and they are never
    part of an invoice (the field's own check still names them when the draft is checked)."""
    return str(value).replace("\x00", "")


def rows(data: QueryDict, formset: tuple = LINES) -> list[dict[str, str]]:
    """The raw rows of one of the editor's formsets (`LINES` or `ADJUSTMENTS`), as posted."""
    prefix, fields, limit, _initial = formset
    return [
        {f: data.get(f"{prefix}-{i}-{f}", "") for f in fields}
        for i in range(_count(data, prefix, limit))
    ]


def _with_rows(data: QueryDict, prefix: str, new_rows: list[dict[str, str]]) -> QueryDict:
    """A copy of `data` whose formset `prefix` holds exactly `new_rows` (renumbered)."""
    out = data.copy()
    for key in list(out.keys()):
        if key.startswith(f"{prefix}-"):
            del out[key]
    out[f"{prefix}-TOTAL_FORMS"] = str(len(new_rows))
    out[f"{prefix}-INITIAL_FORMS"] = "0"
    for i, row in enumerate(new_rows):
        for name, value in row.items():
            out[f"{prefix}-{i}-{name}"] = value
    return out


def edit_rows(data: QueryDict, action: str) -> QueryDict | None:
    """Apply an add/remove action to the posted formsets; None when `action` is not one."""
    match = re.fullmatch(r"(add|remove)_(line|adjustment)(?:-(\d{1,4}))?", action)
    if not match:
        return None
    op, what, index = match.group(1), match.group(2), match.group(3)
    formset = LINES if what == "line" else ADJUSTMENTS
    prefix, _fields, limit, initial = formset
    current = rows(data, formset)
    if op == "add" and len(current) < limit:
        current.append(dict(initial))
    elif op == "remove" and index is not None and int(index) < len(current):
        current.pop(int(index))
        if what == "line" and not current:
            current.append(dict(initial))  # an invoice keeps at least one line
    return _with_rows(data, prefix, current)


# --- The forms ---------------------------------------------------------------------------------
class Editor:
    """The bound (or initial) forms of the editor, and where the API's issues go."""

    def __init__(
        self,
        tenant: Tenant,
        document_type: str,
        data: QueryDict | None,
        document: Document | None = None,
    ) -> None:
        self.tenant = tenant
        self.document_type = document_type
        # The draft being edited (None: a new document).
        self.document = document
        # Initial values matter only for a new, unbound form.
        initial = initial_header(tenant, mailbox_for(tenant).seller_profile) if data is None else {}
        self.form = DocumentForm(
            data, tenant=tenant, document_type=document_type, initial=initial, document=document
        )
        if data is None:
            self.lines = LineFormSet(prefix=LINES_PREFIX, initial=[LINE_INITIAL])
            self.adjustments = AdjustmentFormSet(prefix=ADJUSTMENTS_PREFIX)
        else:
            self.lines = LineFormSet(data, prefix=LINES_PREFIX)
            self.adjustments = AdjustmentFormSet(data, prefix=ADJUSTMENTS_PREFIX)
        self.data = data
        self.placement = Placement()
        self.document_errors: list[str] = []

    def is_valid(self) -> bool:
        # Evaluate all three so every error shows at once.
        results = [self.form.is_valid(), self.lines.is_valid(), self.adjustments.is_valid()]
        if not all(results):
            return False
        # The document as a whole: a credit note below zero, a total too large to send.
        self.document_errors, _warnings = checks.document_notes(
            totals_for(self.cleaned()), self.document_type
        )
        return not self.document_errors

    def typed(self) -> dict[str, Any]:
        """Everything as typed (header inputs and rows, as text): a draft opens again so."""
        data = self.data if self.data is not None else QueryDict()
        return {
            "header": {name: _storable(data.get(name, ""))[:2000] for name in self.form.fields},
            "lines": [{k: _storable(v) for k, v in row.items()} for row in rows(data, LINES)],
            "adjustments": [
                {k: _storable(v) for k, v in row.items()} for row in rows(data, ADJUSTMENTS)
            ],
        }

    def readable_header(self) -> dict[str, Any]:
        """The header as far as it could be read (after `is_valid`): each valid input cleaned,
        the others as typed (cut to what their column holds), dates and choices left empty."""
        cleaned = getattr(self.form, "cleaned_data", {})
        out: dict[str, Any] = {}
        for name in self.form.fields:
            if name in cleaned and name not in self.form.errors:
                out[name] = cleaned[name]
            elif name in TEXT_COLUMNS:
                limit = Document._meta.get_field(name).max_length or 2000
                out[name] = _storable(self.data.get(name, "")).strip()[:limit]
            else:
                out[name] = None
        return out

    def cleaned(self) -> EditorInput:
        return EditorInput(
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
            credit_note=self.document_type == DocumentType.CREDIT_NOTE,
        )

    def line_rows(self) -> list[dict[str, str]]:
        return rows(self.data, LINES) if self.data is not None else [LINE_INITIAL]

    def country(self) -> str:
        """The seller's country, whose VAT rates the lines are held against."""
        typed = self.data.get("vendor_tax_id", "") if self.data is not None else ""
        return checks.seller_country(str(typed), self.tenant.company_tax_id)

    def preview(self) -> checks.Preview:
        """The rows as typed: each one's amount or why it is left out, the totals, warnings."""
        lines, adjustments = self.line_rows(), []
        if self.data is not None:
            adjustments = rows(self.data, ADJUSTMENTS)
        return checks.preview(
            lines, adjustments, document_type=self.document_type, country=self.country()
        )

    def peppol_id(self) -> str:
        source = self.data if self.data is not None else {}
        return peppol_id_for(
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
        out += [(str(_("Totals")), e, "#totals-section") for e in self.document_errors]
        return out

    def action_url(self) -> str:
        if self.document is not None:
            return reverse("invoices:edit", args=[self.document.pk])
        is_credit_note = self.document_type == DocumentType.CREDIT_NOTE
        return reverse("invoices:new_credit_note" if is_credit_note else "invoices:new_invoice")

    def context(self, *, show_errors: bool = False, **extra: Any) -> dict[str, Any]:
        preview = self.preview()
        for i, form in enumerate(self.lines.forms):
            form.api = self.placement.lines.get(i, {})
            form.preview_amount = preview.amounts[i] if i < len(preview.amounts) else None
            form.note = preview.lines[i] if i < len(preview.lines) else None
        for i, form in enumerate(self.adjustments.forms):
            form.api = self.placement.adjustments.get(i, {})
            form.note = preview.adjustments[i] if i < len(preview.adjustments) else None
        is_credit_note = self.document_type == DocumentType.CREDIT_NOTE
        return {
            "editor": self,
            "form": self.form,
            "lines": self.lines,
            "adjustments": self.adjustments,
            "placement": self.placement,
            "totals": preview.totals,
            "preview": preview,
            "currency": self.data.get("currency", "EUR") if self.data is not None else "EUR",
            "kind": "credit-note" if is_credit_note else "invoice",
            "is_credit_note": is_credit_note,
            "vat_rates": COMMON_VAT_RATES,
            "key_problem": key_problem(self.tenant),
            "error_summary": self.error_summary() if show_errors else [],
            "action_url": self.action_url(),
            "draft": self.document,
            "show_errors": show_errors,
            **extra,
        }


def prefill(tenant: Tenant, source: Document, document_type: str) -> QueryDict:
    """The editor's data copied from one of the tenant's sent documents, or for a credit note
    of an invoice: buyer, lines, discounts, payment terms."""
    header = initial_header(tenant, mailbox_for(tenant).seller_profile)
    header["invoice_date"] = header["invoice_date"].isoformat()
    for name in PREFILL_FIELDS:
        header[name] = getattr(source, name)
    # Not the payment reference: a structured reference belongs to one document.
    if document_type == DocumentType.CREDIT_NOTE:
        corrected = source if source.document_type == DocumentType.INVOICE else source.corrects
        header["corrects"] = str(corrected.pk) if corrected else ""
        # When the credit is paid back: the corrected invoice's terms (BR-CO-25 needs one).
        if source.due_date:
            header["due_date"] = source.due_date.isoformat()
    data = QueryDict(mutable=True)
    data.update({k: "" if v is None else str(v) for k, v in header.items()})
    data = _with_rows(data, LINES_PREFIX, line_rows(source))
    return _with_rows(data, ADJUSTMENTS_PREFIX, adjustment_rows(source))


def data_of(tenant: Tenant, document: Document) -> QueryDict:
    """A saved draft as the editor's data: as it was typed, or (a draft saved before drafts
    kept their typing) from its columns and lines."""
    data = QueryDict(mutable=True)
    typed = document.draft_input or {}
    if typed.get("header"):
        data.update({k: str(v) for k, v in typed["header"].items()})
        data = _with_rows(data, LINES_PREFIX, typed.get("lines") or [dict(LINE_INITIAL)])
        return _with_rows(data, ADJUSTMENTS_PREFIX, typed.get("adjustments") or [])
    header = {
        name: getattr(document, name) for name in DocumentForm.base_fields if name != "corrects"
    }
    header["corrects"] = document.corrects_id or ""
    for name in ("invoice_date", "due_date"):
        header[name] = header[name].isoformat() if header[name] else ""
    data.update({k: "" if v is None else str(v) for k, v in header.items()})
    data = _with_rows(data, LINES_PREFIX, line_rows(document) or [dict(LINE_INITIAL)])
    return _with_rows(data, ADJUSTMENTS_PREFIX, adjustment_rows(document))


# --- Lookups at the API (also answered alone, as htmx partials) --------------------------------
def peppol_result(tenant: Tenant, peppol_id: str, document_type: str) -> dict[str, Any]:
    if not peppol_id:
        return {"error": _("Give the buyer's VAT number or Peppol ID first.")}
    if not PEPPOL_ID_RE.match(peppol_id):
        return {"error": _("%(id)s is not a Peppol ID (scheme:identifier).") % {"id": peppol_id}}
    try:
        check = outbound.check_peppol(tenant, peppol_id, document_type)
    except ApiError as exc:
        return {"error": str(exc), "peppol_id": peppol_id}
    return {
        "check": check,
        "peppol_id": peppol_id,
        "credit_note": document_type == DocumentType.CREDIT_NOTE,
    }


def participant_search(tenant: Tenant, raw_query: str) -> dict[str, Any]:
    query = raw_query.strip()[:100]
    ctx: dict[str, Any] = {"participant_query": query, "participant_results": []}
    if len(query) < 2:
        if query:
            ctx["participant_error"] = _("Type at least two letters.")
        return ctx
    try:
        found = TenantApi(tenant).search_participants(query)
    except ApiError as exc:
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


# --- One POST of the editor ----------------------------------------------------------------------
@dataclass
class Page:
    """Show the editor again (or, for htmx, only its rows).

    `settle`: the page was put together before e-invoice.be answered, as a clean answer shows
    it, to be drawn while the answer is on its way; `settle()` waits for the answer and gives
    the context to draw instead, or None when the page drawn stands.
    """

    context: dict[str, Any]
    template: str = PAGE
    settle: Callable[[], dict[str, Any] | None] | None = None


@dataclass
class Saved:
    """Go to a document's page, with a message; `htmx`: by HX-Redirect when asked by htmx."""

    document: Document
    level: int
    text: str
    htmx: bool = True


def _use_participant(data: QueryDict) -> QueryDict:
    """The buyer chosen from the search results: its Peppol ID, and its name if none yet."""
    peppol_id, _sep, name = data.get("use_participant", "")[:300].partition("|")
    data = data.copy()
    if PEPPOL_ID_RE.match(peppol_id):
        data["customer_peppol_id"] = peppol_id
        if not data.get("customer_name", "").strip():
            data["customer_name"] = name[:200]
    return data


def submit(
    tenant: Tenant,
    user,
    document_type: str,
    data: QueryDict,
    *,
    htmx: bool,
    document: Document | None = None,
) -> Page | Saved:
    """One POST of the editor, for a new document or for the draft `document`."""
    action = data.get("action", "")[:40]
    edited = edit_rows(data, action)
    if edited is not None:
        page = Editor(tenant, document_type, edited, document).context()
        return Page(page, ROWS if htmx else PAGE)
    if "use_participant" in data:
        return Page(Editor(tenant, document_type, _use_participant(data), document).context())
    editor = Editor(tenant, document_type, data, document)
    if action == "search_participants":
        found = participant_search(tenant, data.get("participant_query", ""))
        return Page(editor.context(**found))
    if action == "peppol_check":
        return Page(editor.context(peppol=peppol_result(tenant, editor.peppol_id(), document_type)))
    if action not in SAVING_ACTIONS:
        return Page(editor.context())
    valid = editor.is_valid()
    if action == "save":
        return _save_draft(editor, user, complete=valid)
    if not valid:
        return Page(editor.context(show_errors=True))
    if action == "send" and key_problem(tenant):
        return Page(editor.context())  # the banner says why; nothing is kept or sent
    return _check_or_send(editor, user, action)


def _save_draft(editor: Editor, user, *, complete: bool) -> Page | Saved:
    """Keep the draft here, whatever is filled in so far: only its number must be right."""
    if "invoice_id" in editor.form.errors:
        return Page(editor.context(shown_fields={"invoice_id"}, save_refused=True))
    header = editor.cleaned().header if complete else editor.readable_header()
    try:
        document = outbound.save_draft(
            editor.tenant,
            user,
            document_type=editor.document_type,
            header=header,
            totals=totals_for(editor.cleaned()) if complete else editor.preview().totals,
            typed=editor.typed(),
            data=editor.cleaned() if complete else None,
            document=editor.document,
        )
    except outbound.DuplicateNumber as exc:
        editor.form.add_error("invoice_id", str(exc))
        return Page(editor.context(shown_fields={"invoice_id"}, save_refused=True))
    except outbound.NotSendable as exc:
        return Saved(editor.document, messages.WARNING, str(exc), htmx=False)
    number = {"number": document.invoice_id}
    if complete:
        return Saved(document, messages.SUCCESS, _("Draft %(number)s saved.") % number)
    text = _(
        "Draft %(number)s saved. It is not complete yet: open it again to finish it "
        "(Check shows what is missing)."
    )
    return Saved(document, messages.SUCCESS, text % number)


def _check_or_send(editor: Editor, user, action: str) -> Page | Saved:
    """Check the valid forms at the API, or keep the draft and send it."""
    data = editor.cleaned()
    if action == "validate":
        return _check(editor, data)
    try:
        document = outbound.save_draft(
            editor.tenant,
            user,
            document_type=editor.document_type,
            header=data.header,
            totals=totals_for(data),
            typed=editor.typed(),
            data=data,
            document=editor.document,
            claim_send=True,
        )
    except outbound.DuplicateNumber as exc:
        editor.form.add_error("invoice_id", str(exc))
        return Page(editor.context(show_errors=True))
    except outbound.NotSendable as exc:
        return Saved(editor.document, messages.WARNING, str(exc), htmx=False)
    return _send_saved(editor, document, user, data)


def _check(editor: Editor, data: EditorInput) -> Page:
    """The Check: e-invoice.be validates while the page of a clean answer is drawn."""

    def failed(exc: ApiError) -> dict[str, Any]:
        return editor.context(show_errors=True, api_error=error_text(exc, editor.tenant))

    pending, index = outbound.start_validate(editor.tenant, data)
    outbound.render_pdf_ahead(editor.tenant, data)  # in another process, not waited for

    def settle() -> dict[str, Any] | None:
        try:
            result = pending.result()
        except ApiError as exc:
            return failed(exc)
        if result.is_valid and not result.issues:
            return None
        editor.place(result.issues, index)
        valid = result.is_valid and not editor.placement.has_errors
        return editor.context(show_errors=True, validated=valid)

    return Page(editor.context(show_errors=True, validated=True), settle=settle)


def _send_saved(editor: Editor, document: Document, user, data: EditorInput) -> Page | Saved:
    """Send the draft just kept; a refusal shows the editor of that draft with the issues."""
    try:
        outbound.send(document, user, claimed=True)
    except Rejected as exc:
        document.refresh_from_db()
        if document.state != State.DRAFT:
            return Saved(document, messages.ERROR, str(exc), htmx=False)
        # From now on the page edits that draft (a second click must not make another).
        again = Editor(editor.tenant, editor.document_type, editor.data, document)
        again.is_valid()
        return _refused(again, data, exc)
    except (ApiError, outbound.NotSendable) as exc:
        text = _("Saved as a draft, but not sent: %(reason)s") % {"reason": exc}
        return Saved(document, messages.ERROR, text, htmx=False)
    text = _("Document %(number)s is on its way.") % {"number": document.invoice_id}
    return Saved(document, messages.SUCCESS, text)


def _refused(editor: Editor, data: EditorInput, exc: Rejected) -> Page:
    """The API refused the document: its words above the form, and each issue next to its
    input. A 406 body has only a `detail` (the OpenAPI file): the issues are asked of the
    validate endpoint, which documents them."""
    issues, index = exc.issues, build_payload(data, totals_for(data))[1]
    if not issues and exc.status == 406:
        try:
            result, index = outbound.validate_remote(editor.tenant, data)
            issues = result.issues
        except ApiError:
            issues = []  # the detail text alone still says what is wrong
    if issues:
        editor.place(issues, index)
    message = _(
        "e-invoice.be refused the document; it is kept here as a draft and was not sent: %(detail)s"
    ) % {"detail": exc.detail or exc}
    return Page(editor.context(show_errors=True, api_error=message))
