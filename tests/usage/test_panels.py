"""The usage charts are rendered once and cached (usage.panels): a new collection shows on the
next view; a deleted tenant or a new day once the collection worker's next minute has drawn
them (a view shows the drawing before it meanwhile, or draws them itself when no worker has
drawn anything lately); each language is drawn on its own."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from tenants.models import Tenant
from tests.usage.conftest import fleet_on_sandbox, utc_today
from tests.usage.test_collect import _row_of
from usage import collect, fleet, panels, tasks
from usage.models import RenderedPanel, UsageCollection


def _label(day) -> str:
    return day.strftime("%a %-d %b %Y")


def _collect_again() -> None:
    UsageCollection.objects.update(next_attempt_at=timezone.now())  # every tenant is due
    tasks.collect_due()  # what beat runs: the collection, then the charts


def test_it_shows_a_new_collections_figures_on_the_dashboard_and_the_tenant_page(
    usage_sandbox, as_alice
):
    (first, remote), _second = fleet_on_sandbox(usage_sandbox, 2)
    collect.collect_due()
    today = _label(utc_today())
    dashboard = reverse("tenants:dashboard")
    detail = reverse("tenants:tenant_detail", args=[first.pk])
    assert _row_of(as_alice.get(dashboard).content.decode(), "chart-documents", today) == [
        today,
        "3",  # 1 + 2
        "2",
        "0",
    ]
    assert _row_of(as_alice.get(detail).content.decode(), "chart-tenant-documents", today)[1] == "1"

    usage_sandbox.add_usage(
        remote["id"], [{"day": utc_today(), "sent": 40, "received": 0}], credit_balance=7
    )
    _collect_again()

    page = as_alice.get(dashboard).content.decode()
    sent = int(_row_of(page, "chart-documents", today)[1])
    assert sent > 3
    tenant_sent = _row_of(as_alice.get(detail).content.decode(), "chart-tenant-documents", today)
    assert int(tenant_sent[1]) == sent - 2  # the other tenant still sent 2
    # The tenant at 7 credits and its pace is out within the alert days: counted at once.
    needs = {str(label): n for label, n, _url in as_alice.get(dashboard).context["needs"]}
    assert needs["Tenants out of credit within 14 days"] == 1


def test_it_leaves_a_deleted_tenant_out_of_the_next_dashboard(usage_sandbox, as_alice):
    (first, remote), _second = fleet_on_sandbox(usage_sandbox, 2)
    usage_sandbox.add_usage(remote["id"], credit_balance=0)
    collect.collect_due()

    def out_now() -> int:
        page = as_alice.get(reverse("tenants:dashboard"))
        needs = {str(label): n for label, n, _url in page.context["needs"]}
        return needs["Tenants out of credit within 14 days"]

    assert out_now() == 1
    Tenant.objects.filter(pk=first.pk).update(is_deleted=True)  # as the mirror marks it
    assert out_now() == 1  # the drawing of a moment ago, until the worker's minute
    tasks.collect_due()
    assert out_now() == 0


def test_it_draws_the_charts_itself_when_no_worker_drew_them_lately(usage_sandbox, as_alice):
    (first, remote), _second = fleet_on_sandbox(usage_sandbox, 2)
    usage_sandbox.add_usage(remote["id"], credit_balance=0)
    collect.collect_due()
    as_alice.get(reverse("tenants:dashboard"))
    Tenant.objects.filter(pk=first.pk).update(is_deleted=True)
    long_ago = timezone.now() - timedelta(seconds=panels.STALE_SECONDS + 1)
    RenderedPanel.objects.update(rendered_at=long_ago)  # no worker has drawn since

    page = as_alice.get(reverse("tenants:dashboard"))
    needs = {str(label): n for label, n, _url in page.context["needs"]}
    assert needs["Tenants out of credit within 14 days"] == 0


def test_it_draws_a_new_day_without_a_new_collection(usage_sandbox, as_alice, monkeypatch):
    fleet_on_sandbox(usage_sandbox, 1)
    collect.collect_due()
    page = as_alice.get(reverse("tenants:dashboard")).content.decode()
    assert _row_of(page, "chart-documents", _label(utc_today()))[1] == "1"

    tomorrow = utc_today() + timedelta(days=1)
    monkeypatch.setattr(fleet, "today", lambda: tomorrow)
    tasks.collect_due()  # beat's minute: nothing to collect, the new day's charts drawn
    page = as_alice.get(reverse("tenants:dashboard")).content.decode()
    assert _row_of(page, "chart-documents", _label(tomorrow)) == [_label(tomorrow), "0", "0", "0"]


def test_it_caches_each_language_on_its_own(usage_sandbox, as_alice):
    fleet_on_sandbox(usage_sandbox, 1)
    collect.collect_due()
    with override("en"):
        english = panels.fleet_panel(30)["fleet_section"]
    with override("nl"):
        dutch = panels.fleet_panel(30)["fleet_section"]
    assert "Documents per day" in english
    assert "Documents per day" not in dutch
    with override("en"):
        assert panels.fleet_panel(30)["fleet_section"] == english


def test_a_cached_dashboard_asks_the_database_a_few_small_questions(
    usage_sandbox, as_alice, django_assert_max_num_queries
):
    fleet_on_sandbox(usage_sandbox, 3)
    collect.collect_due()
    url = reverse("tenants:dashboard")
    with django_assert_max_num_queries(40) as cold:
        as_alice.get(url)
    with django_assert_max_num_queries(len(cold.captured_queries) - 4):
        as_alice.get(url)  # the charts and the credit count come from the cache


def test_it_renders_the_dashboard_charts_in_the_collection_worker(
    usage_sandbox, as_alice, monkeypatch
):
    fleet_on_sandbox(usage_sandbox, 2)

    tasks.collect_due()  # what beat runs: the collection, then the charts in every language

    assert RenderedPanel.objects.count() == len(settings.LANGUAGES) * len(panels.CHART_DAYS)
    cache.clear()  # a web process of its own: it reads what the worker drew
    monkeypatch.setattr(panels, "documents_chart", None)  # drawing it here would fail
    page = as_alice.get(reverse("tenants:dashboard"), {"days": 90}).content.decode()
    today = _label(utc_today())
    assert _row_of(page, "chart-documents", today) == [today, "3", "2", "0"]
    as_alice.post(reverse("set_language"), {"language": "nl", "next": "/"})
    assert "Documenten per dag" in as_alice.get(reverse("tenants:dashboard")).content.decode()
    as_alice.post(reverse("set_language"), {"language": "en", "next": "/"})

    monkeypatch.undo()
    _collect_again()  # new figures: a new key, drawn by the next view, the old row replaced
    as_alice.get(reverse("tenants:dashboard"), {"days": 90})
    keys = list(RenderedPanel.objects.filter(key__startswith="usage:fleet:90:14:en:"))
    assert len(keys) == 1 and keys[0].key.endswith(fleet.data_version())
