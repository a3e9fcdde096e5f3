"""B3: CSV export of 1,000,000 movements beside psql's \\copy of the same rows.

    .venv/bin/python bench/b3_csv.py [--rows 1000000]

Creates a fresh PostgreSQL database, seeds one organization with N movements over 29 days
(bench/csv_export.py's bulk seeding), then, each in a fresh process, drains the streamed
CSV body exactly as the download sends it (tenants.credits.export.movements_csv_response
over tenants.credits.export_rows.iter_organization_rows — on PostgreSQL the database writes the rows
with ``COPY (SELECT …) TO STDOUT``, see tenants.credits.export_copy.copy_csv) for the newest 100,000
rows and for all N, and times ``psql -c "\\copy (SELECT … same rows, same order …) TO
'/dev/null' CSV"``. ``--python`` also times the row-by-row Python path (the one SQLite uses)
for comparison.
Prints rows/s beside COPY's and the peak RSS growth of the exporting process; exits 1 when
the rate is under 60 % of COPY's or RSS grows by 50 MB or more. The database is dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import fresh_database
from bench._report import figure

MIN_RATIO = 0.6  # issue 17: at least 60 % of psql's copy, stable over three runs
MAX_GROWTH_MB = 50.0
SPAN = timedelta(days=29)  # csv_export.seed spreads the rows evenly over it


def rss_mb() -> float:
    """The process's resident set now (MiB)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def drain(url: str, org_id: str, since: str, python: bool = False) -> None:
    """Child process: export, print JSON {rows, bytes, seconds, rss_before, rss_after}."""
    from app import create_app
    from tenants.access.actors import SYSTEM
    from tenants.core.extensions import db
    from tenants.credits.export import movements_csv_response
    from tenants.credits.export_rows import iter_organization_rows
    from tenants.models import Organization

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        org = db.session.get(Organization, org_id)
        db.session.rollback()
        before = rss_mb()
        rows = iter_organization_rows(SYSTEM, org, since=datetime.fromisoformat(since))
        # A plain iterator is not a movements query: movements_csv_response writes it in Python.
        response = movements_csv_response(iter(rows) if python else rows, "x.csv")
        started = time.perf_counter()
        size = lines = 0
        for chunk in response.response:
            data = chunk.encode() if isinstance(chunk, str) else chunk
            size += len(data)
            lines += data.count(b"\n")
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows": lines - 1,
                "bytes": size,
                "seconds": seconds,
                "rss_before": before,
                "rss_after": peak_rss_mb(),
            }
        )
    )


def copy_seconds(url: str, org_id: str, since: datetime) -> tuple[int, float]:
    """psql \\copy of the same rows (columns the CSV shows, same order) to /dev/null."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    select = (
        "SELECT created_at, type, account_kind, member_id, credits, balance_after, amount,"
        " currency, reference, actor_user_id, api_key_id FROM ledger_entries"
        f" WHERE organization_id = '{org_id}' AND created_at >= '{since.isoformat()}'"
        " ORDER BY created_at DESC, id DESC"
    )
    started = time.perf_counter()
    out = subprocess.run(
        ["psql", "-X", dsn, "-c", f"\\copy ({select}) TO '/dev/null' WITH CSV HEADER"],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    rows = int(out.stdout.split()[-1]) if out.stdout.strip() else -1
    return rows, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--python", action="store_true", help="also time the Python path")
    parser.add_argument("--drain", nargs=3, metavar=("URL", "ORG", "SINCE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drain:
        drain(*args.drain, python=args.python)
        return 0

    from app import create_app
    from bench.csv_export import seed
    from tenants.core.extensions import db
    from tenants.core.types import utcnow

    failed = False
    with fresh_database("bench_b3") as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            org_id = seed(args.rows)
            print(f"seeded {args.rows:,} movements in {time.perf_counter() - started:.0f} s")
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE ledger_entries")
            db.session.remove()
            db.engine.dispose()
        now = utcnow()
        sizes = [n for n in (100_000, args.rows) if n <= args.rows]
        print(f"B3 CSV export (streamed generator vs psql \\copy), {os.cpu_count()} cores")
        for n in dict.fromkeys(sizes):
            # The newest n rows: the seed spreads N rows evenly over SPAN up to "now".
            since = now - SPAN * (n / args.rows) - timedelta(seconds=1)
            if n == args.rows:
                since = now - SPAN - timedelta(days=1)  # every row
            out = subprocess.run(
                [sys.executable, __file__, "--drain", url, org_id, since.isoformat()],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            export = json.loads(out.strip().splitlines()[-1])
            copy_rows, copy_s = copy_seconds(url, org_id, since)
            rate, copy_rate = export["rows"] / export["seconds"], copy_rows / copy_s
            growth = export["rss_after"] - export["rss_before"]
            ok_rate, ok_rss = rate / copy_rate >= MIN_RATIO, growth < MAX_GROWTH_MB
            failed |= not (ok_rate and ok_rss and copy_rows == export["rows"])
            figure(
                "B3",
                f"CSV of {export['rows']:,} movements",
                rate,
                "rows/s",
                f"≥ {MIN_RATIO:.0%} of \\copy, same rows",
                ok_rate and copy_rows == export["rows"],
                baseline=copy_rate,
                ratio=rate / copy_rate,
            )
            figure(
                "B3",
                f"CSV of {export['rows']:,} movements: RSS growth",
                growth,
                "MiB",
                f"< {MAX_GROWTH_MB:.0f} MiB",
                ok_rss,
            )
            label = f"{export['rows']:>9,} rows"
            print(f"{label}  export  {rate:10,.0f} rows/s  ({export['seconds']:.2f} s)")
            print(f"{label}  \\copy   {copy_rate:10,.0f} rows/s  ({copy_s:.2f} s, {copy_rows:,})")
            print(
                f"{label}  ratio {rate / copy_rate:6.1%} (≥ {MIN_RATIO:.0%}: "
                f"{'met' if ok_rate else 'MISSED'})"
            )
            print(
                f"{label}  RSS {export['rss_before']:.1f} MiB, peak {export['rss_after']:.1f},"
                f" +{growth:.1f} MiB (< {MAX_GROWTH_MB:.0f}: {'met' if ok_rss else 'MISSED'})"
            )
            if args.python:
                command = [sys.executable, __file__, "--drain", url, org_id, since.isoformat()]
                out = subprocess.run(
                    [*command, "--python"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                slow = json.loads(out.strip().splitlines()[-1])
                slow_rate = slow["rows"] / slow["seconds"]
                print(
                    f"{label}  python  {slow_rate:10,.0f} rows/s  ({slow['seconds']:.2f} s,"
                    f" {slow_rate / copy_rate:.1%} of \\copy; not a target)"
                )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
