"""GET /api/me/ and /api/stats."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from fastapi import APIRouter

from sandbox.directory import (
    KBO,
)
from sandbox.errors import ApiError
from sandbox.state import iso, now_utc
from sandbox.tenant_api.common import (
    SandboxDep,
    TenantDep,
)

router = APIRouter(prefix="/api")


@router.get("/me/")
def me(tenant: TenantDep, sandbox: SandboxDep) -> dict[str, Any]:
    with sandbox.store.lock:
        kbo = KBO.get(tenant.company_number or "")
        return {
            "name": tenant.name,
            "description": tenant.description,
            "plan": tenant.plan,
            "credit_balance": tenant.credit_balance,
            "peppol_ids": list(tenant.peppol_ids),
            "ibans": None,
            "company_number": tenant.company_number,
            "company_tax_id": tenant.company_tax_id,
            "company_name": tenant.company_name or (kbo.name if kbo else None),
            "company_address": tenant.company_address,
            "company_zip": tenant.company_zip,
            "company_city": tenant.company_city,
            "company_country": tenant.company_country,
            "company_email": None,
            "smp_registration": tenant.registered,
            "smp_registration_date": iso(tenant.registered_at) if tenant.registered else None,
            "bcc_recipient_email": None,
        }


def _period_start(day: date, aggregation: str) -> date:
    if aggregation == "WEEK":
        return day - timedelta(days=day.weekday())
    if aggregation == "MONTH":
        return day.replace(day=1)
    return day


@router.get("/stats")
def stats(
    tenant: TenantDep,
    sandbox: SandboxDep,
    start_date: date | None = None,
    end_date: date | None = None,
    aggregation: Literal["DAY", "WEEK", "MONTH"] | None = "DAY",
) -> dict[str, Any]:
    aggregation = aggregation or "DAY"
    if start_date and end_date and start_date > end_date:
        raise ApiError(400, "start_date must not be after end_date")
    with sandbox.store.lock:
        actions = [(a, when.date()) for t, a, when in sandbox.store.actions if t == tenant.id]
        credit = tenant.credit_balance
    today = now_utc().date()
    start = start_date or min((d for _, d in actions), default=today)
    end = end_date or max((d for _, d in actions), default=today)
    counts: dict[tuple[str, date], int] = {}
    for action, day in actions:
        if start <= day <= end:
            bucket = (action, _period_start(day, aggregation))
            counts[bucket] = counts.get(bucket, 0) + 1
    total_days = max(1, (end - start).days + 1)
    average = sum(counts.values()) / total_days
    return {
        "tenant_id": tenant.id,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "aggregation": aggregation,
        "actions": [
            {"action": action, "stat_date": day.isoformat(), "count": count}
            for (action, day), count in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        ],
        "total_days": total_days,
        "average_daily_usage": average,
        # "credit_balance / average_daily_usage. 0.0 if average_daily_usage is 0" (the file).
        "budget_estimation_days": (credit / average) if average else 0.0,
    }
