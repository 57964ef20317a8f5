"""The tenant list for work on many tenants: its fleet filters (key age, activity, failures)
and the export of the current filter to CSV or XLSX.

The export reads the list by seeking (core.paging.walk), a few hundred rows at a time, and
writes each row as it is read: a fleet of 100 000 tenants costs the same memory as 500.
It holds no secret: a key's fingerprint and age, never its value. Every cell goes through
core.spreadsheet (text that a spreadsheet would run as a formula is written as text).
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

from django.contrib.humanize.templatetags.humanize import NaturalTimeFormatter, naturaltime
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.paging import walk
from core.spreadsheet import safe_row, xlsx_row
from invoices.models import Direction, Document
from invoices.models import State as DocumentState
from jobs.models import JobState
from tenants.models import PeppolState, Tenant
from tenants.models.jobs import KeyRotation, OnboardingJob
from tenants.models.watch import PeppolWatch
from usage import sparklines

ACTIVITY_DAYS = 30
FAILURE_DAYS = 30


# --- filters ----------------------------------------------------------------------------------
def _key_age(qs: QuerySet, value: str) -> QuerySet:
    if value == "none":
        return qs.filter(current_key_created_at__isnull=True)
    days = int(value)  # the form's choices: 30, 90, 180, 365
    return qs.filter(current_key_created_at__lte=timezone.now() - timedelta(days=days))


def _activity(qs: QuerySet, value: str) -> QuerySet:
    documents = Document.objects.filter(tenant=OuterRef("pk"))
    if value == "never":
        return qs.exclude(Exists(documents))
    recent = Exists(
        documents.filter(created_at__gte=timezone.now() - timedelta(days=ACTIVITY_DAYS))
    )
    return qs.filter(recent) if value == "active" else qs.exclude(recent)


def failed_jobs(since) -> Q:
    """Tenants with a job that failed since then: onboarding, key rotation, Peppol watch."""
    failed = {"state": JobState.FAILED, "finished_at__gte": since}
    condition = Q(pk__in=[])
    for model in (OnboardingJob, KeyRotation, PeppolWatch):
        condition |= Exists(model.objects.filter(tenant=OuterRef("pk"), **failed))
    return condition


def failed_deliveries(since) -> Q:
    """Tenants with an outbound document that ended FAILED since then."""
    return Exists(
        Document.objects.filter(
            tenant=OuterRef("pk"),
            direction=Direction.OUTBOUND,
            state=DocumentState.FAILED,
            state_changed_at__gte=since,
        )
    )


def _failures(qs: QuerySet, value: str) -> QuerySet:
    since = timezone.now() - timedelta(days=FAILURE_DAYS)
    if value == "jobs":
        return qs.filter(failed_jobs(since))
    if value == "deliveries":
        return qs.filter(failed_deliveries(since))
    return qs.filter(failed_jobs(since) | failed_deliveries(since))


def filtered(qs: QuerySet, data: dict) -> QuerySet:
    """The fleet filters of TenantFilterForm's cleaned data (a bad value was left out)."""
    if data.get("key_age"):
        qs = _key_age(qs, data["key_age"])
    if data.get("activity"):
        qs = _activity(qs, data["activity"])
    if data.get("failures"):
        qs = _failures(qs, data["failures"])
    return qs


# --- the page ---------------------------------------------------------------------------------
# The columns a list page reads: what its rows show (page_rows), and its sort's keys for the
# page links' cursors (page_fields). The tenant's and registration's other columns would
# be read, converted (on SQLite every date is parsed in Python) and never shown.
PAGE_FIELDS = (
    "name",
    "description",
    "company_tax_id",
    "company_number",
    "peppol_id",
    "test_mode",
    "is_deleted",
    "current_key_created_at",
)


def page_fields(ordering: Sequence[str]) -> tuple[str, ...]:
    """PAGE_FIELDS and the keys of `ordering` (tenants.forms.SORTS) that it lacks."""
    keys = (o.lstrip("-") for o in ordering)
    return PAGE_FIELDS + tuple(k for k in keys if k not in PAGE_FIELDS and k != "pk")


# Each stored sparkline column (usage.sparklines.STORED) as the name of a list row's column.
STORED_COLUMNS = {name: f"stored_{name}" for name in sparklines.STORED}


def for_page(qs: QuerySet, ordering: Sequence[str]) -> QuerySet:
    """A list page's query of `qs` (with its current key, tenants.views.tenants): the
    columns its rows show or sort by, and each tenant's stored sparkline as columns of the
    same row (a join, not a query of its own: usage.sparklines.for_stored)."""
    stored = {column: F(f"usage__{name}") for name, column in STORED_COLUMNS.items()}
    return qs.annotate(**stored).only(*page_fields(ordering))


class _Ages:
    """humanize's naturaltime for the dates of one page: the same words, with each
    translation formatted once per language and process instead of two or three times per
    date: the words of "3 months, 2 weeks ago" are the same on every page."""

    # Per language: each unit's words by number, and each age's whole text (a few hundred).
    _words: dict[str, tuple[dict[str, _Once], dict[str, str]]] = {}

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.ago = NaturalTimeFormatter.time_strings["past-day"]
        language = get_language()
        if language not in self._words:
            units = {k: _Once(v) for k, v in NaturalTimeFormatter.past_substrings.items()}
            self._words[language] = (units, {})
        self.units, self.texts = self._words[language]

    def __call__(self, value: datetime) -> str:
        if value >= self.now or (self.now - value).days == 0:
            return naturaltime(value)  # within a day or ahead: seconds, minutes, hours
        delta = timesince(value, self.now, time_strings=self.units)
        if delta not in self.texts:
            self.texts[delta] = self.ago % {"delta": delta}
        return self.texts[delta]


