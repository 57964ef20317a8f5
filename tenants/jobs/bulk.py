"""Bulk onboarding from a CSV: check every row first, then run the valid ones as jobs.

Nothing is sent to the API until staff saw every row's checks (per row and cell, the same
identifier checks as the single form) and started the batch. The results CSV never holds a
key value: only whether a key is stored.
"""

from __future__ import annotations

import csv
import io
import re

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants import audit
from tenants.identifiers import clean_tenant_fields
from tenants.jobs import dispatcher, onboarding
from tenants.models import Tenant
from tenants.models.jobs import BulkOnboarding, JobState, OnboardingJob

# Documented columns (the template's header). Aliases accept the API's own field names.
COLUMNS = ["company_name", "name", "country", "company_number", "vat_number", "peppol_id"]
ALIASES = {"description": "company_name", "company_tax_id": "vat_number"}
# CSV column → tenant field.
FIELD_OF = {
    "company_name": "description",
    "name": "name",
    "country": "country",
    "company_number": "company_number",
    "vat_number": "company_tax_id",
    "peppol_id": "peppol_id",
}
COLUMN_OF = {v: k for k, v in FIELD_OF.items()}
MAX_ROWS = 5000

TEMPLATE_ROWS = [
    ["Customer Company BVBA", "customer-company-bvba", "BE", "0403170701", "BE0403170701", ""],
    ["Voorbeeld BV", "", "NL", "12345678", "NL123456789B01", "0106:12345678"],
]


class CsvUnreadable(Exception):
    """The file as a whole cannot be read (not the rows' contents)."""


def template_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(TEMPLATE_ROWS)
    return out.getvalue()


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvUnreadable(_("The file is not UTF-8 text."))


def parse(raw: bytes) -> list[dict]:
    """Every data row as {"row": line number, "data": cleaned fields, "errors": {...}}.

    Errors are keyed by CSV column so the page can mark the cell.
    """
    text = _decode(raw)
    if not text.strip():
        raise CsvUnreadable(_("The file is empty."))
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [h.strip().lower().replace(" ", "_") for h in next(reader, [])]
    header = [ALIASES.get(h, h) for h in header]
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        raise CsvUnreadable(
            _("Unknown column(s): %(cols)s. The columns are: %(known)s.")
            % {"cols": ", ".join(unknown), "known": ", ".join(COLUMNS)}
        )
    if "company_name" not in header:
        raise CsvUnreadable(_("The company_name column is required (see the template)."))
    rows: list[dict] = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        if len(rows) >= MAX_ROWS:
            raise CsvUnreadable(_("More than %(max)s rows: split the file.") % {"max": MAX_ROWS})
        line = reader.line_num
        raw_row = {FIELD_OF[h]: v.strip() for h, v in zip(header, values, strict=False) if h}
        cleaned, errors = clean_tenant_fields(raw_row)
        cell_errors = {COLUMN_OF.get(f, "company_name"): list(m) for f, m in errors.items()}
        if len(values) > len(header):
            cell_errors.setdefault("company_name", []).append(
                _("This row has more cells than the header.")
            )
        if not cleaned.get("description"):
            cell_errors.setdefault("company_name", []).append(_("The company name is required."))
        cleaned["country"] = raw_row.get("country", "")
        rows.append({"row": line, "data": cleaned, "errors": cell_errors})
    if not rows:
        raise CsvUnreadable(_("The file has a header but no rows."))
    _check_duplicates(rows)
    return rows


