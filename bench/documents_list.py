"""Benchmark: a customer's documents list at 100 000 documents.

Seeds one tenant with N outbound documents (and another tenant with as many, which the
list must not read), logs a customer in and renders the list's pages through the full
middleware stack, printing per variant the SQL queries and the median server time, and
the last page's time over the first's. SQLite by default; --database-url for PostgreSQL.

    .venv/bin/python bench/documents_list.py [--documents 100000] [--runs 10]
        [--database-url postgres://postgres@127.0.0.1:5432/test]

Targets (issue 16): last page ≤ 1.5 × first page; first page ≤ 30 ms.
"""

from __future__ import annotations

import argparse

from tenant_list import _measure, seeded_database


def _seed(n: int) -> None:
    from datetime import date, timedelta
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from invoices.models import Document, State
    from tenants.models import Tenant

    now = timezone.now()
    states = [State.SENT, State.SENT, State.SENT, State.FAILED, State.DRAFT, State.TRANSIT]
    with transaction.atomic():
        for name in ("acme", "globex"):
            tenant = Tenant.objects.create(remote_id=f"tenant_{name}", name=name)
            Document.objects.bulk_create(
                [
                    Document(
                        tenant=tenant,
                        invoice_id=f"INV-{i:06d}",
                        remote_id=f"doc_{name}_{i}",
                        state=states[i % len(states)],
                        customer_name=f"Buyer {i % 500} BV",
                        invoice_date=date(2026, 1, 1) + timedelta(days=i % 330),
                        total=Decimal(i % 10_000) / 4,
                        created_at=now - timedelta(minutes=n - i),
                    )
                    for i in range(n)
                ],
                batch_size=5000,
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args(argv)

    with seeded_database(args.database_url, lambda: _seed(args.documents)) as (engine, seeded):
        from django.test import Client

        from accounts.models import Role, User
        from invoices.models import Document
        from tenants.models import Tenant

        carol = User.objects.create_user(
            "carol",
            "carol@example.com",
            "x",
            role=Role.CUSTOMER,
            tenant=Tenant.objects.get(name="acme"),
        )
        client = Client()
        client.force_login(carol)
        print(
            f"Seeded {Document.objects.count()} documents over 2 tenants in {seeded:.1f}s "
            f"({engine}, {args.runs} runs per page, median)."
        )
        variants = [
            ("first page", "/invoices/"),
            ("last page", "/invoices/?page=last"),
            ("failed only", "/invoices/?state=FAILED"),
            ("search a number", "/invoices/?q=INV-099999"),
            ("buyer", "/invoices/?party=Buyer%20499"),
        ]
        print(f"{'variant':<20}{'queries':>8}{'ms':>9}")
        times = {}
        for label, page in variants:
            ((queries, ms),) = _measure(client, [page], args.runs)
            times[label] = ms
            print(f"{label:<20}{queries:>8}{ms:>9.1f}")
        print(f"last page / first page: {times['last page'] / times['first page']:.2f}")


if __name__ == "__main__":
    main()
