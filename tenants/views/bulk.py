"""Staff screens of bulk actions on the tenant list: choose tenants and an action, see the
dry run (who would change, who is skipped and why), run it as jobs, follow its progress,
cancel what has not run yet."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import staff_required
from core.paging import page_query, seek_page
from tenants import bulk_actions, listing
from tenants.forms import BulkActionForm, TenantFilterForm
from tenants.models import BulkAction
from tenants.models.bulk import ADMIN_KINDS
from tenants.views.common import confirm_page, polled_page
from tenants.views.tenants import tenant_queryset, with_list_columns


def _filter_of(query: str) -> TenantFilterForm:
    return TenantFilterForm(QueryDict(query) or None)


def _chosen_ids(form: BulkActionForm) -> list[int]:
    if form.cleaned_data.get("all_matching"):
        qs, _ordering = tenant_queryset(_filter_of(form.cleaned_data.get("query") or ""))
        return list(qs.order_by("pk").values_list("pk", flat=True))
    return sorted(t.pk for t in form.cleaned_data["tenant"])


def _list_again(request: HttpRequest, form: BulkActionForm) -> HttpResponse:
    """The tenant list (first page of the filter it was sent from) with the form's errors
    next to their fields and the chosen tenants still ticked."""
    query = request.POST.get("query", "")
    filters = _filter_of(query)
    qs, ordering = tenant_queryset(filters)
    page = seek_page(listing.for_page(with_list_columns(qs), ordering), None, ordering, counted=qs)
    selected = {int(v) for v in request.POST.getlist("tenant") if v.isascii() and v.isdigit()}
    ctx = {
        "form": filters,
        "filters_bound": filters.is_bound,
        "page": page,
        "rows": listing.page_rows(page.object_list, selected),
        "query": query,
        "target": "tenant-results",
        "bulk_form": form,
        "bulk_refused": True,
    }
    return render(request, "tenants/tenant_list.html", ctx, status=400)


@staff_required
@require_POST
def bulk_preview(request: HttpRequest) -> HttpResponse:
    """The dry run: record the choice and what it would do, then show it (nothing sent)."""
    form = BulkActionForm(request.POST, user=request.user)
    if not form.is_valid():
        return _list_again(request, form)
    action, _plan = bulk_actions.preview(
        form.cleaned_data["action"],
        _chosen_ids(form),
        form.params(),
        user=request.user,
        query=form.cleaned_data.get("query") or "",
    )
    return redirect("tenants:bulk_action", action.pk)


@staff_required
def bulk_list(request: HttpRequest) -> HttpResponse:
    """Every bulk action, newest first: who asked, when, and what became of its tenants."""
    page = seek_page(
        BulkAction.objects.select_related("created_by"),
        request.GET.get("page"),
        ("-created_at", "-pk"),
    )
    bulk_actions.count_items(page.object_list)
    return render(
        request, "tenants/jobs/bulk_actions.html", {"page": page, "query": page_query(request)}
    )


def _context(action: BulkAction) -> dict:
    skipped = {s["tenant"]: s["reason"] for s in action.skipped}
    will_run = len(action.tenant_ids) - len(skipped)
    reasons: dict[str, int] = {}
    for reason in skipped.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    ctx = {
        "action": action,
        "summary": bulk_actions.summary(action.kind, will_run),
        "will_run": will_run,
        "reasons": sorted(reasons.items(), key=lambda r: -r[1]),
        "skipped": action.skipped,
        "progress": bulk_actions.progress(action),
    }
    if action.started_at:
        ctx["items"] = list(action.items.select_related("tenant"))
    else:
        ctx["to_run"] = [t for t in bulk_actions.chosen(action) if t.pk not in skipped]
    return ctx


def _get_action(request: HttpRequest, pk: int) -> BulkAction:
    """The action of the URL; the admins' actions (key links, delete) only for admins."""
    action = get_object_or_404(
        BulkAction.objects.select_related("created_by", "cancelled_by"), pk=pk
    )
    if action.kind in ADMIN_KINDS and not request.user.is_reseller_admin:
        raise PermissionDenied
    return action


@staff_required
def bulk_action(request: HttpRequest, pk: int) -> HttpResponse:
    return polled_page(request, "bulk_action", _context(_get_action(request, pk)))


@staff_required
@require_POST
def bulk_action_run(request: HttpRequest, pk: int) -> HttpResponse:
    action = _get_action(request, pk)
    queued = bulk_actions.start(action, user=request.user, request=request)
    if queued:
        messages.success(
            request,
            ngettext("%(n)s job was queued.", "%(n)s jobs were queued.", queued) % {"n": queued},
        )
    else:
        messages.info(request, _("Nothing was queued: it ran already, or every tenant is skipped."))
    return redirect("tenants:bulk_action", action.pk)


@staff_required
@require_http_methods(["GET", "POST"])
def bulk_action_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff who may run the action may stop it: the tenants not yet processed are
    cancelled, the ones in progress finish their step."""
    action = _get_action(request, pk)
    if request.method == "GET":  # the button without JavaScript: ask first
        return confirm_page(
            request,
            _("Cancel bulk action #%(n)s?") % {"n": action.pk},
            _("Cancel the tenants not yet processed"),
            reverse("tenants:bulk_action", args=[action.pk]),
            explanation=_(
                "The tenants not yet processed are left alone; those in progress finish first."
            ),
            back_label=_("Keep it running"),
        )
    cancelled = bulk_actions.cancel(action, user=request.user, request=request)
    if cancelled is None:
        messages.info(request, _("Nothing to cancel: the bulk action has ended already."))
    else:
        messages.success(
            request,
            ngettext(
                "Cancelled: %(n)s tenant not yet processed is left alone.",
                "Cancelled: %(n)s tenants not yet processed are left alone.",
                cancelled,
            )
            % {"n": cancelled},
        )
    return redirect("tenants:bulk_action", action.pk)
