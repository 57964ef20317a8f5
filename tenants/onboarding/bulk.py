"""Bulk onboarding from a CSV: check every row first, then run the valid ones as jobs.

Nothing is sent to the API until staff saw every row's checks (per row and cell, the same
identifier checks as the single form) and started the batch. The results CSV never holds a
key value: only whether a key is stored.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import audit, texts
from core.spreadsheet import safe_row
from core.texts import Coded
from jobs import dispatcher
from jobs.models import JobState
from tenants import checks
from tenants.identifiers import clean_tenant_fields, company_key
from tenants.models import Tenant
from tenants.models.jobs import BulkOnboarding, OnboardingJob
from tenants.onboarding import steps as onboarding

# Documented columns (the template's header). Aliases accept the API's own field names.
# `email` is the customer's contact: "Invite all" and "Send key links to all" write to it.
COLUMNS = [
    "company_name",
    "name",
    "country",
    "company_number",
    "vat_number",
    "peppol_id",
    "email",
]
ALIASES = {"description": "company_name", "company_tax_id": "vat_number"}
# CSV column → tenant field.
FIELD_OF = {
    "company_name": "description",
    "name": "name",
    "country": "country",
    "company_number": "company_number",
    "vat_number": "company_tax_id",
    "peppol_id": "peppol_id",
    "email": "email",
}
COLUMN_OF = {v: k for k, v in FIELD_OF.items()}
MAX_ROWS = 5000
logger = logging.getLogger(__name__)

# A row's errors are stored as codes with parameters (core.texts) and worded for whoever
# reads the batch: the identifier checks' codes (tenants.identifiers) and these.
MORE_CELLS = texts.define(
    "csv.more_cells", gettext_lazy("This row has more cells than the header.")
)
NO_COMPANY_NAME = texts.define("csv.no_company_name", gettext_lazy("The company name is required."))
BAD_EMAIL = texts.define("csv.bad_email", gettext_lazy("Not a valid email address."))
NAME_TAKEN = texts.define(
    "csv.name_taken",
    gettext_lazy(
        "The tenant %(other)s already has this name (or one differing only in hyphens or dots)."
    ),
)
SAME_AS_LINE = texts.define("csv.same_as_line", gettext_lazy("Same as line %(line)s of this file."))
ONBOARDED_BY_FIRST_FILE = texts.define(
    "csv.onboarded_by_first_file",
    gettext_lazy("Line %(line)s of the first file onboarded this company already."),
)

TEMPLATE_ROWS = [
    [
        "Customer Company BVBA",
        "customer-company-bvba",
        "BE",
        "0403170701",
        "BE0403170701",
        "",
        "finance@customer-company.be",
    ],
    ["Voorbeeld BV", "", "NL", "12345678", "NL123456789B01", "0106:12345678", ""],
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
    # Excel's "Unicode text" export is UTF-16 with a byte-order mark.
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
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
    if "\x00" in text:
        # No database text column can hold NUL; it means a binary or mis-encoded file.
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise CsvUnreadable(
            _(
                "Line %(line)s contains a NUL character: this is not a CSV text file. Save it "
                "again as CSV (UTF-8) from the spreadsheet program."
            )
            % {"line": line}
        )
    # Excel's dialect with the header's delimiter (a sniffed dialect got quoting wrong:
    # "Bakkerij ""De Zon"" BV" kept a doubled quote).
    reader = csv.reader(io.StringIO(text, newline=""), csv.excel, delimiter=_delimiter(text))
    try:
        return _read_rows(reader)
    except csv.Error as e:
        raise CsvUnreadable(
            _(
                "Line %(line)s cannot be read as CSV (%(problem)s). Save the file again as CSV "
                "from the spreadsheet program."
            )
            % {"line": reader.line_num, "problem": e}
        ) from e


def _delimiter(text: str) -> str:
    """The separator the header line uses: , ; or tab (what spreadsheet programs export)."""
    header = text.splitlines()[0]
    outside_quotes = re.sub(r'"[^"]*"', "", header)
    counts = {d: outside_quotes.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_rows(reader) -> list[dict]:
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
            cell_errors.setdefault("company_name", []).append(Coded(MORE_CELLS))
        if not cleaned.get("description"):
            cell_errors.setdefault("company_name", []).append(Coded(NO_COMPANY_NAME))
        cleaned["country"] = raw_row.get("country", "")
        cleaned["email"], email_error = _clean_email(raw_row.get("email", ""))
        if email_error:
            cell_errors["email"] = [email_error]
        rows.append({"row": line, "data": cleaned, "errors": cell_errors})
    if not rows:
        raise CsvUnreadable(_("The file has a header but no rows."))
    _check_duplicates(rows)
    for r in rows:
        r["errors"] = {col: [texts.stored(m) for m in msgs] for col, msgs in r["errors"].items()}
    return rows


def row_errors(row: dict) -> dict[str, list[str]]:
    """A row's errors by column, in the active language (a row stored before codes existed
    keeps the words it was checked in)."""
    return {col: [texts.render(m) for m in msgs] for col, msgs in row["errors"].items()}


def _clean_email(value: str) -> tuple[str, str]:
    """(the address in lowercase, or "" ; the cell's error, or "")."""
    if not value:
        return "", ""
    try:
        validate_email(value)
    except ValidationError:
        return value, Coded(BAD_EMAIL)
    return value.lower(), ""


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
            r["errors"]["name"] = [Coded(NAME_TAKEN, other=taken[_similar(name)])]
        for field, normalise in (("name", _similar), ("company_number", str)):
            value = r["data"].get(field)
            if not value:
                continue
            first = seen[field].setdefault(normalise(value), r["row"])
            if first != r["row"]:
                r["errors"].setdefault(field, []).append(Coded(SAME_AS_LINE, line=first))


def create_batch(upload, *, register_peppol: bool, user) -> BulkOnboarding:
    """Read and check the uploaded file; nothing is sent to the API yet."""
    rows = parse(upload.read())
    if register_peppol:
        _preflight(rows)
    return BulkOnboarding.objects.create(
        file_name=upload.name[:200], rows=rows, register_peppol=register_peppol, created_by=user
    )


def rows_to_correct(batch: BulkOnboarding) -> list[dict]:
    """The rows that were not onboarded and need other values: those with errors, and
    those whose job failed."""
    failed = set(batch.jobs.filter(state=JobState.FAILED).values_list("row_number", flat=True))
    return [r for r in batch.rows if r["errors"] or r["row"] in failed]


def corrections_csv(batch: BulkOnboarding) -> str:
    """The rows to correct, in the upload's columns as they were read: fix them in a
    spreadsheet and upload the file as the batch's corrected rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for r in rows_to_correct(batch):
        writer.writerow(safe_row([r["data"].get(FIELD_OF[c], "") for c in COLUMNS]))
    return out.getvalue()


def create_correction(batch: BulkOnboarding, upload, *, user) -> BulkOnboarding:
    """A file of corrected rows for `batch`: checked like any file, and a row of a company
    the batch onboarded already is refused (it would be a second tenant)."""
    rows = parse(upload.read())
    done = {
        company_key(n): line
        for n, line in batch.jobs.filter(state=JobState.SUCCEEDED).values_list(
            "company_number", "row_number"
        )
        if n
    }
    for r in rows:
        line = done.get(company_key(r["data"].get("company_number") or ""))
        if line is not None:
            r["errors"].setdefault("company_number", []).append(
                texts.stored(Coded(ONBOARDED_BY_FIRST_FILE, line=line))
            )
    if batch.register_peppol:
        _preflight(rows)
    correction = BulkOnboarding.objects.create(
        file_name=upload.name[:200],
        rows=rows,
        register_peppol=batch.register_peppol,
        created_by=user,
        corrects=batch,
    )
    audit.record(
        "onboarding.bulk_correct",
        target=batch.file_name,
        user=user,
        changes={"rows": [None, len(rows)], "corrects": [None, batch.pk]},
    )
    return correction


def history_counts(batches: list[BulkOnboarding]) -> None:
    """Set each batch's rows, onboarded, failed, active and not sent, in one query."""
    counts: dict[int, dict[str, int]] = {b.pk: {} for b in batches}
    per_state = (
        OnboardingJob.objects.filter(batch__in=batches)
        .values_list("batch_id", "state")
        .annotate(n=Count("id"))
    )
    for batch_id, state, n in per_state:
        counts[batch_id][state] = n
    for b in batches:
        c = counts[b.pk]
        b.row_count = len(b.rows)
        b.onboarded = c.get(JobState.SUCCEEDED, 0)
        b.failed = c.get(JobState.FAILED, 0)
        b.active = sum(c.values()) - b.onboarded - b.failed
        b.not_sent = b.row_count - sum(c.values())


def _preflight(rows: list[dict]) -> None:
    """The dry run's Peppol column: who holds each valid row's Peppol ID, before anything is
    sent (checks.preflight; tenant API lookups, not the organization quota)."""
    for r in rows:
        peppol_id = r["data"].get("peppol_id")
        if peppol_id and not r["errors"]:
            r["peppol"] = checks.preflight(peppol_id).as_row()


def start(batch: BulkOnboarding, *, user) -> int:
    """Queue one onboarding job per valid row, once; returns how many. A row whose company
    a live job onboards already (another batch, the single form) is not sent again: the
    row names that job (`onboarding_job`)."""
    with transaction.atomic():
        if not BulkOnboarding.objects.filter(pk=batch.pk, started_at__isnull=True).update(
            started_at=timezone.now()
        ):
            return 0
        started = 0
        for r in batch.valid_rows:
            try:
                onboarding.start(
                    r["data"],
                    register_peppol=batch.register_peppol,
                    user=user,
                    batch=batch,
                    row_number=r["row"],
                    kick=False,
                )
            except onboarding.AlreadyOnboarding as e:
                r["onboarding_job"] = e.job.pk
            else:
                started += 1
        BulkOnboarding.objects.filter(pk=batch.pk).update(rows=batch.rows)
        audit.record(
            "onboarding.bulk_start",
            target=batch.file_name,
            user=user,
            changes={"rows": [None, started]},
        )
        dispatcher.kick()
    return started


def retry_failed(batch: BulkOnboarding, *, user) -> tuple[int, int]:
    """Queue the failed rows again; returns (queued, left). A row that failed on its values
    (e.g. a name taken by another company) would fail the same way: it is left for staff to
    onboard again with other values."""
    failed = list(batch.jobs.filter(state=JobState.FAILED))
    left = sum(1 for job in failed if job.field_errors)
    queued = 0
    for job in failed:
        if job.field_errors:
            continue
        try:
            queued += onboarding.retry(job, user=user)
        except onboarding.AlreadyOnboarding:
            left += 1  # another live job onboards the company now
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


# --- handing over access: "Invite all" and "Send key links to all" ------------------------
# Each row remembers what its action did (r["invite"], r["key_link"]: status, detail and the
# job that did it): a second click, or a double submit, finds the row done and sends nothing
# again. The sending is a worker job (tenants.onboarding.handover).
INVITE, KEY_LINK = "invite", "key_link"
SENDING, DONE = "sending", "done"
NO_EMAIL, EXISTS, REFUSED, NOT_ONBOARDED = "no_email", "exists", "refused", "not_onboarded"
FAILED = "failed"  # the email did not go; the tenant's page resends it


def handover_plan(batch: BulkOnboarding, action: str) -> dict:
    """The rows by what the action would do now: to_send (row, tenant), done (sent before),
    the skipped ones by reason; `tenants`: each onboarded row's tenant by line."""
    tenants = {
        j.row_number: j.tenant
        for j in batch.jobs.filter(state=JobState.SUCCEEDED, tenant__isnull=False).select_related(
            "tenant"
        )
    }
    plan: dict = {"to_send": [], DONE: [], NO_EMAIL: [], NOT_ONBOARDED: []}
    plan[EXISTS], plan[REFUSED], plan[SENDING], plan[FAILED] = [], [], [], []
    plan["tenants"] = {line: t for line, t in tenants.items() if not t.is_deleted}
    for r in batch.valid_rows:
        status = (r.get(action) or {}).get("status")
        if status:
            plan[status].append(r)
        elif not r["data"].get("email"):
            plan[NO_EMAIL].append(r)
        elif r["row"] not in plan["tenants"]:
            plan[NOT_ONBOARDED].append(r)
        else:
            plan["to_send"].append((r, tenants[r["row"]]))
    return plan


def record_row(batch_id: int, action: str, line: int, outcome: dict) -> None:
    """One row's outcome, written on a fresh read: other rows may have moved meanwhile."""
    with transaction.atomic():
        locked = BulkOnboarding.objects.select_for_update().get(pk=batch_id)
        for r in locked.rows:
            if r["row"] == line:
                r[action] = outcome
        locked.save(update_fields=["rows"])


def _status_cell(r: dict, action: str) -> str:
    status = (r.get(action) or {}).get("status")
    if status:
        return {
            DONE: "invited" if action == INVITE else "sent",
            SENDING: "sending",
            EXISTS: "skipped: login exists",
            REFUSED: "skipped: no key held",
            FAILED: "failed: email not sent",
        }[status]
    return "" if r["data"].get("email") else "skipped: no email"


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
    "email",
    "invite",
    "key_link",
]


