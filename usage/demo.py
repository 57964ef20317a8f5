"""Usage history for `manage.py seed_demo`, so a first visit shows charts instead of waiting
for a day of collections.

The history is put where a collection reads it: the sandbox's billing side (its control
endpoint for tests and demos, /_sandbox/tenants/…/usage), as made-up days of documents sent
and received and a plan and balance per demo tenant. The portal then collects each demo
tenant once, the way beat does (usage.collect.run), so its rows are any collection's rows
and the next collections agree with them. Against an API that is not a sandbox nothing is
made up: a real account's history is read by the collection as it is.

Idempotent: a day the sandbox already counts documents on is left as it is.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone

from einvoice.tenant import TenantApi
from sandbox.testing import SandboxError, SandboxHandle
from tenants.models import Tenant
from usage import collect, fleet
from usage.models import UsageCollection

log = logging.getLogger(__name__)

# Per demo tenant (by name): documents sent on a busy day, the plan and the balance it ends
# with. kust-logistiek runs out of credit within the alert days, so the dashboard has an alert.
PROFILES = {
    "dijle-software": (14, "pro", 9_500),
    "kust-logistiek": (9, "starter", 60),
    "atelier-lumiere": (3, "starter", 1_200),
}


def history(busy: int, days: int, today: date) -> list[dict]:
    """Made-up past days (not today, which the demo documents fill): quieter weekends, a
    slow rise over the period and a dip every fourth week, the same on every run."""
    out = []
    for n in range(days - 1, 0, -1):
        day = today - timedelta(days=n)
        pace = busy * (0.6 + 0.4 * (days - n) / days)
        if day.weekday() >= 5:
            pace *= 0.15
        if (day.toordinal() // 7) % 4 == 0:
            pace *= 0.5
        wobble = (day.toordinal() * 7919) % 5 - 2  # -2 … 2, fixed per day
        sent = max(0, round(pace) + wobble)
        out.append({"day": day, "sent": sent, "received": max(0, round(sent * 0.4) - 1)})
    return out


def seed_demo_usage(tenants: list[Tenant]) -> int:
    """Give the demo tenants a usage history on the sandbox and collect it; returns how many
    tenants were collected (0 when the API is not a sandbox)."""
    sandbox = SandboxHandle(settings.EINVOICE_API_BASE_URL)
    try:
        if not sandbox.health():
            log.warning("the API at %s is not a sandbox: no demo usage", sandbox.url)
            return 0
        today = fleet.today()
        days = max(2, int(settings.USAGE_HISTORY_DAYS))
        collect.schedule_new(timezone.now())
        collected = 0
        for tenant in tenants:
            busy, plan, balance = PROFILES.get(tenant.name, (2, "starter", 500))
            stats = TenantApi(tenant).stats(today - timedelta(days=days - 1), today)
            counted = {a.stat_date for a in stats.actions if a.count}
            new = [
                d
                for d in history(busy, days, today)
                if (d["sent"] or d["received"]) and d["day"] not in counted
            ]
            if new:
                sandbox.add_usage(tenant.remote_id, new, plan=plan, credit_balance=balance)
                # Read the whole history again (the first collection's span), at once.
                UsageCollection.objects.filter(tenant=tenant).update(
                    collected_at=None, next_attempt_at=timezone.now()
                )
            usage = UsageCollection.objects.get(tenant=tenant)
            if usage.collected_at is None and collect.run(usage.pk) is not None:
                collected += 1
        return collected
    except SandboxError as e:
        log.warning("demo usage not added: %s", e)
        return 0
    finally:
        sandbox.close()
