"""Trigram indexes for substring search on PostgreSQL, as a migration operation.

The lists search with `icontains`, which Django writes as UPPER(col) LIKE UPPER('%q%'): a
B-tree cannot help, a trigram GIN index on that same expression can, so a search of 100 000
rows reads a few index pages instead of the table. SQLite has no such index; there the
search stays a scan (the operation does nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import migrations


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