class _Once:
    """A plural translation formatted once per number (what timesince asks of its units)."""

    def __init__(self, text: object) -> None:
        self.text = text
        self.done: dict[int, str] = {}

    def __mod__(self, params: dict) -> str:
        num = params["num"]
        if num not in self.done:
            self.done[num] = self.text % params
        return self.done[num]


def _short(text: str) -> str:
    # truncatechars:40 (which also normalises to NFC, a no-op on ASCII text).
    return text if len(text) <= 40 and text.isascii() else Truncator(text).chars(40)


def page_rows(tenants: list[Tenant], selected: Collection[int] = ()) -> list[dict[str, object]]:
    """What each row of a list page shows, as text worked out once for the page: a dict per
    tenant (a template finds a dict's key at once, where a model's attribute costs it a
    failed item lookup first), so the template's row loop only reads values: the link to
    the tenant page (one URL reversed, not 50), the tick box's label, the shortened company
    name, the Peppol badge's classes and words (a template asking a tenant without a
    registration for `peppol` pays for an exception and a dir() of the tenant), the key's
    age in words (`_Ages`: each translation formatted once per page, not per date) and the
    usage sparkline (usage.sparklines: drawn at the collection, read with the page: for_page)."""
    marker = 987654321  # reversed once in place of a pk; pks are put where it was
    before, _marker, after = reverse("tenants:tenant_detail", args=[marker]).partition(str(marker))
    choose = _("Choose %(name)s")
    ages = _Ages()
    # The Peppol badge's words by state (_peppol_state, as the export writes it): the two of
    # the list's own, else the registration's state label, each looked up once per page.
    labels = {"registered": _("registered"), "not_registered": _("not registered")}
    lines = sparklines.for_stored(
        {t.pk: tuple(getattr(t, column) for column in STORED_COLUMNS.values()) for t in tenants}
    )
    rows = []
    for t in tenants:
        state = _peppol_state(t)
        if state not in labels:
            labels[state] = str(dict(PeppolState.choices).get(state, state))
        rows.append(
            {
                "pk": t.pk,
                "name": t.name,
                "detail_url": f"{before}{t.pk}{after}",
                "choose_label": choose % {"name": t.name},
                "ticked": t.pk in selected,
                "test_mode": t.test_mode,
                "is_deleted": t.is_deleted,
                "short_description": _short(t.description),
                "company_tax_id": t.company_tax_id,
                "company_number": t.company_number,
                "peppol_id": t.peppol_id,
                "peppol_label": labels[state],
                "badge_classes": "badge" if state == "not_registered" else f"badge {state}",
                "key_age": ages(t.current_key_created_at) if t.current_key_created_at else "",
                "current_key_fingerprint": t.current_key_fingerprint,
                "sparkline": lines[t.pk],
            }
        )
    return rows


# --- export -----------------------------------------------------------------------------------
COLUMNS = [
    "name",
    "company_name",
    "vat_number",
    "company_number",
    "peppol_id",
    "peppol_state",
    "test_mode",
    "deleted",
    "key_created",
    "key_fingerprint",
    "rotation_days",
    "credit_balance",
    "credit_days_left",
    "created",
]


def _peppol_state(tenant: Tenant) -> str:
    """The Peppol badge's state of a tenant read with its registration's facts as columns
    (tenants.views.tenants.with_list_columns): no registration, registered, or its state."""
    if tenant.peppol_state is None:
        return "not_registered"
    return "registered" if tenant.peppol_registered else tenant.peppol_state


def _usage(tenant: Tenant):
    """The last usage collection (usage app), or None before the first."""
    try:
        return tenant.usage
    except ObjectDoesNotExist:
        return None


def _row(tenant: Tenant) -> list:
    usage = _usage(tenant)
    return [
        tenant.name,
        tenant.description,
        tenant.company_tax_id,
        tenant.company_number,
        tenant.peppol_id,
        _peppol_state(tenant),
        "yes" if tenant.test_mode else "no",
        "yes" if tenant.is_deleted else "no",
        tenant.current_key_created_at,
        getattr(tenant, "current_key_fingerprint", "") or "",
        tenant.rotation_days or "",
        "" if usage is None or usage.credit_balance is None else usage.credit_balance,
        ""
        if usage is None or usage.budget_estimation_days is None
        else round(usage.budget_estimation_days, 1),
        tenant.remote_created_at or tenant.created_at,
    ]


def rows(qs: QuerySet, ordering: Sequence[str]) -> Iterator[list]:
    """The export's rows (header first) of the list `qs` in its order, read by seeking."""
    yield list(COLUMNS)
    for tenant in walk(qs.select_related("usage"), ordering):
        yield _row(tenant)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(table: Iterable[list]) -> Iterator[str]:
    """The rows as CSV lines, one at a time (a StreamingHttpResponse's content)."""
    writer = csv.writer(_Echo())
    for values in table:
        yield writer.writerow(safe_row([_text(v) for v in values]))


def _text(value: object) -> object:
    if hasattr(value, "isoformat"):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return value


def xlsx_file(table: Iterable[list], title: str) -> tempfile.SpooledTemporaryFile:
    """The rows as an XLSX workbook in a temporary file (in memory up to 8 MB), rewound.

    A write-only workbook keeps no row once written; the file cannot be sent before it is
    closed (a ZIP's directory comes last), so it is spooled, then streamed from there."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    for values in table:
        sheet.append(xlsx_row(sheet, values))
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    workbook.save(out)
    out.seek(0)
    return out
