"""Mirror reconciliation: compare every remote tenant with the local mirror, report drift.

The listing is paged with limit=100, the API's page size, so N tenants cost ceil(N/100)
calls (one when there are none); every call goes through the shared limiter. Drift:

- remote_only: on e-invoice.be, not in the mirror → adopt (mirror it);
- local_only: in the mirror, unknown remotely → mark deleted locally;
- different: fields differ → adopt (take the remote values) or push (send the local ones).

100 000 tenants are 1 000 calls, a whole hour of the organization's quota: the sync takes
at most SYNC_QUOTA_SHARE of each window (its own calls, logged on its report), so the
onboarding keeps the rest. When its share is spent it stores its position and continues
when a call frees, in a task scheduled for then (no worker sleeps); each page is compared
and stored with its position in one transaction, so a killed run resumes at the next page
(resume_due(), on beat, re-sends a report whose lease has passed).
"""

from __future__ import annotations

import logging
import math
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import audit
from einvoice import admin as admin_api
from einvoice import quota as ratelimit
from einvoice.errors import ApiError, QuotaUnavailable
from einvoice.messages import explain
from tenants import mirror
from tenants.errors import InvalidFields
from tenants.models import Tenant
from tenants.models.jobs import ReconcileReport

logger = logging.getLogger(__name__)

PAGE_SIZE = 100
COMPARED = ("name", "description", "company_number", "company_tax_id", "peppol_id", "is_deleted")
ACTIONS = {
    "remote_only": ("adopt",),
    "local_only": ("mark_deleted",),
    "different": ("adopt", "push"),
}


# Labels of the compared fields, as the tenant screens call them.
FIELD_LABELS = {
    "name": gettext_lazy("Tenant name"),
    "description": gettext_lazy("Company name"),
    "company_number": gettext_lazy("Company number"),
    "company_tax_id": gettext_lazy("VAT number"),
    "peppol_id": gettext_lazy("Peppol ID"),
    "is_deleted": gettext_lazy("Deleted"),
}
RESOLVED_LABELS = {
    "adopt": gettext_lazy("adopted"),
    "push": gettext_lazy("pushed"),
    "mark_deleted": gettext_lazy("marked deleted"),
}


class ActionRefused(Exception):
    pass


def _send_run(report_id: int, countdown: float = 0.0) -> None:
    from tenants import tasks  # tasks imports this module

    if countdown > 0:
        tasks.reconcile_mirror.apply_async((report_id,), countdown=countdown)
    else:
        tasks.reconcile_mirror.delay(report_id)


def start(*, user=None) -> ReconcileReport:
    """A new comparison, or the one still running (one sync at a time: they share a quota)."""
    running = ReconcileReport.objects.filter(state=ReconcileReport.STATE_RUNNING).first()
    if running is not None:
        return running
    report = ReconcileReport.objects.create(started_by=user)
    audit.record("mirror.reconcile", user=user, target=f"report #{report.pk}")
    transaction.on_commit(lambda: _send_run(report.pk))
    return report


# --- the sync's share of the quota ---------------------------------------------------------
def share_limits() -> tuple[int, int]:
    """The calls the sync may make per minute and per hour (at least one of each)."""
    share = min(1.0, max(0.0, float(settings.SYNC_QUOTA_SHARE)))
    q = ratelimit.quota()
    return max(1, math.floor(q.per_minute * share)), max(1, math.floor(q.per_hour * share))


def share_wait(call_times: list[float], now: float) -> float:
    """Seconds until the sync's share has a call free (0: now)."""
    q = ratelimit.quota()
    per_minute, per_hour = share_limits()
    wait = 0.0
    for limit, window in ((per_minute, q.minute_seconds), (per_hour, q.hour_seconds)):
        recent = [t for t in call_times if t > now - window]
        if len(recent) >= limit:
            # The limit-th most recent call: one slot frees when it leaves the window.
            wait = max(wait, sorted(recent)[-limit] + window - now)
    return wait


# --- one page ------------------------------------------------------------------------------
def compare_page(report_id: int, tenants: list[dict]) -> list[dict]:
    """The drift of these remote tenants (remote_only, different); marks the mirror rows
    they match as seen by this report (the rest are local_only at the end)."""
    items: list[dict] = []
    ids = [t["id"] for t in tenants]
    local = {t.remote_id: t for t in Tenant.objects.filter(remote_id__in=ids)}
    for r in tenants:
        values = mirror.remote_values(r)
        tenant = local.get(r["id"])
        if tenant is None:
            if not values["is_deleted"]:
                items.append({"kind": "remote_only", "remote_id": r["id"], "name": values["name"]})
            continue
        diffs = {
            f: [getattr(tenant, f), values[f]] for f in COMPARED if getattr(tenant, f) != values[f]
        }
        if diffs:
            items.append(
                {"kind": "different", "remote_id": r["id"], "name": tenant.name, "diffs": diffs}
            )
    if local:
        Tenant.objects.filter(remote_id__in=list(local)).update(reconciled_in=report_id)
    return items


def _finish(report: ReconcileReport, listed_before) -> None:
    # Mirror rows that no page showed. One made after the last page was asked for may be a
    # tenant created since (it comes last in the listing): not drift.
    unseen = (
        Tenant.objects.filter(is_deleted=False, created_at__lt=listed_before)
        .exclude(reconciled_in=report.pk)
        .values_list("remote_id", "name")
    )
    report.items += [{"kind": "local_only", "remote_id": rid, "name": name} for rid, name in unseen]
    report.local_count = Tenant.objects.filter(is_deleted=False).count()
    report.state = ReconcileReport.STATE_DONE
    report.finished_at = timezone.now()
    report.next_page_at = None


