"""Seed N postpaid organizations with M charges in bulk and time the monthly invoice run.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \
        .venv/bin/python bench/monthly_invoices.py --orgs 10000 --charges 1000000

Creates the tables if missing, seeds one reseller (EUR price, 21 % tax in Spain) with N
postpaid organizations in Europe/Madrid and M charges spread over the month that just
ended (generate_series, PostgreSQL only), then times, over the same rows:

* the baseline: ONE ``INSERT … SELECT … GROUP BY`` of the charges into per-day invoice
  lines (the least any implementation has to do), rolled back;
* ``tenants.billing.run_monthly`` for that month: one short transaction per organization
  (lock, group by day, numbered invoice, lines, ledger entry, audit, debt) — what makes a
  crash lose nothing and a second worker issue nothing twice.

The seeded organizations have no owner and no billing email, so no emails are queued.
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


def seed(n_orgs: int, n_charges: int, period: str) -> str:
    """One reseller, N postpaid organizations, M charges in ``period``; the reseller's id."""
    from sqlalchemy import insert, text

    from tenants.billing import period_bounds
    from tenants.extensions import db
    from tenants.models import Organization, PriceListEntry, Reseller, TaxRate
    from tenants.types import new_id, utcnow

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


def baseline(reseller_id: str) -> float:
    """Seconds for one INSERT … SELECT … GROUP BY of the charges into per-day lines."""
    from sqlalchemy import text

    from tenants.extensions import db

    db.session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS bench_lines (organization_id text, day date, "
            "unit_price numeric, quantity bigint, amount numeric)"
        )
    )
    started = time.perf_counter()
    db.session.execute(
        text(
            """
            INSERT INTO bench_lines
            SELECT c.organization_id, (c.occurred_at AT TIME ZONE o.timezone)::date,
                   c.unit_price, sum(c.credits), sum(c.amount)
            FROM charges c JOIN organizations o ON o.id = c.organization_id
            WHERE c.reseller_id = :r
            GROUP BY 1, 2, 3
            """
        ),
        {"r": reseller_id},
    )
    elapsed = time.perf_counter() - started
    db.session.rollback()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--charges", type=int, default=1_000_000)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (the seeding uses generate_series).")
    os.environ.setdefault("SECRET_KEY", "bench")
    from app import create_app
    from tenants import billing
    from tenants.extensions import db

    app = create_app({"REDIS_URL": None})
    with app.app_context():
        db.create_all()
        period = billing.last_ended_period()
        started = time.perf_counter()
        reseller_id = seed(args.orgs, args.charges, period)
        print(
            f"seeded {args.orgs:,} orgs, {args.charges:,} charges in {period}: "
            f"{time.perf_counter() - started:.1f} s"
        )
        base = baseline(reseller_id)
        print(f"baseline INSERT … SELECT … GROUP BY: {base:.2f} s")
        started = time.perf_counter()
        result = billing.run_monthly(period)
        elapsed = time.perf_counter() - started
        print(
            f"run_monthly: {elapsed:.2f} s — {result.invoiced:,} invoiced, "
            f"{result.skipped:,} skipped, {result.failed:,} failed "
            f"({elapsed / max(result.invoiced, 1) * 1000:.1f} ms per invoice); "
            f"{elapsed / base:.1f}x the baseline"
        )
        started = time.perf_counter()
        again = billing.run_monthly(period)
        print(
            f"second run (nothing left): {time.perf_counter() - started:.2f} s, "
            f"{again.invoiced} invoiced"
        )


if __name__ == "__main__":
    main()
