"""Benchmark: the tenant list's CSV and XLSX export of a whole fleet.

Seeds 10 000 tenants with 30 000 keys (bench/tenant_list.py's data) into a throwaway
database and downloads the export through the full middleware stack, printing per
variant the SQL queries, the median time and the peak Python memory of one download
(tracemalloc). The export reads the list by seeking, 500 rows a read: its queries grow with
N / 500, its memory does not grow with N for CSV (rows are streamed as they are read).

    .venv/bin/python bench/tenant_export.py [--tenants 10000] [--runs 3]
        [--database-url postgres://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

from tenant_list import _seed, admin_client, seeded_database


def _download(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return sum(len(chunk) for chunk in response.streaming_content)


def _measure(client, url: str, runs: int) -> tuple[int, float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _download(client, url)  # warm up
    with CaptureQueriesContext(connection) as ctx:
        size = _download(client, url)
    queries = len(ctx.captured_queries)
    tracemalloc.start()
    _download(client, url)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        _download(client, url)
        times.append(time.perf_counter() - started)
    return queries, statistics.median(times) * 1000, peak / 1e6, size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args(argv)

    with seeded_database(args.database_url, lambda: _seed(args.tenants)) as (engine, seeded):
        client = admin_client()
        print(f"Seeded {args.tenants} tenants in {seeded:.1f}s ({engine}, median of {args.runs}).")
        print(f"{'variant':<28}{'queries':>8}{'ms':>10}{'peak MB':>10}{'bytes':>12}")
        for name, url in (
            ("CSV, every tenant", "/staff/tenants/export.csv?deleted=all"),
            ("CSV, oldest key first", "/staff/tenants/export.csv?sort=key_age"),
            ("CSV, key older than 90 days", "/staff/tenants/export.csv?key_age=90"),
            ("XLSX, every tenant", "/staff/tenants/export.xlsx?deleted=all"),
        ):
            queries, ms, peak, size = _measure(client, url, args.runs)
            print(f"{name:<28}{queries:>8}{ms:>10.0f}{peak:>10.1f}{size:>12}")


if __name__ == "__main__":
    main()
