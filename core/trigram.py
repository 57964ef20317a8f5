"""Trigram indexes for substring search, as migration operations.

The lists search with `icontains`, which Django writes as UPPER(col) LIKE UPPER('%q%'): a
B-tree cannot help, a trigram GIN index on that same expression can, so a search of 100 000
rows on PostgreSQL reads a few index pages instead of the table (`trigram_indexes`). A word
in every row ("customer" in each name and description) still makes each index read its
trigrams' long lists: one index over several columns joined (`joined_trigram_index`) reads
them once for all (`any_contains`: a search of name and description, 56 → 19 ms).

SQLite has no index for LIKE '%q%': a search read and compared every row (5 columns of
100 000 tenants: 60 ms). There an FTS5 table with the trigram tokenizer holds a copy of the
columns, kept by triggers on the table (so bulk_create, update() and raw SQL keep it too);
`sqlite_candidates` asks it for the rows that may match (one query), and the search keeps
its LIKE conditions on those few rows (FTS5 also folds non-ASCII case, LIKE does not: the index
only narrows, the answer stays LIKE's). Where SQLite lacks FTS5, the table is not made and
the search stays a scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from django.db import OperationalError, connection, migrations
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

# FTS5's trigram tokenizer matches substrings of at least three characters.
MIN_LENGTH = 3
# Up to this many rows the trigram table answers a search (sqlite_candidates).
CANDIDATES = 2000


def trigram_indexes(table: str, columns: Sequence[str], prefix: str) -> migrations.RunPython:
    def create(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in columns:
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {prefix}_{column} ON {table} "
                f'USING gin (UPPER("{column}"::text) gin_trgm_ops)'
            )

    def drop(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for column in columns:
            schema_editor.execute(f"DROP INDEX IF EXISTS {prefix}_{column}")

    return migrations.RunPython(create, drop)


def _joined(table: str, columns: Sequence[str]) -> str:
    # Joined by a control character (U+001F) that no name or description holds.
    return "UPPER(" + " || chr(31) || ".join(f'"{table}"."{c}"::text' for c in columns) + ")"


def joined_trigram_index(table: str, columns: Sequence[str], name: str) -> migrations.RunPython:
    """On PostgreSQL, one trigram GIN index over `columns` joined (what any_contains asks)."""

    def create(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin (({_joined(table, columns)}) gin_trgm_ops)"
        )

    def drop(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")

    return migrations.RunPython(create, drop)


def any_contains(table: str, columns: Sequence[str], text: str) -> Q:
    """`icontains` on any of the columns; on PostgreSQL first on their joined_trigram_index,
    which holds whatever one of them holds (so the answer is the columns' own)."""
    each = Q()
    for column in columns:
        each |= Q(**{f"{column}__icontains": text})
    if connection.vendor != "postgresql":
        return each
    pattern = f"%{connection.ops.prep_for_like_query(text)}%"
    joined = RawSQL(
        f"{_joined(table, columns)} LIKE UPPER(%s)", [pattern], output_field=BooleanField()
    )
    return Q(joined) & each


def sqlite_search_table(table: str, columns: Sequence[str]) -> migrations.RunPython:
    """On SQLite, `<table>_search`: an FTS5 trigram copy of `columns`, rowid = the row's id,
    filled from the table and kept by triggers (nothing on PostgreSQL)."""
    search = f"{table}_search"
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    assign = ", ".join(f"{c} = new.{c}" for c in columns)

    def create(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "sqlite":
            return
        try:
            schema_editor.execute(
                f"CREATE VIRTUAL TABLE {search} USING fts5({cols}, tokenize='trigram')"
            )
        except OperationalError:
            return  # an SQLite without FTS5 or its trigram tokenizer (before 3.34)
        schema_editor.execute(
            f"INSERT INTO {search} (rowid, {cols}) SELECT id, {cols} FROM {table}"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {search}_insert AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {search} (rowid, {cols}) VALUES (new.id, {new}); END"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {search}_update AFTER UPDATE OF {cols} ON {table} BEGIN "
            f"UPDATE {search} SET {assign} WHERE rowid = old.id; END"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {search}_delete AFTER DELETE ON {table} BEGIN "
            f"DELETE FROM {search} WHERE rowid = old.id; END"
        )

    def drop(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "sqlite":
            return
        for trigger in ("insert", "update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {search}_{trigger}")
        schema_editor.execute(f"DROP TABLE IF EXISTS {search}")

    return migrations.RunPython(create, drop)


@cache
def _sqlite_has_trigrams() -> bool:
    """Whether this SQLite library has FTS5's trigram tokenizer, as the migration found it
    (asked of a database in memory: not a query more on the request that first searches)."""
    import sqlite3

    try:
        sqlite3.connect(":memory:").execute(
            "CREATE VIRTUAL TABLE t USING fts5(a, tokenize='trigram')"
        )
    except sqlite3.OperationalError:
        return False
    return True


def sqlite_candidates(table: str, texts: Sequence[tuple[Sequence[str], str]]) -> Q | None:
    """On SQLite, the rows of `table` in which one of the texts may be in one of its columns
    (each text with its columns), from its trigram table; None where that table cannot
    answer (PostgreSQL, no FTS5, a text shorter than MIN_LENGTH) or would not narrow much:
    more than CANDIDATES rows (then the scan in the list's order finds a page in its first
    rows, where gathering every candidate, the whole table for "0208", took 250 ms)."""
    if connection.vendor != "sqlite" or any(len(text) < MIN_LENGTH for _c, text in texts):
        return None
    if not _sqlite_has_trigrams():
        return None
    search = f"{table}_search"
    match = " OR ".join(_phrase(columns, text) for columns, text in texts)
    candidates = f"SELECT rowid FROM {search} WHERE {search} MATCH %s"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({candidates} LIMIT %s)", [match, CANDIDATES + 1])
        if cursor.fetchone()[0] > CANDIDATES:
            return None
    return Q(pk__in=RawSQL(candidates, [match]))


def _phrase(columns: Sequence[str], text: str) -> str:
    # An FTS5 phrase in double quotes (a quote doubled) is a plain substring to the trigram
    # tokenizer, whatever it holds; `{a b} :` limits it to those columns.
    quoted = text.replace('"', '""')
    return f'{{{" ".join(columns)}}} : "{quoted}"'
