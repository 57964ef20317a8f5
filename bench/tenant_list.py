"""Benchmark: the staff tenant list against Django admin's changelist over the same rows.

Seeds 10 000 tenants and 30 000 keys (a third registered on Peppol) into a throwaway
SQLite database, then renders each page through the full middleware stack (Django test
client) and prints, per variant, the number of SQL queries and the median server time,
with the ratio to the admin changelist doing the same thing.

    .venv/bin/python bench/tenant_list.py [--tenants 10000] [--runs 25]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _setup(db_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
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
        PeppolRegistration.objects.bulk_create(
            [
                PeppolRegistration(
                    tenant=t, registered=True, status="active", peppol_id=t.peppol_id
                )
                for t in tenants[::3]
            ],
            batch_size=5000,
        )


def _measure(client, url: str, runs: int) -> tuple[int, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm up (templates, query plans)
    assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    queries = len(ctx.captured_queries)  # read now: the log is reset by the next request
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return queries, statistics.median(times) * 1000


VARIANTS = [
    ("first page", "/staff/tenants/", "/django-admin/tenants/tenant/"),
    ("page 100", "/staff/tenants/?page=100", "/django-admin/tenants/tenant/?p=99"),
    ("search", "/staff/tenants/?q=customer-0999", "/django-admin/tenants/tenant/?q=customer-0999"),
    (
        "registered",
        "/staff/tenants/?peppol=registered",
        "/django-admin/tenants/tenant/?peppol__registered__exact=1",
    ),
    ("sort by name desc", "/staff/tenants/?sort=-name", "/django-admin/tenants/tenant/?o=-1"),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-tenant-list-") as tmp:
        _setup(Path(tmp) / "bench.sqlite3")
        started = time.perf_counter()
        _seed(args.tenants)
        seeded = time.perf_counter() - started

        from django.test import Client

        from accounts.models import Role, User
        from tenants.models import ApiKey, Tenant

        admin = User.objects.create_superuser("bench", "bench@example.com", "x", role=Role.ADMIN)
        client = Client()
        client.force_login(admin)

        print(
            f"Seeded {Tenant.objects.count()} tenants and {ApiKey.objects.count()} keys "
            f"in {seeded:.1f}s (SQLite, {args.runs} runs per page, median)."
        )
        extra = [
            ("keys due for rotation", "/staff/tenants/?due=on", None),
            ("sort by oldest key", "/staff/tenants/?sort=key_age", None),
        ]
        header = f"{'variant':<24}{'portal q':>9}{'portal ms':>11}{'admin q':>9}{'admin ms':>10}{'ratio':>8}"
        print(header)
        print("-" * len(header))
        for label, ours, theirs in VARIANTS + extra:
            q1, t1 = _measure(client, ours, args.runs)
            if theirs:
                q2, t2 = _measure(client, theirs, args.runs)
                print(f"{label:<24}{q1:>9}{t1:>11.1f}{q2:>9}{t2:>10.1f}{t1 / t2:>8.2f}")
            else:
                print(f"{label:<24}{q1:>9}{t1:>11.1f}{'—':>9}{'—':>10}{'':>8}")
        print("ratio = portal time / admin changelist time (lower is faster).")


if __name__ == "__main__":
    main()
