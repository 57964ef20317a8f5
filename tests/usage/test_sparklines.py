"""The tenant list's sparklines, drawn by the collection (usage.sparklines): what the list
shows is the line of the day rows, whether drawn today, on an earlier day, or never."""

from __future__ import annotations

import importlib
from datetime import timedelta

from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from tests.usage.conftest import fleet_on_sandbox, utc_today
from usage import collect, fleet, sparklines
from usage.models import UsageCollection, UsageDay


def _from_day_rows(tenant) -> str:
    """The line as the list drew it before it was stored: from the day rows, now."""
    return sparklines.drawn(fleet.sparklines([tenant.pk], sparklines.DAYS)[tenant.pk])


def test_it_stores_the_line_at_the_collection_and_the_list_shows_it(usage_sandbox, as_alice):
    ((tenant, remote),) = fleet_on_sandbox(usage_sandbox, 1)
    assert collect.collect_due() == 1
    row = UsageCollection.objects.get(tenant=tenant)
    assert row.sparkline_day == utc_today()
    assert row.sparkline_counts == ",".join(["0"] * 20 + ["2"] * 10)  # 1 sent + 1 received
    assert row.sparkline_points and row.sparkline_points in _from_day_rows(tenant)

    listed = as_alice.get(reverse("tenants:tenant_list")).content.decode()
    assert _from_day_rows(tenant) in listed
    assert 'aria-label="20 documents in the last 30 days"' in listed


def test_it_draws_the_line_again_after_another_collection(usage_sandbox, as_alice):
    ((tenant, remote),) = fleet_on_sandbox(usage_sandbox, 1)
    collect.collect_due()
    before = UsageCollection.objects.get(tenant=tenant).sparkline_points
    usage_sandbox.add_usage(
        remote["id"], [{"day": utc_today(), "sent": 40, "received": 2}], credit_balance=900
    )
    UsageCollection.objects.update(next_attempt_at=timezone.now())
    assert collect.collect_due() == 1

    row = UsageCollection.objects.get(tenant=tenant)
    assert row.sparkline_counts.endswith(",2,44") and row.sparkline_points != before
    listed = as_alice.get(reverse("tenants:tenant_list")).content.decode()
    assert _from_day_rows(tenant) in listed
    assert 'aria-label="62 documents in the last 30 days"' in listed


def test_it_moves_a_line_drawn_on_an_earlier_day_along(acme):
    today = utc_today()
    for n in range(5):
        UsageDay.objects.create(tenant=acme, day=today - timedelta(days=3 + n), sent=n + 1)
    UsageCollection.objects.create(tenant=acme)
    sparklines.store([acme.pk], today - timedelta(days=3))  # drawn three days ago
    assert sparklines.for_tenants([acme.pk])[acme.pk] == _from_day_rows(acme)
    # Drawn so long ago that none of its days is left in the window.
    sparklines.store([acme.pk], today - timedelta(days=40))
    assert sparklines.for_tenants([acme.pk])[acme.pk] == sparklines.drawn([0] * 30)


def test_it_reads_the_day_rows_for_a_line_drawn_after_today(acme):
    today = utc_today()
    UsageDay.objects.create(tenant=acme, day=today, sent=4)
    UsageCollection.objects.create(tenant=acme)
    sparklines.store([acme.pk], today + timedelta(days=2))  # the clock was set back since
    assert sparklines.for_tenants([acme.pk])[acme.pk] == _from_day_rows(acme)


def test_it_draws_a_flat_line_for_a_tenant_never_collected(acme, globex):
    UsageCollection.objects.create(tenant=globex)  # scheduled, not collected yet
    lines = sparklines.for_tenants([acme.pk, globex.pk])
    assert lines[acme.pk] == lines[globex.pk] == _from_day_rows(acme)
    assert 'aria-label="0 documents in the last 30 days"' in lines[acme.pk]


def test_it_is_backfilled_by_its_migration(acme, globex):
    today = utc_today()
    UsageDay.objects.create(tenant=acme, day=today - timedelta(days=1), sent=3, received=2)
    UsageDay.objects.create(tenant=acme, day=today - timedelta(days=31), sent=9)  # too old
    UsageCollection.objects.create(tenant=acme)
    UsageCollection.objects.create(tenant=globex)
    importlib.import_module("usage.migrations.0004_stored_sparklines").backfill(apps, None)
    rows = {r.tenant_id: r for r in UsageCollection.objects.all()}
    assert rows[acme.pk].sparkline_day == today
    assert rows[acme.pk].sparkline_counts == ",".join(["0"] * 28 + ["5", "0"])
    assert sparklines.for_tenants([acme.pk])[acme.pk] == _from_day_rows(acme)
    assert rows[globex.pk].sparkline_counts == ",".join(["0"] * 30)