def _similar(name: str) -> str:
    # e-invoice.be takes names differing only in case, hyphens or dots for the same name.
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _check_duplicates(rows: list[dict]) -> None:
    # One query for the whole file: the mirror's names (deleted tenants keep theirs taken).
    taken = {_similar(n): n for n in Tenant.objects.values_list("name", flat=True)}
    seen: dict[str, dict[str, int]] = {"name": {}, "company_number": {}}
    for r in rows:
        name = r["data"].get("name")
        if name and "name" not in r["errors"] and _similar(name) in taken:
            r["errors"]["name"] = [
                _(
                    "The tenant %(other)s already has this name (or one differing only in hyphens "
                    "or dots)."
                )
                % {"other": taken[_similar(name)]}
            ]
        for field, normalise in (("name", _similar), ("company_number", str)):
            value = r["data"].get(field)
            if not value:
                continue
            first = seen[field].setdefault(normalise(value), r["row"])
            if first != r["row"]:
                r["errors"].setdefault(field, []).append(
                    _("Same as line %(line)s of this file.") % {"line": first}
                )


def create_batch(upload, *, register_peppol: bool, user) -> BulkOnboarding:
    """Read and check the uploaded file; nothing is sent to the API yet."""
    rows = parse(upload.read())
    return BulkOnboarding.objects.create(
        file_name=upload.name[:200], rows=rows, register_peppol=register_peppol, created_by=user
    )


def start(batch: BulkOnboarding, *, user) -> int:
    """Queue one onboarding job per valid row, once."""
    with transaction.atomic():
        if not BulkOnboarding.objects.filter(pk=batch.pk, started_at__isnull=True).update(
            started_at=timezone.now()
        ):
            return 0
        for r in batch.valid_rows:
            onboarding.start(
                r["data"],
                register_peppol=batch.register_peppol,
                user=user,
                batch=batch,
                row_number=r["row"],
                kick=False,
            )
        audit.record(
            "onboarding.bulk_start",
            target=batch.file_name,
            user=user,
            changes={"rows": [None, len(batch.valid_rows)]},
        )
        dispatcher.kick()
    return len(batch.valid_rows)


def retry_failed(batch: BulkOnboarding, *, user) -> tuple[int, int]:
    """Queue the failed rows again; returns (queued, left). A row that failed on its values
    (e.g. a name taken by another company) would fail the same way: it is left for staff to
    onboard again with other values."""
    failed = list(batch.jobs.filter(state=JobState.FAILED))
    left = sum(1 for job in failed if job.field_errors)
    queued = sum(onboarding.retry(job, user=user) for job in failed if not job.field_errors)
    return queued, left


def progress(batch: BulkOnboarding) -> dict:
    counts = dict(batch.jobs.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    total = sum(counts.values())
    done = counts.get(JobState.SUCCEEDED, 0) + counts.get(JobState.FAILED, 0)
    return {
        "total": total,
        "succeeded": counts.get(JobState.SUCCEEDED, 0),
        "failed": counts.get(JobState.FAILED, 0),
        "active": total - done,
        "percent": round(100 * done / total) if total else 0,
        "finished": bool(total) and done == total,
    }


RESULT_COLUMNS = [
    "line",
    "company_name",
    "name",
    "state",
    "step",
    "tenant_id",
    "key_stored",
    "peppol",
    "error",
]


def results_csv(batch: BulkOnboarding) -> str:
    """One line per CSV row: what happened. Never a key value."""
    jobs = {j.row_number: j for j in batch.jobs.select_related("api_key")}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(RESULT_COLUMNS)
    for r in batch.rows:
        job: OnboardingJob | None = jobs.get(r["row"])
        data = r["data"]
        if job is None:
            errors = "; ".join(f"{col}: {' '.join(m)}" for col, m in r["errors"].items())
            writer.writerow(
                [
                    r["row"],
                    data.get("description"),
                    data.get("name"),
                    "invalid",
                    "",
                    "",
                    "",
                    "",
                    errors,
                ]
            )
            continue
        writer.writerow(
            [
                r["row"],
                job.description,
                job.name,
                job.state,
                job.step,
                job.remote_tenant_id,
                "yes" if job.api_key_id else "no",
                job.peppol_outcome_label,
                job.last_error,
            ]
        )
    return out.getvalue()
