"""Mirror reconciliation: compare every remote tenant with the local mirror, report drift.

The listing is paged with limit=100, the API's page size, so N tenants cost ceil(N/100)
calls (one when there are none); every call goes through the shared limiter. Drift:

- remote_only: on e-invoice.be, not in the mirror → adopt (mirror it);
- local_only: in the mirror, unknown remotely → mark deleted locally;
- different: fields differ → adopt (take the remote values) or push (send the local ones).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tenants import admin_api, audit, services
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


def start(*, user=None) -> ReconcileReport:
    report = ReconcileReport.objects.create(started_by=user)
    audit.record("mirror.reconcile", user=user, target=f"report #{report.pk}")

    def send() -> None:
        from tenants import tasks

        tasks.reconcile_mirror.delay(report.pk)

    transaction.on_commit(send)
    return report


def fetch_remote() -> tuple[dict[str, dict], int]:
    """Every remote tenant by id, and the number of calls it took."""
    remote: dict[str, dict] = {}
    calls = skip = 0
    while True:
        page = admin_api.list_tenants(skip=skip, limit=PAGE_SIZE)
        calls += 1
        tenants = page.get("tenants", [])
        for t in tenants:
            remote[t["id"]] = t
        skip += len(tenants)
        if not tenants or skip >= int(page.get("total", 0)):
            return remote, calls


def compare(remote: dict[str, dict]) -> tuple[list[dict], int]:
    items: list[dict] = []
    local = {t.remote_id: t for t in Tenant.objects.all()}
    for remote_id, r in remote.items():
        values = services.remote_values(r)
        tenant = local.get(remote_id)
        if tenant is None:
            if not values["is_deleted"]:
                items.append(
                    {"kind": "remote_only", "remote_id": remote_id, "name": values["name"]}
                )
            continue
        diffs = {
            f: [getattr(tenant, f), values[f]] for f in COMPARED if getattr(tenant, f) != values[f]
        }
        if diffs:
            items.append(
                {"kind": "different", "remote_id": remote_id, "name": tenant.name, "diffs": diffs}
            )
    for remote_id, tenant in local.items():
        if remote_id not in remote and not tenant.is_deleted:
            items.append({"kind": "local_only", "remote_id": remote_id, "name": tenant.name})
    return items, sum(1 for t in local.values() if not t.is_deleted)


def run(report_id: int | None = None) -> ReconcileReport:
    report = (
        ReconcileReport.objects.get(pk=report_id) if report_id else ReconcileReport.objects.create()
    )
    try:
        # A periodic job may wait a little for quota; it never competes with a backlog.
        with admin_api.quota_wait(30):
            remote, calls = fetch_remote()
    except admin_api.AdminApiError as e:
        report.state = ReconcileReport.STATE_FAILED
        report.error = services.explain(e)
        report.finished_at = timezone.now()
        report.save()
        return report
    items, local_count = compare(remote)
    report.items = items
    report.calls = calls
    report.remote_count = sum(1 for r in remote.values() if not r.get("is_deleted"))
    report.local_count = local_count
    report.state = ReconcileReport.STATE_DONE
    report.finished_at = timezone.now()
    report.save()
    return report


def resolve(report: ReconcileReport, index: int, action: str, *, user) -> str:
    """Apply one of the item's actions, mark the item resolved; returns what was done."""
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
            services.mirror_tenant(admin_api.get_tenant(item["remote_id"]))
            audit.record("mirror.adopt", user=user, target=item["name"])
        elif action == "push":
            tenant = Tenant.objects.get(remote_id=item["remote_id"])
            services.update_tenant(tenant, {}, user)
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
    except services.InvalidFields as e:
        raise ActionRefused(
            _("The local values are not valid, fix the tenant first: %(e)s") % {"e": e}
        ) from None
    except admin_api.AdminApiError as e:
        raise ActionRefused(services.explain(e)) from None
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
