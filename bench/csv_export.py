"""Seed N credit movements in bulk into DATABASE_URL and measure the last 30 days CSV export.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \
        .venv/bin/python bench/csv_export.py 100000

Creates the tables if missing, seeds one organization with N movements of its system pool
within the last 30 days, then drains the CSV generator exactly as the streamed response
does and prints rows/s, the bytes produced, the process's peak RSS before and after
(resource.getrusage) and, in a second pass, the peak of Python allocations (tracemalloc).
Constant memory means the peak does not grow with N: compare 10,000 with 100,000.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def seed(n: int) -> str:
    """One reseller, one organization and N holding-account postings; the org's id."""
    from sqlalchemy import insert

    from tenants.core.extensions import db
    from tenants.core.types import new_id, utcnow
    from tenants.models import (
        AccountKind,
        CreditAccount,
        EntryType,
        LedgerEntry,
        Organization,
        Reseller,
    )

    reseller = Reseller(name=f"Bench {uuid.uuid4().hex[:6]}", slug=f"bench-{uuid.uuid4().hex[:8]}")
    db.session.add(reseller)
    db.session.flush()
    org = Organization(
        reseller_id=reseller.id,
        name=f"CSV bench {uuid.uuid4().hex[:6]}",
        country="ES",
        currency="EUR",
        timezone="Europe/Madrid",
        pricing_model="prepaid",
    )
    db.session.add(org)
    db.session.flush()
    account = CreditAccount(
        reseller_id=reseller.id, organization_id=org.id, kind=AccountKind.SYSTEM, member_id=""
    )
    db.session.add(account)
    db.session.commit()

    now = utcnow()
    span = timedelta(days=29)
    if db.engine.dialect.name == "postgresql":
        _seed_in_sql(db, org, account, n, now, span)
        return org.id
    balance, batch = 0, 10_000
    for start in range(0, n, batch):
        rows = []
        for i in range(start, min(n, start + batch)):
            incoming = i % 10 == 0
            credits = 1000 if incoming else -1
            balance += credits
            rows.append(
                {
                    "id": new_id("ent"),
                    "transaction_id": new_id("txn"),
                    "reseller_id": reseller.id,
                    "organization_id": org.id,
                    "account_id": account.id,
                    "account_kind": AccountKind.SYSTEM,
                    "member_id": "",
                    "type": EntryType.PURCHASE if incoming else EntryType.USAGE,
                    "credits": credits,
                    "balance_after": balance,
                    "reference": f"=bench({i})" if i % 1000 == 0 else f"sms-{i:08d}",
                    "occurred_at": now - span + span * (i / max(n, 1)),
                    "created_at": now - span + span * (i / max(n, 1)),
                }
            )
        db.session.execute(insert(LedgerEntry), rows)
        db.session.commit()
        print(f"  seeded {min(n, start + batch):,} / {n:,}", file=sys.stderr)
    return org.id


def _seed_in_sql(db, org, account, n: int, now, span) -> None:
    """The same rows as the Python loop, written by PostgreSQL (INSERT … SELECT over
    generate_series, 200,000 rows a statement): seconds instead of many minutes at 1,000,000.
    Every 10th row is a purchase of 1,000, the others a usage of 1; balance_after is the
    running sum; every 1,000th reference starts with "=" (the formula escaping)."""
    from sqlalchemy import text

    batch = 200_000
    for start in range(0, n, batch):
        db.session.execute(
            text(
                """
                INSERT INTO ledger_entries (id, transaction_id, reseller_id, organization_id,
                    account_id, account_kind, member_id, type, credits, balance_after,
                    reference, occurred_at, created_at)
                SELECT 'ent_' || lpad(to_hex(i), 26, '0'), 'txn_' || lpad(to_hex(i), 26, '0'),
                    :reseller, :org, :account, 'system', '',
                    CASE WHEN i % 10 = 0 THEN 'purchase' ELSE 'usage' END,
                    CASE WHEN i % 10 = 0 THEN 1000 ELSE -1 END,
                    (i / 10 + 1) * 1000 - ((i + 1) - (i / 10 + 1)),
                    CASE WHEN i % 1000 = 0 THEN '=bench(' || i || ')'
                         ELSE 'sms-' || lpad(i::text, 8, '0') END,
                    :first + :span * (i::float8 / :n), :first + :span * (i::float8 / :n)
                FROM generate_series(:start, :stop - 1) AS i
                """
            ),
            {
                "reseller": org.reseller_id,
                "org": org.id,
                "account": account.id,
                "first": now - span,
                "span": span,
                "n": max(n, 1),
                "start": start,
                "stop": min(n, start + batch),
            },
        )
        db.session.commit()
        print(f"  seeded {min(n, start + batch):,} / {n:,}", file=sys.stderr)


def drain(app, org_id: str) -> tuple[int, int, float]:
    """Iterate the streamed CSV body; (rows, bytes, seconds)."""
    from tenants.access.actors import SYSTEM
    from tenants.core.extensions import db
    from tenants.credits.export import movements_csv_response
    from tenants.credits.export_rows import iter_organization_rows
    from tenants.credits.movements import last_days
    from tenants.models import Organization

    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        org = db.session.get(Organization, org_id)
        response = movements_csv_response(
            iter_organization_rows(SYSTEM, org, since=last_days()), "x.csv"
        )
        started = time.perf_counter()
        size = lines = 0
        for chunk in response.response:
            size += len(chunk)
            lines += chunk.count("\n") if isinstance(chunk, str) else chunk.count(b"\n")
        elapsed = time.perf_counter() - started
        db.session.remove()
    return lines - 1, size, elapsed


def peak_rss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / (1024 if sys.platform == "darwin" else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=100_000)
    parser.add_argument("--org", help="reuse an organization seeded before (skip seeding)")
    args = parser.parse_args()

    from app import create_app
    from tenants.core.extensions import db

    url = os.environ.get("DATABASE_URL") or "sqlite:///" + str(
        Path(__file__).resolve().parent.parent / "instance" / "bench-csv.db"
    )
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
    with app.app_context():
        db.create_all()
        org_id = args.org or seed(args.rows)
        db.session.remove()

    print(f"database: {url.split('@')[-1]}")
    print(f"organization: {org_id}")
    rss_before = peak_rss_mib()
    with app.app_context():
        rows, size, seconds = drain(app, org_id)
    rss_after = peak_rss_mib()
    print(
        f"rows: {rows:,}  bytes: {size:,}  time: {seconds:.2f} s  "
        f"rate: {rows / seconds:,.0f} rows/s"
    )
    print(f"peak RSS: {rss_before:.1f} MiB before export, {rss_after:.1f} MiB after")

    tracemalloc.start()
    with app.app_context():
        drain(app, org_id)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"tracemalloc peak during export: {peak / 1024 / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
