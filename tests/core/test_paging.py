"""Lists paged by seeking: every row once, in order, forwards and backwards, whatever the
sort (NULLs and ties included), and a cursor that cannot be tampered with."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.paging import seek_page
from tenants.forms import SORTS
from tenants.models import ApiKey, Tenant
from tenants.views.tenants import with_list_columns


@pytest.fixture
def fleet(db):
    """23 tenants: names with ties, a third without a current key (NULL key age)."""
    now = timezone.now()
    for i in range(23):
        tenant = Tenant.objects.create(
            remote_id=f"t{i}", name=f"customer-{i % 7}", remote_created_at=now - timedelta(days=i)
        )
        if i % 3:
            ApiKey.objects.create(
                tenant=tenant,
                remote_id=f"k{i}",
                name="k",
                is_current=True,
                created_at=now - timedelta(days=(i * 5) % 11),
            )
    return with_list_columns(Tenant.objects.all())


def _walk(qs, ordering, size, backwards=False):
    """The pages a user gets clicking Next from the first (or Previous from the last)."""
    pages = []
    page = seek_page(qs, "last" if backwards else "", ordering, size=size)
    while True:
        pages.append([t.pk for t in page.object_list])
        cursor = page.previous_cursor if backwards else page.next_cursor
        if not cursor:
            return pages[::-1] if backwards else pages
        page = seek_page(qs, cursor, ordering, size=size)


@pytest.mark.parametrize("sort", list(SORTS))
def test_it_lists_every_row_once_in_order_forwards(fleet, sort):
    ordering = SORTS[sort]
    expected = list(fleet.order_by(*_django_order(ordering)).values_list("pk", flat=True))
    pages = _walk(fleet, ordering, size=5)
    assert [pk for page in pages for pk in page] == expected
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]


@pytest.mark.parametrize("sort", list(SORTS))
def test_it_walks_back_from_the_last_page_to_the_first(fleet, sort):
    ordering = SORTS[sort]
    expected = list(fleet.order_by(*_django_order(ordering)).values_list("pk", flat=True))
    pages = _walk(fleet, ordering, size=5, backwards=True)
    # From the end, pages are full; the first holds what is left over.
    assert [len(p) for p in pages] == [3, 5, 5, 5, 5]
    assert [pk for page in pages for pk in page] == expected


def test_it_marks_the_ends_and_counts_all_rows(fleet):
    first = seek_page(fleet, None, SORTS["name"], size=10)
    assert (first.is_first, first.is_last, first.count, len(first)) == (True, False, 23, 10)
    last = seek_page(fleet, "last", SORTS["name"], size=10)
    assert (last.is_first, last.is_last, last.next_cursor) == (False, True, "")
    assert not seek_page(fleet, None, SORTS["name"], size=50).has_other_pages


def test_it_counts_a_list_that_fits_on_its_page_without_a_count_query(
    fleet, django_assert_num_queries
):
    # A narrow search: counting would run its query a second time.
    with django_assert_num_queries(1):
        whole = seek_page(fleet, None, SORTS["name"], size=50)
    with django_assert_num_queries(1):
        from_last = seek_page(fleet, "last", SORTS["-name"], size=23)
    assert (whole.count, len(whole), from_last.count, from_last.is_first) == (23, 23, 23, True)
    with django_assert_num_queries(2):
        assert seek_page(fleet, None, SORTS["name"], size=22).count == 23


@pytest.mark.parametrize("junk", ["a.bm90IGEgY3Vyc29y", "a.W10:forged", "b.", "7", "x.y.z"])
def test_it_answers_a_forged_or_foreign_cursor_with_the_first_page(fleet, junk):
    page = seek_page(fleet, junk, SORTS["name"], size=5)
    assert page.is_first
    assert [t.pk for t in page] == [t.pk for t in seek_page(fleet, "", SORTS["name"], size=5)]


def test_it_refuses_an_order_without_a_unique_tie_break(fleet):
    with pytest.raises(ValueError):
        seek_page(fleet, "", ("name",))


def _django_order(ordering):
    """The same order as Django expressions (NULLs last both ways), for the expectation."""
    from django.db.models import F

    out = []
    for o in ordering:
        name = o.lstrip("-")
        out.append(
            F(name).desc(nulls_last=True) if o.startswith("-") else F(name).asc(nulls_last=True)
        )
    return out


def test_it_stops_counting_at_the_cap_and_says_more_than(fleet, monkeypatch, client, alice):
    monkeypatch.setattr("core.paging.COUNT_CAP", 10)
    page = seek_page(fleet, "", SORTS["name"], size=5)
    assert (page.count, page.count_capped) == (10, True)
    client.force_login(alice)
    listed = client.get(reverse("tenants:tenant_list")).content.decode()
    assert "More than 10 tenants" in listed
    monkeypatch.setattr("core.paging.COUNT_CAP", 23)
    assert "23 tenants" in client.get(reverse("tenants:tenant_list")).content.decode()


def _counted(qs, position=""):
    """The page of 5 at `position` and how many COUNT queries it made."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        page = seek_page(qs, position, SORTS["name"], size=5)
    return page, sum("COUNT(" in q["sql"] for q in ctx.captured_queries)


def test_it_does_not_count_a_list_far_past_the_cap_on_every_page(fleet, monkeypatch):
    monkeypatch.setattr("core.paging.COUNT_CAP", 5)
    monkeypatch.setattr("core.paging.COUNT_MARGIN", 10)
    page, counts = _counted(fleet)
    assert (page.count, page.count_capped, counts) == (5, True, 1)
    page, counts = _counted(fleet, page.next_cursor)
    assert (page.count, page.count_capped, counts) == (5, True, 0)  # 23 > 5 + 10: remembered
    # Another filter is counted on its own: 7 rows, past the cap but within the margin.
    two_names = fleet.filter(name__in=["customer-1", "customer-2"])
    for _ in range(2):
        page, counts = _counted(two_names)
        assert (page.count, page.count_capped, counts) == (5, True, 1)


def test_it_counts_a_list_near_the_cap_on_every_page(fleet, monkeypatch):
    monkeypatch.setattr("core.paging.COUNT_CAP", 20)
    monkeypatch.setattr("core.paging.COUNT_MARGIN", 10)
    page, counts = _counted(fleet)
    assert (page.count, page.count_capped, counts) == (20, True, 1)  # 23: within the margin
    Tenant.objects.filter(
        pk__in=list(fleet.order_by("pk").values_list("pk", flat=True)[:5])
    ).delete()
    page, counts = _counted(fleet)
    assert (page.count, page.count_capped, counts) == (18, False, 1)


def test_it_remembers_a_filter_by_age_for_the_minute_it_was_counted_in(fleet, monkeypatch):
    monkeypatch.setattr("core.paging.COUNT_CAP", 5)
    monkeypatch.setattr("core.paging.COUNT_MARGIN", 10)
    minute = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)

    def created_before(moment):
        return _counted(fleet.filter(remote_created_at__lte=moment))[1]

    assert created_before(minute.replace(second=10)) == 1
    assert created_before(minute.replace(second=50)) == 0  # the same filter, a moment later
    assert created_before(minute + timedelta(minutes=1)) == 1
