"""Append-only triggers on the audit table, so the database itself refuses UPDATE and DELETE.

PostgreSQL's trigger comes from tenants migration 0002 and survives schema changes. SQLite
drops a table's triggers when Django rebuilds the table, so they are (re)created after every
migrate (core.apps) as well as by core migration 0002.
"""

from __future__ import annotations

SQLITE_TRIGGERS = {
    "audit_entry_no_update": "UPDATE",
    "audit_entry_no_delete": "DELETE",
}


def ensure(connection) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for name, operation in SQLITE_TRIGGERS.items():
            cursor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {operation} ON tenants_auditentry "
                f"BEGIN SELECT RAISE(ABORT, 'the audit log is append-only ({operation} refused)'); "
                "END"
            )


def drop(connection) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for name in SQLITE_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
