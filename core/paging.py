"""Lists a page at a time by seeking (keyset pagination).

A page is "the next 50 rows after this row" in the list's order, not "skip 99 950 rows":
OFFSET makes the database read (and annotate) every row it skips, so the last page of
100 000 tenants cost four times the first. Seeking costs the same on every page, with an
index on the order's columns. The price: pages have no numbers, only First, Previous,
Next and Last, which is what people use on a list they filter and search.

The `page` query parameter holds the position: empty (first page), `last`, or a cursor
`a.<row>` (the page after that row) / `b.<row>` (the page before it), where <row> is the
row's sort values, signed so that a cursor cannot be forged into an arbitrary filter.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core import signing
from django.core.cache import cache
from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, Model, OrderBy, Q, QuerySet
from django.http import HttpRequest
from django.utils.dateparse import parse_date, parse_datetime

PAGE_SIZE = 50
# Counting stops here: "more than 10 000" costs the same on a table of 100 000 or 10 million,
# where an exact count reads every row on every page.
COUNT_CAP = 10_000
# A count past the cap by more than this margin is remembered for a minute, per filter and
# process: the list says "more than 10 000" until more rows than the margin have left it,
# more than the Admin API's 1 000 calls an hour can remove in a minute. The pages after the
# first then make no count at all. Counts near or under the cap are made on every page (one
# tenant more or less shows).
COUNT_MARGIN = 1_000
COUNT_MEMO_SECONDS = 60
_SIGNER = signing.Signer(salt="core.paging")


@dataclass(frozen=True)
class _Key:
    name: str  # a model field or an annotation
    descending: bool
    nulls_last: bool = True  # in the list's order; reversed when paging backwards

    def reversed(self) -> _Key:
        return _Key(self.name, not self.descending, not self.nulls_last)

    def order_by(self, nullable: bool) -> OrderBy:
        # NULLS FIRST/LAST only where NULLs can be: it would keep PostgreSQL from scanning
        # a plain index backwards.
        nulls = (
            ({"nulls_last": True} if self.nulls_last else {"nulls_first": True}) if nullable else {}
        )
        expression = F(self.name)
        return expression.desc(**nulls) if self.descending else expression.asc(**nulls)

    def after(self, value: Any, nullable: bool) -> Q:
        """Rows that sort strictly after `value` on this key alone."""
        if value is None:
            return Q(**{f"{self.name}__isnull": False}) if not self.nulls_last else Q(pk__in=[])
        beyond = Q(**{f"{self.name}__{'lt' if self.descending else 'gt'}": value})
        if nullable and self.nulls_last:
            beyond |= Q(**{f"{self.name}__isnull": True})
        return beyond

    def equal(self, value: Any) -> Q:
        return Q(**{f"{self.name}__isnull": True}) if value is None else Q(**{self.name: value})

    def at_or_after(self, value: Any, nullable: bool) -> Q | None:
        """A redundant bound that lets the database start its index scan at the cursor."""
        if value is None or (nullable and self.nulls_last):
            return None
        return Q(**{f"{self.name}__{'lte' if self.descending else 'gte'}": value})


@dataclass
class SeekPage:
    object_list: list
    count: int  # exact up to COUNT_CAP; at the cap, `count_capped` says "more than"
    is_first: bool
    is_last: bool
    next_cursor: str = ""
    previous_cursor: str = ""
    count_capped: bool = False

    @property
    def has_next(self) -> bool:
        return not self.is_last

    @property
    def has_previous(self) -> bool:
        return not self.is_first

    @property
    def has_other_pages(self) -> bool:
        return not (self.is_first and self.is_last)

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


def _keys(ordering: Sequence[str]) -> list[_Key]:
    keys = [_Key(o.lstrip("-"), o.startswith("-")) for o in ordering]
    if keys[-1].name not in ("pk", "id"):
        raise ValueError("a seek ordering must end with the primary key (a unique tie-break)")
    return keys


def _nullable(model: type[Model], name: str) -> bool:
    try:
        return model._meta.get_field(name).null
    except FieldDoesNotExist:
        return name not in ("pk",)  # an annotation: it may be null


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "dt" in value:
            return parse_datetime(value["dt"])
        if "d" in value:
            return parse_date(value["d"])
        if "dec" in value:
            return Decimal(value["dec"])
    return value


def _cursor(direction: str, row: Model, keys: list[_Key]) -> str:
    values = [_encode(getattr(row, "pk" if k.name == "pk" else k.name)) for k in keys]
    payload = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    return f"{direction}.{_SIGNER.sign(payload)}"


def _read_cursor(value: str, keys: list[_Key]) -> tuple[str, list] | None:
    """("a" or "b", the row's sort values), or None for anything else (the first page)."""
    direction, _, signed = value.partition(".")
    if direction not in ("a", "b"):
        return None
    try:
        payload = _SIGNER.unsign(signed)
        values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(values, list) or len(values) != len(keys):
        return None
    return direction, [_decode(v) for v in values]


def _beyond(qs: QuerySet, keys: list[_Key], nullable: list[bool], values: list) -> QuerySet:
    """Rows after the cursor row in the order `keys`: the first key beyond, or equal and the
    next one beyond, and so on (a row-value comparison that also knows about NULLs)."""
    condition = Q(pk__in=[])
    equal_so_far = Q()
    for key, value, null in zip(keys, values, nullable, strict=True):
        condition |= equal_so_far & key.after(value, null)
        equal_so_far &= key.equal(value)
    bound = keys[0].at_or_after(values[0], nullable[0])
    if bound is not None:
        qs = qs.filter(bound)
    return qs.filter(condition)


def page_query(request: HttpRequest) -> str:
    """The request's query string without its position: what page links add `page=` to."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def seek_page(
    qs: QuerySet,
    position: str | None,
    ordering: Sequence[str],
    *,
    size: int = PAGE_SIZE,
    counted: QuerySet | None = None,
) -> SeekPage:
    """The page of `qs` in `ordering` (field names, "-" for descending, ending with "pk")
    at `position` (the `page` query parameter). `counted`: the same rows without the joins
    that only add columns (the count need not pay for them)."""
    keys = _keys(ordering)
    position = (position or "").strip()
    cursor = _read_cursor(position, keys) if position not in ("", "last") else None
    backwards = position == "last" or (cursor is not None and cursor[0] == "b")
    walk = [k.reversed() for k in keys] if backwards else keys
    nullable = [_nullable(qs.model, k.name) for k in walk]
    rows = qs.order_by(*(k.order_by(null) for k, null in zip(walk, nullable, strict=True)))
    if cursor is not None:
        rows = _beyond(rows, walk, nullable, cursor[1])
    found = list(rows[: size + 1])
    more = len(found) > size
    found = found[:size]
    if backwards:
        found.reverse()
    if position == "last":
        is_first, is_last = not more, True
    elif cursor is None:
        is_first, is_last = True, not more
    elif backwards:
        is_first, is_last = not more, False
    else:
        is_first, is_last = False, not more
    if is_first and is_last:
        # The whole list is on this page (a narrow search, say): no count to make, which on
        # a search would run the search a second time.
        count = len(found)
    else:
        count = _count((qs if counted is None else counted).order_by())
    page = SeekPage(
        found,
        min(count, COUNT_CAP),
        is_first=is_first,
        is_last=is_last,
        count_capped=count > COUNT_CAP,
    )
    if found:
        page.next_cursor = "" if page.is_last else _cursor("a", found[-1], keys)
        page.previous_cursor = "" if page.is_first else _cursor("b", found[0], keys)
    return page


_SECONDS = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d):\d\d(\.\d+)?")


def _to_the_minute(param: Any) -> Any:
    """A query parameter that is a time (SQLite's are text by then), without its seconds."""
    if isinstance(param, datetime):
        return param.replace(second=0, microsecond=0)
    if isinstance(param, str):
        return _SECONDS.sub(r"\1", param)
    return param


def _count(qs: QuerySet) -> int:
    """The rows of `qs`, exact up to COUNT_CAP and more than it when over (COUNT_MARGIN)."""
    sql, params = qs.query.sql_with_params()
    # A filter by age ("keys older than 90 days") holds the time of the request: to the
    # minute, the same filter a minute long is remembered as one.
    params = tuple(_to_the_minute(p) for p in params)
    memo = "core.paging.count:" + hashlib.sha256(repr((qs.db, sql, params)).encode()).hexdigest()
    if cache.get(memo):
        return COUNT_CAP + 1
    count = qs[: COUNT_CAP + COUNT_MARGIN + 1].count()
    if count > COUNT_CAP + COUNT_MARGIN:
        cache.set(memo, True, COUNT_MEMO_SECONDS)
    return count


def walk(qs: QuerySet, ordering: Sequence[str], *, size: int = 500) -> Iterator:
    """Every row of `qs` in `ordering`, read `size` rows at a time by seeking (an export of
    a large list: each read costs the same, and no count is made)."""
    keys = _keys(ordering)
    nullable = [_nullable(qs.model, k.name) for k in keys]
    rows = qs.order_by(*(k.order_by(null) for k, null in zip(keys, nullable, strict=True)))
    values: list | None = None
    while True:
        chunk = list((rows if values is None else _beyond(rows, keys, nullable, values))[:size])
        yield from chunk
        if len(chunk) < size:
            return
        last = chunk[-1]
        values = [getattr(last, "pk" if k.name == "pk" else k.name) for k in keys]
