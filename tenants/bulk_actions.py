"""Acting on many tenants at once: a dry-run preview, then one job per tenant.

`preview()` sorts the chosen tenants into those the action would change and those it skips,
each with its reason ("already registered", "no current key", …); nothing is sent. `run()`
makes one BulkItem job per tenant to change (checked again: the list may have moved since
the preview) and the dispatcher releases them under the shared Admin API quota. Each job
calls the single-tenant function the tenant page calls (tenants.peppol, tenants.rotation,
tenants.handover, accounts.invitations, tenants.mirror), which audits its own change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import invitations
from core import audit
from einvoice import admin as admin_api
from jobs import dispatcher, runner
from jobs.models import ACTIVE_STATES, JobState
from tenants import handover, mirror, peppol, rotation
from tenants.errors import HeldElsewhere, PeppolUnavailable
from tenants.models import BulkAction, BulkItem, BulkKind, PeppolState, Tenant
from tenants.models.jobs import KeyRotation, OnboardingJob


# --- the preview ------------------------------------------------------------------------------
@dataclass
class Plan:
    to_run: list[Tenant] = field(default_factory=list)
    skipped: list[tuple[Tenant, str]] = field(default_factory=list)

    def reasons(self) -> list[tuple[str, int]]:
        """Each reason with how many tenants it skips, most first."""
        counts: dict[str, int] = {}
        for _tenant, reason in self.skipped:
            counts[reason] = counts.get(reason, 0) + 1
        return sorted(counts.items(), key=lambda item: -item[1])


def contact_emails(tenants: Iterable[Tenant]) -> dict[int, str]:
    """Each tenant's contact address: the email of its row in the CSV it was onboarded from."""
    ids = [t.pk for t in tenants]
    emails: dict[int, str] = {}
    jobs = (
        OnboardingJob.objects.filter(tenant_id__in=ids, batch__isnull=False)
        .select_related("batch")
        .order_by("created_at", "id")
    )
    for job in jobs:
        for r in job.batch.rows:
            if r["row"] == job.row_number and r["data"].get("email"):
                emails[job.tenant_id] = r["data"]["email"]
    return emails


def _pending_logins(tenants: list[Tenant]) -> dict[int, list]:
    from accounts.models import User

    pending: dict[int, list] = {}
    users = User.objects.filter(tenant__in=tenants, is_active=True)
    for user in users:
        if invitations.is_pending(user):
            pending.setdefault(user.tenant_id, []).append(user)
    return pending


def _register_skip(tenant: Tenant, reg, facts: dict) -> str:
    if reg is not None and reg.registered:
        return _("already registered")
    if tenant.test_mode:
        return _("test mode")
    if not tenant.peppol_id:
        return _("no Peppol ID")
    if reg is not None and reg.state == PeppolState.HELD_ELSEWHERE:
        return _("held by another access point (watching)")
    if reg is not None and reg.state in peppol.PASSING_STATES:
        return _("a registration is under way")
    return ""


def _card_skip(tenant: Tenant, reg, facts: dict) -> str:
    return "" if reg is not None and reg.registered else _("not registered on Peppol")


def _rotate_skip(tenant: Tenant, reg, facts: dict) -> str:
    if tenant.pk not in facts["keys"]:
        return _("no current key")
    if tenant.pk in facts["rotating"]:
        return _("a key rotation is under way")
    return ""


def _policy_skip(tenant: Tenant, reg, facts: dict) -> str:
    return _("already this policy") if tenant.rotation_days == facts["days"] else ""


def _key_link_skip(tenant: Tenant, reg, facts: dict) -> str:
    if tenant.pk not in facts["held"]:
        return _("no current key the portal holds")
    if tenant.pk not in facts["emails"]:
        return _("no contact email")
    return ""


def _invite_skip(tenant: Tenant, reg, facts: dict) -> str:
    if tenant.pk in facts["pending"]:
        return ""  # their invitations go again
    email = facts["emails"].get(tenant.pk, "").lower()
    if not email:
        return _("no contact email and no pending invitation")
    if email in facts["logins"]:
        return _("the contact has a login already")
    return ""


SKIPS: dict[str, Callable[[Tenant, object, dict], str]] = {
    BulkKind.REGISTER: _register_skip,
    BulkKind.BUSINESS_CARD: _card_skip,
    BulkKind.ROTATE: _rotate_skip,
    BulkKind.POLICY: _policy_skip,
    BulkKind.KEY_LINK: _key_link_skip,
    BulkKind.INVITE: _invite_skip,
}