def _fail(report: ReconcileReport, error: ApiError) -> None:
    report.state = ReconcileReport.STATE_FAILED
    report.error = explain(error)
    report.finished_at = timezone.now()
    report.next_page_at = None


def _claim(report_id: int) -> bool:
    now = timezone.now()
    return bool(
        ReconcileReport.objects.filter(pk=report_id, state=ReconcileReport.STATE_RUNNING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + timedelta(seconds=float(settings.JOBS_LEASE_SECONDS)))
    )


def run(report_id: int | None = None) -> ReconcileReport:
    """Page on from the report's position while the sync's share of the quota allows; then
    schedule the rest. Returns the report (done, failed, or running with next_page_at)."""
    if report_id is None:
        report_id = start().pk
    if not _claim(report_id):
        return ReconcileReport.objects.get(pk=report_id)  # another run has it
    report = ReconcileReport.objects.get(pk=report_id)
    lease = timedelta(seconds=float(settings.JOBS_LEASE_SECONDS))
    fields = ["items", "position", "remote_total", "remote_count", "local_count", "calls"]
    fields += ["call_times", "state", "error", "finished_at", "next_page_at", "lease_until"]
    wait = 0.0
    while report.state == ReconcileReport.STATE_RUNNING:
        now = time.time()
        wait = share_wait(report.call_times, now)
        if wait > 0:
            break
        asked = timezone.now()
        try:
            with admin_api.quota_wait(0):  # the task comes back when a call is free
                page = admin_api.list_tenants(skip=report.position, limit=PAGE_SIZE)
        except QuotaUnavailable as e:
            wait = max(0.1, float(e.retry_after or 1))
            break
        except ApiError as e:
            _fail(report, e)
            break
        finally:
            hour = ratelimit.quota().hour_seconds
            report.call_times = [t for t in report.call_times if t > now - hour]
        report.call_times.append(time.time())
        report.calls += 1
        tenants = page.get("tenants", [])
        with transaction.atomic():
            report.items += compare_page(report.pk, tenants)
            report.position += len(tenants)
            report.remote_total = int(page.get("total", 0))
            report.remote_count += sum(1 for t in tenants if not t.get("is_deleted"))
            if not tenants or report.position >= report.remote_total:
                _finish(report, asked)
            report.lease_until = timezone.now() + lease
            report.save(update_fields=fields)
    report.lease_until = None
    if report.state == ReconcileReport.STATE_RUNNING:
        report.next_page_at = timezone.now() + timedelta(seconds=wait)
        report.save(update_fields=fields)
        transaction.on_commit(lambda: _send_run(report.pk, countdown=wait))
    else:
        report.save(update_fields=fields)
    return report


def resume_due() -> int:
    """Re-send the running sync whose run died (lease passed) or whose wait is over (its
    scheduled task was lost); a duplicate finds the lease held and does nothing."""
    now = timezone.now()
    due = (
        ReconcileReport.objects.filter(state=ReconcileReport.STATE_RUNNING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(next_page_at__isnull=True) | Q(next_page_at__lte=now))
        .values_list("pk", flat=True)
    )
    sent = 0
    for pk in due:
        _send_run(pk)
        sent += 1
    return sent


def resolve(report: ReconcileReport, index: int, action: str, *, user) -> str:
    """Apply one of the item's actions, mark the item resolved; returns what was done."""
    if report.state == ReconcileReport.STATE_RUNNING:
        # Its run rewrites the items page by page: an action now would be lost.
        raise ActionRefused(_("The comparison is still running."))
    try:
        item = report.items[index]
    except IndexError:
        raise ActionRefused(_("No such item.")) from None
    if item.get("resolved"):
        raise ActionRefused(_("This item was already resolved."))
    if action not in ACTIONS.get(item["kind"], ()):
        raise ActionRefused(_("This action does not apply to this item."))
    try:
        if action == "adopt":
            mirror.mirror_tenant(admin_api.get_tenant(item["remote_id"]))
            audit.record("mirror.adopt", user=user, target=item["name"])
        elif action == "push":
            tenant = Tenant.objects.get(remote_id=item["remote_id"])
            mirror.update_tenant(tenant, {}, user)
        elif action == "mark_deleted":
            Tenant.objects.filter(remote_id=item["remote_id"]).update(
                is_deleted=True, last_synced_at=timezone.now()
            )
            audit.record(
                "mirror.mark_deleted",
                tenant=Tenant.objects.filter(remote_id=item["remote_id"]).first(),
                user=user,
                changes={"is_deleted": [False, True]},
            )
    except InvalidFields as e:
        raise ActionRefused(
            _("The local values are not valid, fix the tenant first: %(e)s") % {"e": e}
        ) from None
    except ApiError as e:
        raise ActionRefused(explain(e)) from None
    except Tenant.DoesNotExist:
        raise ActionRefused(_("The tenant is no longer in the mirror.")) from None
    item["resolved"] = action
    item["resolved_by"] = user.get_username() if user else ""
    ReconcileReport.objects.filter(pk=report.pk).update(items=report.items)
    if action == "push":
        done = _("e-invoice.be now has the portal's values for %(name)s.")
    elif action == "mark_deleted":
        done = _("%(name)s is marked deleted in the portal.")
    elif item["kind"] == "different":
        done = _("The portal took e-invoice.be's values for %(name)s.")
    else:
        done = _("%(name)s is now in the portal.")
    return done % {"name": item["name"]}
