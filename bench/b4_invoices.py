"""B4: the monthly invoice run for 10,000 postpaid organizations with 1,000,000 charges.

    .venv/bin/python bench/b4_invoices.py [--orgs 10000] [--charges 1000000]

Creates a fresh PostgreSQL database, seeds in bulk one reseller (EUR price, 21 % tax in
Spain) with N postpaid organizations in Europe/Madrid and M charges spread over the month
that just ended (generate_series), then times, over the same rows:

* the baseline: ONE ``INSERT … SELECT … GROUP BY`` of the charges into per-day lines of a
  temporary table (the least any implementation has to do), best of three, rolled back;
* ``tenants.billing.monthly_run.run_monthly`` for that month: batches of organizations, one
  transaction each (lock, group by day, numbered invoices, lines, ledger entries, audit,
  debts, progress);
* a second run, which must find nothing left to invoice.

Checks the run issued one invoice per organization with as many lines as the baseline has
rows; prints one line per figure and exits 1 when the run takes more than 3x the baseline
(or the check fails). The seeded organizations have no owner and no billing email, so no
emails are queued. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MAX_RATIO = 3.0


def seed(n_orgs: int, n_charges: int, period: str) -> str:
    """One reseller, N postpaid organizations, M charges in ``period``; the reseller's id.

    PostgreSQL only (generate_series); also used by tests/billing/test_concurrency.py."""
    from sqlalchemy import insert, text

    from tenants.billing.periods import period_bounds
    from tenants.core.extensions import db
    from tenants.core.types import new_id, utcnow
    from tenants.models import Organization, PriceListEntry, Reseller, TaxRate

    tag = uuid.uuid4().hex[:8]
    reseller = Reseller(name=f"Invoice bench {tag}", slug=f"bench-{tag}")
    db.session.add(reseller)
    db.session.flush()
    db.session.add(
        PriceListEntry(
            reseller_id=reseller.id,
            currency="EUR",
            prepaid_unit_price=Decimal("0.045"),
            postpaid_unit_price=Decimal("0.05"),
        )
    )
    db.session.add(TaxRate(reseller_id=reseller.id, country="ES", percent=Decimal("21")))
    now = utcnow()
    rows = [
        {
            "id": new_id("org"),
            "reseller_id": reseller.id,
            "name": f"Postpaid {tag} {i:06d}",
            "search_name": f"postpaid {tag} {i:06d}",
            "search_text": f"postpaid {tag} {i:06d}\n",
            "country": "ES",
            "currency": "EUR",
            "timezone": "Europe/Madrid",
            "pricing_model": "postpaid",
            "credit_limit": Decimal("1000000"),
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n_orgs)
    ]
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(Organization), rows[start : start + 5000])
    db.session.commit()

    start, end = period_bounds(period, "Europe/Madrid")
    seconds = int((end - start).total_seconds())
    params = {"r": reseller.id, "n": n_orgs, "m": n_charges, "start": start, "span": seconds}
    db.session.execute(
        text(
            """
            INSERT INTO charges (id, reseller_id, organization_id, member_id, credits,
                                 unit_price, amount, currency, reference, occurred_at,
                                 created_at)
            SELECT 'chg_' || substr(md5(:r), 1, 18) || lpad(to_hex(g), 8, '0'), :r, o.id,
                   NULL, c.credits, 0.05,
                   c.credits * 0.05, 'EUR', 'bench-' || g,
                   :start + make_interval(secs => (g::bigint * 7919) % :span), now()
            FROM generate_series(0, :m - 1) AS g
            JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k
                  FROM organizations WHERE reseller_id = :r) AS o ON o.k = g % :n
            CROSS JOIN LATERAL (SELECT 1 + (g % 5) AS credits) AS c
            """
        ),
        params,
    )
    db.session.execute(
        text(
            """
            INSERT INTO postpaid_accounts (organization_id, reseller_id, unbilled,
                unbilled_credits, invoiced_unpaid, paid_ahead, closed_period, updated_at)
            SELECT c.organization_id, c.reseller_id, sum(c.amount), sum(c.credits), 0, 0, '',
                   now()
            FROM charges c WHERE c.reseller_id = :r GROUP BY c.organization_id, c.reseller_id
            """
        ),
        {"r": reseller.id},
    )
    db.session.execute(
        text(
            """
            UPDATE organizations o SET debt = a.unbilled
            FROM postpaid_accounts a
            WHERE a.organization_id = o.id AND o.reseller_id = :r
            """
        ),
        {"r": reseller.id},
    )
    db.session.commit()
    return reseller.id


BASELINE = """
    INSERT INTO bench_lines
    SELECT c.organization_id, (c.occurred_at AT TIME ZONE o.timezone)::date,
           c.unit_price, sum(c.credits), sum(c.amount)
    FROM charges c JOIN organizations o ON o.id = c.organization_id
    WHERE c.reseller_id = :r
    GROUP BY 1, 2, 3