def _reason(kind: str, tenant: Tenant, facts: dict) -> str:
    """Why the action leaves this tenant alone, or "" when it would change it."""
    if tenant.is_deleted:
        return _("already deleted") if kind == BulkKind.DELETE else _("deleted")
    if tenant.pk in facts["queued"]:
        return _("already queued in bulk action #%(n)s") % {"n": facts["queued"][tenant.pk]}
    skip = SKIPS.get(kind)
    return skip(tenant, getattr(tenant, "peppol_reg", None), facts) if skip else ""


def _facts(kind: str, tenants: list[Tenant], params: dict) -> dict:
    """What the reasons need, in a few queries for the whole selection."""
    from accounts.models import User
    from tenants.models import ApiKey, PeppolRegistration

    ids = [t.pk for t in tenants]
    regs = {r.tenant_id: r for r in PeppolRegistration.objects.filter(tenant_id__in=ids)}
    for tenant in tenants:
        tenant.peppol_reg = regs.get(tenant.pk)
    queued = dict(
        BulkItem.objects.filter(
            tenant_id__in=ids, state__in=ACTIVE_STATES, action__kind=kind
        ).values_list("tenant_id", "action_id")
    )
    facts: dict = {"queued": queued, "days": params.get("rotation_days")}
    if kind in (BulkKind.ROTATE, BulkKind.KEY_LINK):
        current = ApiKey.objects.current().filter(tenant_id__in=ids)
        facts["keys"] = set(current.values_list("tenant_id", flat=True))
        facts["held"] = {k.tenant_id for k in current if k.is_held}
        facts["rotating"] = set(
            KeyRotation.objects.filter(tenant_id__in=ids, state__in=ACTIVE_STATES).values_list(
                "tenant_id", flat=True
            )
        )
    if kind in (BulkKind.INVITE, BulkKind.KEY_LINK):
        facts["emails"] = contact_emails(tenants)
        facts["pending"] = _pending_logins(tenants)
        facts["logins"] = set(
            User.objects.filter(
                username__in=[e.lower() for e in facts["emails"].values()]
            ).values_list("username", flat=True)
        )
    return facts


def plan(kind: str, tenants: Iterable[Tenant], params: dict | None = None) -> Plan:
    tenants = list(tenants)
    facts = _facts(kind, tenants, params or {})
    result = Plan()
    for tenant in tenants:
        reason = _reason(kind, tenant, facts)
        if reason:
            result.skipped.append((tenant, reason))
        else:
            result.to_run.append(tenant)
    return result


def chosen(action: BulkAction) -> list[Tenant]:
    return list(Tenant.objects.filter(pk__in=action.tenant_ids).order_by("name", "pk"))


def preview(
    kind: str, tenant_ids: list[int], params: dict, *, user, query: str = ""
) -> tuple[BulkAction, Plan]:
    """Record the request and what it would do; nothing is sent."""
    action = BulkAction.objects.create(
        kind=kind, params=params, tenant_ids=tenant_ids, query=query, created_by=user
    )
    result = plan(kind, chosen(action), params)
    action.skipped = [{"tenant": t.pk, "name": t.name, "reason": r} for t, r in result.skipped]
    action.save(update_fields=["skipped"])
    return action, result


def start(action: BulkAction, *, user, request=None) -> int:
    """Queue one job per tenant the action changes, once (a second submit queues nothing);
    the tenants are checked again first. Returns how many were queued."""
    with transaction.atomic():
        if not BulkAction.objects.filter(pk=action.pk, started_at__isnull=True).update(
            started_at=timezone.now()
        ):
            return 0
        result = plan(action.kind, chosen(action), action.params)
        BulkItem.objects.bulk_create(
            BulkItem(action=action, tenant=t, kind=action.kind) for t in result.to_run
        )
        action.skipped = [{"tenant": t.pk, "name": t.name, "reason": r} for t, r in result.skipped]
        action.save(update_fields=["skipped"])
        audit.record(
            f"tenant.bulk_{action.kind}",
            target=f"bulk action #{action.pk}",
            user=user,
            request=request,
            changes={
                "queued": [None, len(result.to_run)],
                "skipped": [None, len(result.skipped)],
                **({"params": [None, action.params]} if action.params else {}),
            },
        )
        dispatcher.kick()
    return len(result.to_run)


