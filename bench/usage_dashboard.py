"""Benchmark: the staff dashboard and tenant list with usage charts and sparklines.

Seeds 10 000 tenants (bench/tenant_list.py's rows: keys, a third registered) and, when the
tree has the usage app, 90 days of usage rows per live tenant (UsageDay), their collection
rows and the fleet's daily sums, into a throwaway database; then renders each page through
the full middleware stack and prints the SQL queries and the median server time (wall and
this process's CPU, SQLite included), for the pages whose charts are cached (usage.panels)
in each state they are met in: "cached" (any view but the first after a collection, in a
process), "after a collection" (this process's cache empty, the charts drawn by the
collection worker: RenderedPanel), "drawn in the view" / "first view" (nothing drawn yet:
the first view after a deletion or a new day before the worker's next run, a tenant page
nobody opened since its collection).

To compare with the tree before the usage work, copy this file into a worktree of that
commit and run it there (the same seeding, without usage rows):

    git worktree add /tmp/before852 852452a && cp bench/usage_dashboard.py /tmp/before852/bench/
    (cd /tmp/before852 && ln -s /work/main/.venv .venv && cp /work/main/.env .env &&
     .venv/bin/python bench/usage_dashboard.py)

The queries must not grow with the tenants (run with two --tenants) and the time must stay
under 2× before.

    .venv/bin/python bench/usage_dashboard.py [--tenants 10000] [--days 90] [--runs 15]
        [--database-url postgres://…]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _seed_usage(days: int) -> int:
    from datetime import UTC, datetime, timedelta

    from django.db import transaction
    from django.db.models import Sum
    from django.utils import timezone

    from tenants.models import Tenant
    from usage.models import FleetDay, Problem, UsageCollection, UsageDay

    rng = random.Random(14)
    today = datetime.now(UTC).date()
    now = timezone.now()
    live = list(Tenant.objects.active().values_list("pk", flat=True))
    rows = 0
    with transaction.atomic():
        batch = []
        for pk in live:
            pace = rng.choice([0, 1, 2, 5, 20])
            balance = rng.choice([0, 40, 300, 5000, 999_999_999])
            for n in range(days):
                batch.append(
                    UsageDay(
                        tenant_id=pk,
                        day=today - timedelta(days=n),
                        sent=rng.randint(0, pace * 2),
                        received=rng.randint(0, pace),
                        failed=int(rng.random() < 0.02),
                        credit_balance=balance + n * pace if n < 30 else None,
                    )
                )
            if len(batch) >= 20_000:
                UsageDay.objects.bulk_create(batch, batch_size=5000)
                rows += len(batch)
                batch = []
        UsageDay.objects.bulk_create(batch, batch_size=5000)
        rows += len(batch)
        UsageCollection.objects.bulk_create(
            [
                UsageCollection(
                    tenant_id=pk,
                    state="failed" if i % 97 == 0 else "waiting",
                    problem=Problem.KEY_REFUSED if i % 97 == 0 else "",
                    plan="pro",
                    credit_balance=1000 + i,
                    average_daily_usage=i % 20,
                    budget_estimation_days=(1000 + i) / (i % 20) if i % 20 else 0.0,
                    smp_registration=i % 3 == 0,
                    smp_registration_date=now - timedelta(days=i % 400),
                    collected_at=now,
                )
                for i, pk in enumerate(live)
            ],
            batch_size=5000,
        )
        if importlib.util.find_spec("usage.sparklines"):  # the list's lines, as collected
            from usage import sparklines

            for i in range(0, len(live), 1000):
                sparklines.store(live[i : i + 1000], today)
        sums = (
            UsageDay.objects.values("day")
            .annotate(s=Sum("sent"), r=Sum("received"), f=Sum("failed"), c=Sum("credit_balance"))
            .order_by()
        )
        FleetDay.objects.bulk_create(
            [
                FleetDay(
                    day=x["day"], sent=x["s"], received=x["r"], failed=x["f"], credit_balance=x["c"]
                )
                for x in sums
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args(argv)
    tree = HERE.parent
    import tenant_list

    has_usage = (tree / "usage" / "models.py").exists()

    def seed() -> None:
        tenant_list._seed(args.tenants)
        if has_usage:
            seed.rows = _seed_usage(args.days)

    seed.rows = 0
    with tenant_list.seeded_database(args.database_url, seed) as (engine, seeded):
        from django.core.cache import cache
        from django.test import Client

        from accounts.models import Role, User
        from tenants.models import Tenant

        admin = User.objects.create_superuser("bench", "bench@example.com", "x", role=Role.ADMIN)
        client = Client()
        client.force_login(admin)
        busy = Tenant.objects.active().order_by("pk").first()
        print(
            f"{tree}: {Tenant.objects.count()} tenants, {seed.rows} usage rows "
            f"({'with' if has_usage else 'without'} usage), seeded in {seeded:.1f}s "
            f"({engine}, {args.runs} runs per page, median)"
        )
        header = f"{'page':<40}{'queries':>9}{'ms':>8}{'cpu ms':>8}{'min ms':>8}"
        print(header)
        print("-" * len(header))

        def forget() -> None:
            # Neither this process nor the worker has drawn anything yet.
            cache.clear()
            if has_usage:
                from usage.models import RenderedPanel

                RenderedPanel.objects.all().delete()

        def moved() -> None:
            # The figures moved (a deleted tenant, a new UTC day) and the worker's minute has
            # not come yet: only a drawing of the figures before stands.
            cache.clear()
            if has_usage:
                from usage.models import RenderedPanel

                for row in RenderedPanel.objects.exclude(key__endswith=":before"):
                    RenderedPanel.objects.filter(pk=row.pk).update(key=row.key + ":before")

        if has_usage:
            from usage import panels

            panels.prepare_fleet_panels()  # what the collection worker does after a run
        cached = ("cached", None)
        stale = ("figures moved, worker not yet", moved)
        worker = ("after a collection", cache.clear)
        drawn = ("drawn in the view", forget)
        pages = [
            ("dashboard", "/staff/", [cached, worker, stale, drawn]),
            ("dashboard, 90 days", "/staff/?days=90", [cached, worker, stale, drawn]),
            ("tenant list, first page", "/staff/tenants/", [("", None)]),
            ("tenant list, last page", "/staff/tenants/?page=last", [("", None)]),
            ("tenant page", f"/staff/tenants/{busy.pk}/", [cached, ("first view", forget)]),
        ]
        for label, url, modes in pages:
            for mode, before_each in modes:
                name = f"{label}, {mode}" if mode else label
                queries, ms, cpu, fastest = _measure(client, url, args.runs, before_each)
                print(f"{name:<40}{queries:>9}{ms:>8.1f}{cpu:>8.1f}{fastest:>8.1f}")
                if mode in ("drawn in the view", stale[0]) and has_usage:
                    panels.prepare_fleet_panels()  # back to what the worker leaves


def _measure(client, url: str, runs: int, before_each=None) -> tuple[int, float, float, float]:
    """Queries of one view, and the median wall and CPU time of `runs` views (the CPU time
    of this process, SQLite included: steadier than wall time on a busy machine) and the
    fastest wall time (the view least held up by other processes).
    `before_each` (untimed) runs before every view: cache.clear for the cold figures."""
    import statistics
    import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def view():
        if before_each:
            before_each()
        return client.get(url)

    assert view().status_code == 200, url  # warm up (templates, query plans)
    with CaptureQueriesContext(connection) as ctx:
        view()
    queries = len(ctx.captured_queries)  # read now: the log is reset by the next request
    wall, cpu = [], []
    for _ in range(runs):
        if before_each:
            before_each()
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200
    return (
        queries,
        statistics.median(wall) * 1000,
        statistics.median(cpu) * 1000,
        min(wall) * 1000,
    )


if __name__ == "__main__":
    main()