"""


def baseline(reseller_id: str) -> tuple[float, int]:
    """Seconds for one INSERT … SELECT … GROUP BY of the charges into per-day lines (rolled
    back), and how many lines."""
    from sqlalchemy import text

    from tenants.core.extensions import db

    db.session.execute(
        text(
            "CREATE TEMP TABLE bench_lines (organization_id text, day date, "
            "unit_price numeric, quantity bigint, amount numeric)"
        )
    )
    started = time.perf_counter()
    lines = db.session.execute(text(BASELINE), {"r": reseller_id}).rowcount
    elapsed = time.perf_counter() - started
    db.session.rollback()
    return elapsed, lines


def _time_statements(engine) -> dict[str, list[float]]:
    """Listen to the engine: the client-side time of each statement (sent, executed on the
    server, result read), keyed by its first words."""
    from sqlalchemy import event

    timings: dict[str, list[float]] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["b4_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        elapsed = time.perf_counter() - conn.info.pop("b4_started")
        key = " ".join(statement.split())[:70]
        timings.setdefault(key, []).append(elapsed)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    return timings


def _print_timings(timings: dict[str, list[float]], elapsed: float) -> None:
    total = sum(sum(values) for values in timings.values())
    print(f"statements: {total:.2f} s of {elapsed:.2f} s (the rest: Python and commits)")
    ranked = sorted(timings.items(), key=lambda item: -sum(item[1]))
    for key, values in ranked[:15]:
        print(f"  {sum(values):6.2f} s  x{len(values):<5} {key}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--charges", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=None, help="default: BATCH_SIZE")
    parser.add_argument(
        "--profile", action="store_true", help="time the run's statements, grouped by kind"
    )
    args = parser.parse_args()
    os.environ.setdefault("SECRET_KEY", "bench")

    from sqlalchemy import func, select

    from app import create_app
    from bench._harness import fresh_database
    from bench._report import figure
    from tenants.billing import monthly_run, periods
    from tenants.core.extensions import db
    from tenants.models import Invoice

    batch_size = args.batch_size or monthly_run.BATCH_SIZE
    failed = False
    with fresh_database("bench_b4") as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
        with app.app_context():
            db.create_all()
            period = periods.last_ended_period()
            started = time.perf_counter()
            reseller_id = seed(args.orgs, args.charges, period)
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
                # The seeding's ~500 MB of WAL leaves checkpoints pending or running (one every
                # 20-30 s): done now, so none of them writes beside the measured statements.
                conn.exec_driver_sql("CHECKPOINT")
            print(
                f"seeded {args.orgs:,} orgs, {args.charges:,} charges in {period}: "
                f"{time.perf_counter() - started:.0f} s; {os.cpu_count()} cores"
            )
            runs = [baseline(reseller_id) for _ in range(3)]
            base, base_lines = min(runs)
            print(
                f"baseline  INSERT … SELECT … GROUP BY  {base:7.2f} s  ({base_lines:,} lines; "
                f"runs {', '.join(f'{s:.2f}' for s, _n in runs)} s)"
            )
            timings = _time_statements(db.engine) if args.profile else None
            started = time.perf_counter()
            result = monthly_run.run_monthly(period, batch_size=batch_size)
            elapsed = time.perf_counter() - started
            if timings is not None:
                _print_timings(timings, elapsed)
            invoices, lines = db.session.execute(
                select(func.count(Invoice.id), func.sum(func.jsonb_array_length(Invoice.lines)))
            ).one()
            db.session.rollback()
            print(
                f"run_monthly (batches of {batch_size:,})  {elapsed:7.2f} s  "
                f"({result.invoiced:,} invoiced, {result.skipped:,} skipped, "
                f"{result.failed:,} failed; {invoices:,} invoices, {lines:,} lines; "
                f"{elapsed / max(result.invoiced, 1) * 1000:.2f} ms per invoice)"
            )
            correct = (
                result.invoiced == invoices == args.orgs
                and lines == base_lines
                and result.failed == 0
            )
            ratio = elapsed / base
            print(
                f"ratio {ratio:5.2f}x the baseline (≤ {MAX_RATIO:.0f}x: "
                f"{'met' if ratio <= MAX_RATIO else 'MISSED'}); contents "
                f"{'check passed' if correct else 'CHECK FAILED'}"
            )
            failed |= ratio > MAX_RATIO or not correct
            figure(
                "B4",
                "monthly invoice run",
                round(elapsed, 2),
                "s",
                f"≤ {MAX_RATIO:.0f}x one INSERT … SELECT … GROUP BY, contents checked",
                ratio <= MAX_RATIO and correct,
                baseline=round(base, 2),
                ratio=round(ratio, 2),
            )
            started = time.perf_counter()
            again = monthly_run.run_monthly(period, batch_size=batch_size)
            print(
                f"second run (nothing left)  {time.perf_counter() - started:7.2f} s  "
                f"({again.invoiced} invoiced)"
            )
            failed |= again.invoiced != 0
            db.session.remove()
            db.engine.dispose()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
