"""Benchmark: the staff tenant list against Django admin's changelist over the same rows.

Seeds 10 000 tenants and 30 000 keys (a third registered on Peppol) into a throwaway
database (SQLite, or with --database-url a fresh PostgreSQL database created next to the
one named and dropped afterwards), then renders each page through the full middleware stack
(Django test client) and prints, per variant, the number of SQL queries and the median
server time, with the ratio to the admin changelist doing the same thing, and the last
page's time over the first page's.

    .venv/bin/python bench/tenant_list.py [--tenants 10000] [--runs 25]
        [--database-url postgres://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _setup(database_url: str) -> None:
    sys.path.insert(0, str(REPO))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # Production-like: no query logging, no template debugging.
    os.environ["DEBUG"] = "false"
    os.environ["LOG_LEVEL"] = "WARNING"
    from cryptography.fernet import Fernet

    os.environ["FIELD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _seed(n_tenants: int, keys_per_tenant: int = 3) -> None:
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from tenants.models import ApiKey, PeppolRegistration, Tenant

    now = timezone.now()
    with transaction.atomic():
        tenants = Tenant.objects.bulk_create(
            [
                Tenant(
                    remote_id=f"tenant_{i:06d}",
                    name=f"customer-{i:05d}",
                    description=f"Customer {i} BV",
                    company_number=f"{i:010d}",
                    company_tax_id=f"BE{i:010d}",
                    peppol_id=f"0208:{i:010d}",
                    test_mode=i % 10 == 0,
                    is_deleted=i % 50 == 0,
                    remote_created_at=now - timedelta(days=i % 400),
                )
                for i in range(n_tenants)
            ],
            batch_size=2000,
        )
        ApiKey.objects.bulk_create(
            [
                ApiKey(
                    tenant=t,
                    remote_id=f"key_{t.remote_id}_{j}",
                    name=f"key-{j}",
                    fingerprint=f"{t.pk:08x}…{j:04d}",
                    is_current=j == keys_per_tenant - 1,
                    created_at=now - timedelta(days=(t.pk * 7 + j * 30) % 200),
                    revoked_at=None if j == keys_per_tenant - 1 else now,
                )
                for t in tenants
                for j in range(keys_per_tenant)
            ],
            batch_size=5000,
        )
        # bulk_create passes by ApiKey.save(): the key date on each tenant row, as saves keep it.
        Tenant.objects.note_current_key()
        PeppolRegistration.objects.bulk_create(
            [
                PeppolRegistration(
                    tenant=t, registered=True, status="active", peppol_id=t.peppol_id
                )
                for t in tenants[::3]
            ],
            batch_size=5000,
        )


def _queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm up (templates, query plans)
    assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    return len(ctx.captured_queries)  # read now: the log is reset by the next request


def _timed(client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    return elapsed


def _measure(client, urls: list[str], runs: int) -> list[tuple[int, float]]:
    """(queries, median ms) of each URL, their requests alternating: the shared cores' speed
    drifts from one second to the next, and a ratio of two pages is read under the same."""
    queries = [_queries(client, url) for url in urls]
    times: list[list[float]] = [[] for _ in urls]
    for _ in range(runs):
        for url, series in zip(urls, times, strict=True):
            series.append(_timed(client, url))
    return [(q, statistics.median(t) * 1000) for q, t in zip(queries, times, strict=True)]


def _variants(n_tenants: int) -> list[tuple[str, str, str | None]]:
    last = max(1, -(-sum(1 for i in range(n_tenants) if i % 50) // 50))  # admin counts from 0
    return [
        ("first page", "/staff/tenants/", "/django-admin/tenants/tenant/"),
        ("last page", "/staff/tenants/?page=last", f"/django-admin/tenants/tenant/?p={last - 1}"),
        (
            "search",
            "/staff/tenants/?q=customer-0999",
            "/django-admin/tenants/tenant/?q=customer-0999",
        ),
        (
            "registered",
            "/staff/tenants/?peppol=registered",
            "/django-admin/tenants/tenant/?peppol__registered__exact=1",
        ),
        ("sort by name desc", "/staff/tenants/?sort=-name", "/django-admin/tenants/tenant/?o=-1"),
        ("keys due for rotation", "/staff/tenants/?due=on", None),
        ("sort by oldest key", "/staff/tenants/?sort=key_age", None),
        ("oldest key, last page", "/staff/tenants/?sort=key_age&page=last", None),
    ]


@contextmanager
def throwaway_database(url: str | None):
    """A throwaway database: SQLite in a temporary folder, or a new PostgreSQL database."""
    if not url:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", "SQLite"
        return
    import psycopg

    base, _, _ = url.rpartition("/")
    name = f"bench_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}", "PostgreSQL"
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def seeded_database(database_url: str | None, seed: Callable[[], None]):
    """A throwaway database (see throwaway_database), migrated, seeded by `seed` and analysed:
    yields the engine's name and the seconds seeding took."""
    with throwaway_database(database_url) as (url, engine):
        _setup(url)
        started = time.perf_counter()
        seed()
        if engine == "PostgreSQL":
            from django.db import connection

            with connection.cursor() as cursor:
                # As autovacuum leaves a table: statistics, and the trigram indexes' pending
                # lists merged (a fresh bulk load leaves them to be scanned on every search).
                cursor.execute("VACUUM ANALYZE")
                # And the load's dirty pages written out, as on a server that has settled:
                # otherwise the first pages measured share the disk with the checkpoint.
                cursor.execute("CHECKPOINT")
        yield engine, time.perf_counter() - started


def admin_client():
    """A test client logged in as a reseller admin of the seeded database."""
    from django.test import Client

    from accounts.models import Role, User

    admin = User.objects.create_superuser("bench", "bench@example.com", "x", role=Role.ADMIN)
    client = Client()
    client.force_login(admin)
    return client


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args(argv)

    with seeded_database(args.database_url, lambda: _seed(args.tenants)) as (engine, seeded):
        from tenants.models import ApiKey, Tenant

        client = admin_client()

        print(
            f"Seeded {Tenant.objects.count()} tenants and {ApiKey.objects.count()} keys "
            f"in {seeded:.1f}s ({engine}, {args.runs} runs per page, median)."
        )
        header = f"{'variant':<24}{'portal q':>9}{'portal ms':>11}{'admin q':>9}{'admin ms':>10}{'ratio':>8}"
        print(header)
        print("-" * len(header))
        times = {}
        for label, ours, theirs in _variants(args.tenants):
            if theirs:
                (q1, t1), (q2, t2) = _measure(client, [ours, theirs], args.runs)
                print(f"{label:<24}{q1:>9}{t1:>11.1f}{q2:>9}{t2:>10.1f}{t1 / t2:>8.2f}")
            else:
                ((q1, t1),) = _measure(client, [ours], args.runs)
                print(f"{label:<24}{q1:>9}{t1:>11.1f}{'—':>9}{'—':>10}{'':>8}")
            times[label] = t1
        print("ratio = portal time / admin changelist time (lower is faster).")
        print(f"last page / first page: {times['last page'] / times['first page']:.2f}")
        print(
            "oldest key, last / first: "
            f"{times['oldest key, last page'] / times['sort by oldest key']:.2f}"
        )


if __name__ == "__main__":
    main()