def cancel(action: BulkAction, *, user, request=None) -> int | None:
    """Stop a running action: its items whose step has not begun end as cancelled; one
    whose step has begun (running, or retrying a call that may have gone out) finishes it,
    since a single-tenant change must not stop half-way. Returns how many were cancelled,
    None when there was nothing to stop (not started, finished or cancelled already)."""
    now = timezone.now()
    with transaction.atomic():
        locked = (
            BulkAction.objects.select_for_update()
            .filter(pk=action.pk, started_at__isnull=False, cancelled_at__isnull=True)
            .first()
        )
        if locked is None or not locked.items.filter(state__in=ACTIVE_STATES).exists():
            return None
        BulkAction.objects.filter(pk=action.pk).update(cancelled_at=now, cancelled_by=user)
        # The claim of a worker (runner.claim) is conditional on these states too: for each
        # item either it wins and the step runs to its end, or this does and it never runs.
        cancelled = not_begun(action.items.all()).update(
            state=JobState.SUCCEEDED,
            cancelled_at=now,
            dispatched_at=None,
            finished_at=now,
            updated_at=now,
        )
        finishing = action.items.filter(state__in=ACTIVE_STATES).count()
        audit.record(
            "tenant.bulk_cancel",
            target=f"bulk action #{action.pk}",
            user=user,
            request=request,
            changes={"cancelled": [None, cancelled], "finishing": [None, finishing]},
        )
    action.cancelled_at, action.cancelled_by = now, user
    return cancelled


def not_begun(items):
    """Items whose step never started: no call of theirs can have gone out."""
    return items.filter(state__in=(JobState.QUEUED, JobState.WAITING), step_attempts=0)


def _counts(rows) -> dict[str, int]:
    """succeeded, failed, cancelled, active and total from (state, cancelled, n) rows."""
    c = {"succeeded": 0, "failed": 0, "cancelled": 0, "active": 0}
    for state, was_cancelled, n in rows:
        if was_cancelled:
            c["cancelled"] += n
        elif state in (JobState.SUCCEEDED, JobState.FAILED):
            c[state] += n
        else:
            c["active"] += n
    c["total"] = sum(c.values())
    return c


def _by_state(items, *group: str):
    """(*group, state, cancelled, n) rows."""
    cancelled = ExpressionWrapper(Q(cancelled_at__isnull=False), output_field=BooleanField())
    return (
        items.annotate(was_cancelled=cancelled)
        .values_list(*group, "state", "was_cancelled")
        .annotate(n=Count("id"))
        .order_by()
    )


def progress(action: BulkAction) -> dict:
    c = _counts(_by_state(action.items.all()))
    ended = c["total"] - c["active"]
    return {
        **c,
        "percent": round(100 * ended / c["total"]) if c["total"] else 100,
        "finished": bool(action.started_at) and not c["active"],
        "can_cancel": bool(action.started_at) and not action.cancelled_at and bool(c["active"]),
    }


def count_items(actions: list[BulkAction]) -> None:
    """Set each action's items by state (succeeded, failed, cancelled, active), in one query."""
    rows: dict[int, list] = {a.pk: [] for a in actions}
    for action_id, *row in _by_state(BulkItem.objects.filter(action__in=actions), "action_id"):
        rows[action_id].append(row)
    for a in actions:
        c = _counts(rows[a.pk])
        a.succeeded, a.failed, a.cancelled, a.active = (
            c["succeeded"],
            c["failed"],
            c["cancelled"],
            c["active"],
        )


def summary(kind: str, count: int) -> str:
    """ "37 will be registered" in the action's words."""
    texts = {
        BulkKind.REGISTER: ngettext(
            "%(n)s will be registered on Peppol", "%(n)s will be registered on Peppol", count
        ),
        BulkKind.ROTATE: ngettext("%(n)s will get a new key", "%(n)s will get a new key", count),
        BulkKind.POLICY: ngettext(
            "%(n)s will get the new rotation policy",
            "%(n)s will get the new rotation policy",
            count,
        ),
        BulkKind.INVITE: ngettext(
            "%(n)s will get an invitation", "%(n)s will get an invitation", count
        ),
        BulkKind.KEY_LINK: ngettext(
            "%(n)s will get a key link", "%(n)s will get a key link", count
        ),
        BulkKind.BUSINESS_CARD: ngettext(
            "%(n)s will get an updated business card",
            "%(n)s will get an updated business card",
            count,
        ),
        BulkKind.DELETE: ngettext("%(n)s will be deleted", "%(n)s will be deleted", count),
    }
    return texts[BulkKind(kind)] % {"n": count}