def _result_row(r: dict, job: OnboardingJob | None) -> list:
    handed = [r["data"].get("email", ""), _status_cell(r, INVITE), _status_cell(r, KEY_LINK)]
    return _onboarding_cells(r, job) + handed


def _onboarding_cells(r: dict, job: OnboardingJob | None) -> list:
    if job is not None:
        return [
            r["row"],
            job.description,
            job.name,
            job.state,
            job.step,
            job.remote_tenant_id,
            "yes" if job.api_key_id else "no",
            job.peppol_outcome_label,
            job.last_error_text,
        ]

    # The errors in the downloader's language; the columns stay the CSV's own names.
    errors = "; ".join(f"{col}: {' '.join(m)}" for col, m in row_errors(r).items())
    # A row without a job is invalid only if it has errors; a valid one is not started yet,
    # or was left to the live job that onboards its company already.
    state = "invalid" if r["errors"] else "not started"
    if r.get("onboarding_job"):
        state = "already onboarding"
        errors = _("already being onboarded by job #%(job)s") % {"job": r["onboarding_job"]}
    data = r["data"]
    return [r["row"], data.get("description"), data.get("name"), state, "", "", "", "", errors]


def results_csv(batch: BulkOnboarding) -> str:
    """One line per CSV row: what happened. Never a key value; cells spreadsheet-safe."""
    jobs = {j.row_number: j for j in batch.jobs.select_related("api_key")}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(RESULT_COLUMNS)
    for r in batch.rows:
        writer.writerow(safe_row(_result_row(r, jobs.get(r["row"]))))
    return out.getvalue()
