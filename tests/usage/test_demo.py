"""seed_demo's usage history: put on the sandbox, collected the way beat collects, so the
dashboard and the demo tenants' pages have charts on a first visit; once, however often the
seed runs."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Sum
from django.urls import reverse

from tenants.demo import seed_demo_tenants
from tests.usage.test_collect import _row_of
from usage import fleet
from usage.demo import seed_demo_usage
from usage.models import FleetDay, UsageCollection, UsageDay


def test_it_gives_the_demo_tenants_a_collected_history_once(usage_sandbox, as_alice, settings):
    tenants = seed_demo_tenants()
    dijle = tenants[0]
    yesterday = fleet.today() - timedelta(days=1)

    assert seed_demo_usage(tenants) == 3

    assert UsageDay.objects.filter(tenant=dijle, sent__gt=0).count() > (
        settings.USAGE_HISTORY_DAYS // 2
    )
    usage = UsageCollection.objects.get(tenant=dijle)
    assert (usage.plan, usage.credit_balance) == ("pro", 9_500)
    # The fleet's sums moved with every tenant's days, as a collection moves them.
    day_sum = UsageDay.objects.filter(day=yesterday).aggregate(s=Sum("sent"))["s"]
    assert FleetDay.objects.get(day=yesterday).sent == day_sum > 0
    dashboard = as_alice.get(reverse("tenants:dashboard"))
    needs = {str(label): n for label, n, _url in dashboard.context["needs"]}
    assert needs["Tenants out of credit within 14 days"] == 1  # kust-logistiek, 60 credits
    label = yesterday.strftime("%a %-d %b %Y")
    assert _row_of(dashboard.content.decode(), "chart-documents", label)[1] == str(day_sum)
    detail = as_alice.get(reverse("tenants:tenant_detail", args=[dijle.pk])).content.decode()
    assert _row_of(detail, "chart-tenant-documents", label)[1] == str(
        UsageDay.objects.get(tenant=dijle, day=yesterday).sent
    )

    sums = dict(FleetDay.objects.values_list("day", "sent"))
    assert seed_demo_usage(seed_demo_tenants()) == 0  # the history is there: not added again
    assert dict(FleetDay.objects.values_list("day", "sent")) == sums