# --- the jobs ---------------------------------------------------------------------------------
def _register(item: BulkItem, actor) -> str:
    # The company name for the business card, as the onboarding registers it.
    reg = peppol.register_peppol(item.tenant, actor, company_name=item.tenant.description or None)
    return _("registered as %(id)s") % {"id": reg.peppol_id} if reg.registered else reg.status


def _rotate(item: BulkItem, actor) -> str:
    started = rotation.start(item.tenant, reason=KeyRotation.REASON_MANUAL, user=actor)
    return _("key rotation #%(n)s started") % {"n": started.pk}


def _policy(item: BulkItem, actor) -> str:
    days = item.action.params.get("rotation_days")
    rotation.set_policy(item.tenant, days, user=actor)
    return _("keys rotate every %(n)s days") % {"n": days}


def _invite(item: BulkItem, actor) -> str:
    language = item.action.params.get("language") or "en"
    pending = _pending_logins([item.tenant]).get(item.tenant.pk, [])
    if pending:
        for user in pending:
            invitations.resend(user, by=actor)
        return _("invitation sent again to %(who)s") % {"who": ", ".join(u.email for u in pending)}
    email = contact_emails([item.tenant]).get(item.tenant.pk, "")
    if not email:
        raise runner.PermanentFailure(_("no contact email and no pending invitation"))
    invitations.invite(item.tenant, email, language, by=actor)
    return _("invited %(email)s") % {"email": email}


def _key_link(item: BulkItem, actor) -> str:
    email = contact_emails([item.tenant]).get(item.tenant.pk, "")
    if not email:
        raise runner.PermanentFailure(_("no contact email"))
    language = item.action.params.get("language") or "en"
    handover.send_link(item.tenant, email, language, by=actor)
    return _("key link sent to %(email)s") % {"email": email}


def _business_card(item: BulkItem, actor) -> str:
    name = item.tenant.description or item.tenant.name
    peppol.update_business_card(item.tenant, name, actor)
    return _("business card: %(name)s") % {"name": name}


def _delete(item: BulkItem, actor) -> str:
    mirror.delete_tenant(item.tenant, actor)
    return _("deleted")


RUNS: dict[str, Callable[[BulkItem, object], str]] = {
    BulkKind.REGISTER: _register,
    BulkKind.ROTATE: _rotate,
    BulkKind.POLICY: _policy,
    BulkKind.INVITE: _invite,
    BulkKind.KEY_LINK: _key_link,
    BulkKind.BUSINESS_CARD: _business_card,
    BulkKind.DELETE: _delete,
}


def run_item(item: BulkItem) -> bool:
    """The tenant's single-tenant function, as the staff member who started the action."""
    # Cancelled while this item was on its way to the worker: it ends without a call,
    # unless an earlier run of its step may have sent one (then the step is finished).
    if item.step_attempts <= 1 and _cancelled(item):
        runner.save_progress(item, cancelled_at=timezone.now())
        return True
    actor = item.action.created_by or item.actor_label
    try:
        outcome = RUNS[item.kind](item, actor)
    except HeldElsewhere as e:
        raise runner.PermanentFailure(e.verdict.text) from None
    except (PeppolUnavailable, rotation.RotationRefused, handover.HandoverRefused) as e:
        raise runner.PermanentFailure(str(e)) from None
    except ValidationError as e:
        raise runner.PermanentFailure(" ".join(e.messages)) from None
    runner.save_progress(item, outcome=str(outcome)[:300])
    return True


def _cancelled(item: BulkItem) -> bool:
    return BulkAction.objects.filter(pk=item.action_id, cancelled_at__isnull=False).exists()


def run(item_id: int) -> BulkItem | None:
    with admin_api.quota_wait(0):  # never sleep in a worker: come back when there is quota
        return runner.claim_and_execute(BulkItem, item_id, run_item)
