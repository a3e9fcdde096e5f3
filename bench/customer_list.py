"""Seed N organizations in bulk into DATABASE_URL and time the Customer app's list.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \
        .venv/bin/python bench/customer_list.py 100000

Creates the tables if missing, seeds one reseller (plus owners) with N organizations, then
prints p50/p95 of list_organizations: the first page, a deep page via cursors, a search.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORDS = "acme nova blue orbit delta prime terra lumen vertex zen atlas pixel".split()  # noqa: SIM905


def seed(n: int) -> str:
    from sqlalchemy import insert

    from tenants.core.extensions import db
    from tenants.core.types import new_id, utcnow
    from tenants.models import Member, MemberRole, Organization, Reseller, User
    from tenants.models.organizations import search_key, search_text

    reseller = Reseller(name=f"Bench {uuid.uuid4().hex[:6]}", slug=f"bench-{uuid.uuid4().hex[:8]}")
    db.session.add(reseller)
    db.session.commit()
    now = utcnow()
    batch = 5000
    for start in range(0, n, batch):
        orgs, users, members = [], [], []
        for i in range(start, min(n, start + batch)):
            name = f"{WORDS[i % len(WORDS)].title()} {WORDS[(i // 7) % len(WORDS)]} {i:06d}"
            org_id, user_id = new_id("org"), new_id("usr")
            owner_email = f"owner{i}-{reseller.slug}@example.com"
            billing = f"{name} Holdings" if i % 3 == 0 else None
            orgs.append(
                {
                    "id": org_id,
                    "reseller_id": reseller.id,
                    "name": name,
                    "search_name": search_key(name),
                    "search_text": search_text(name, billing, owner_email),
                    "owner_email": owner_email,
                    "status": "suspended" if i % 50 == 0 else "active",
                    "country": "ES",
                    "currency": "EUR",
                    "timezone": "Europe/Madrid",
                    "pricing_model": "postpaid" if i % 4 == 0 else "prepaid",
                    "billing_type": "company",
                    "billing_name": billing,
                    "total_credits": (i * 37) % 5000,
                    # Four in five used credits over the last 7 days (the forecast).
                    "forecast_usage_7d": 0 if i % 5 == 0 else (i * 13) % 2000 + 1,
                    "low_balance_threshold": 100,
                    "debt": (i % 9) if i % 4 == 0 else 0,
                    "credit_limit": 0,
                    "individual_user_credits": False,
                    "low_balance_alert": False,
                    "auto_top_up_enabled": False,
                    "auto_top_up_below": 0,
                    "auto_top_up_credits": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            users.append(
                {
                    "id": user_id,
                    "email": owner_email,
                    "name": f"Owner {i}",
                    "created_at": now,
                }
            )
            members.append(
                {
                    "id": new_id("mem"),
                    "reseller_id": reseller.id,
                    "organization_id": org_id,
                    "user_id": user_id,
                    "role": MemberRole.OWNER.value,
                    "portal_access": True,
                    "created_at": now,
                }
            )
        db.session.execute(insert(Organization), orgs)
        db.session.execute(insert(User), users)
        db.session.execute(insert(Member), members)
        db.session.commit()
        print(f"seeded {min(n, start + batch)}/{n}", end="\r", flush=True)
    print()
    if db.engine.dialect.name == "postgresql":
        # What autovacuum does within a minute of a bulk load, done now so the figures are
        # the steady state: statistics, the visibility map, and the trigram index's pending
        # list (GIN "fastupdate") merged -- until then every search reads that list whole.
        # Outside a transaction: VACUUM refuses to run in one.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) organizations, users, members")
    return reseller.id


def timed(label: str, call, runs: int) -> None:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p50 = statistics.median(samples)
    p95 = samples[max(0, round(0.95 * len(samples)) - 1)]
    print(f"{label:<40} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   ({runs} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=100_000, help="organizations to seed")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL to the database to seed (it gets N more organizations).")

    from app import create_app
    from tenants.access.actors import Actor
    from tenants.core.extensions import db
    from tenants.models import ResellerRole
    from tenants.organizations.listing import list_organizations

    app = create_app({"SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"]})
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        reseller_id = seed(args.n)
        print(f"seeding took {time.perf_counter() - started:.1f} s")
        actor = Actor(user_id=None, reseller_id=reseller_id, reseller_role=ResellerRole.ADMIN)

        def page(**kwargs):
            items, cursor = list_organizations(actor, **kwargs)
            db.session.rollback()
            return items, cursor

        # A cursor deep in the list: walk ~half of it once, page by page at limit 100.
        cursor = None
        for _ in range(min(args.n // 200, 500)):
            _items, cursor = page(limit=100, cursor=cursor)
            if cursor is None:
                break

        timed("first page (50)", lambda: page(), args.runs)
        timed("deep page via cursor (50)", lambda: page(cursor=cursor), args.runs)
        timed(
            "filtered: prepaid, low balance",
            lambda: page(pricing_model="prepaid", low_balance=True),
            args.runs,
        )
        timed(
            "filtered: has debt, suspended",
            lambda: page(has_debt=True, status="suspended"),
            args.runs,
        )
        timed("search name 'orbit zen'", lambda: page(q="orbit zen"), args.runs)
        timed("search billing 'holdings'", lambda: page(q="holdings"), args.runs)
        timed("search rare '012345'", lambda: page(q="012345"), args.runs)
        timed("search owner email 'owner4242-'", lambda: page(q="owner4242-"), args.runs)


if __name__ == "__main__":
    main()
