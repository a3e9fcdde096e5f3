"""B2: the Customer app's organization list at 1,000 and at 100,000 organizations.

    .venv/bin/python bench/b2_list.py [--runs 60]

Creates a fresh PostgreSQL database, seeds (bench/customer_list.py's bulk seeding) one
reseller with 1,000 organizations and another with 100,000, and times the service behind
the Customer app's list (tenants.organizations.listing.list_organizations, as the page calls it)
for each: the first page, a deep page via its cursor, filters and searches. Prints p50/p95
per query and size; exits 1 when a p95 is 50 ms or more or a query's p50 at 100,000 is more
than 1.5x its p50 at 1,000 (p50, not p95: at a few milliseconds p95 is mostly noise).
The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import fresh_database, percentile
from bench._report import figure
from bench.customer_list import seed

MAX_P95_MS = 50.0
MAX_GROWTH = 1.5
# Below this a ratio says nothing (a millisecond of scheduling noise is 1.5x of 2 ms).
NOISE_MS = 2.0

QUERIES = {
    "first page": {},
    "deep page (cursor)": None,  # filled with a cursor half-way through the list
    "filter prepaid + low balance": {"pricing_model": "prepaid", "low_balance": True},
    "filter has debt + suspended": {"has_debt": True, "status": "suspended"},
    "search name 'orbit zen'": {"q": "orbit zen"},
    "search common 'holdings'": {"q": "holdings"},
    "search rare '000777'": {"q": "000777"},
    "search owner email": {"q": "owner4242-"},
    "sort days left": {"sort": "days_left"},
    "sort days left, deep (cursor)": None,  # filled like the deep page, in that order
    "runs out within 7 days": {"runs_out_within": 7},
    "runs out within 7 days, by days left": {"runs_out_within": 7, "sort": "days_left"},
}


def measure(actor, runs: int) -> dict[str, tuple[float, float]]:
    from tenants.core.extensions import db
    from tenants.organizations.listing import list_organizations

    def page(**kwargs):
        items, cursor = list_organizations(actor, **kwargs)
        db.session.rollback()
        return items, cursor

    deep = {}
    for sort in ("name", "days_left"):
        cursor = None
        for _ in range(5):  # 5 x 100 = 500 rows in: deep at 1,000, and at 100,000
            _items, cursor = page(limit=100, cursor=cursor, sort=sort)
        deep[sort] = {"cursor": cursor, "sort": sort}
    results = {}
    for label, kwargs in QUERIES.items():
        if kwargs is None:
            kwargs = deep["days_left" if "days left" in label else "name"]
        page(**kwargs)  # warm
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            page(**kwargs)
            samples.append((time.perf_counter() - started) * 1000)
        results[label] = (statistics.median(samples), percentile(samples, 0.95))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()

    from app import create_app
    from tenants.access.actors import Actor
    from tenants.core.extensions import db
    from tenants.models import ResellerRole

    failed = False
    with fresh_database("bench_b2") as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
        figures = {}
        with app.app_context():
            db.create_all()
            for n in (1_000, 100_000):
                reseller_id = seed(n)
                actor = Actor(reseller_id=reseller_id, reseller_role=ResellerRole.ADMIN)
                figures[n] = measure(actor, args.runs)
            db.session.remove()
            db.engine.dispose()
    print(f"B2 Customer app list (service, PostgreSQL), {args.runs} runs each")
    for label in QUERIES:
        (p50_s, p95_s), (p50_l, p95_l) = figures[1_000][label], figures[100_000][label]
        for n, (p50, p95) in ((1_000, (p50_s, p95_s)), (100_000, (p50_l, p95_l))):
            ok = p95 < MAX_P95_MS
            failed |= not ok
            figure("B2", f"{label} p95 at {n:,}", p95, "ms", f"< {MAX_P95_MS:.0f} ms", ok)
            print(
                f"{label:<30} {n:>7,} orgs  p50 {p50:7.2f} ms  p95 {p95:7.2f} ms"
                f"  (p95 < {MAX_P95_MS:.0f} ms: {'met' if ok else 'MISSED'})"
            )
        growth = p50_l / max(p50_s, NOISE_MS)
        ok = growth <= MAX_GROWTH
        failed |= not ok
        figure(
            "B2",
            f"{label} p50 at 100,000",
            p50_l,
            "ms",
            f"≤ {MAX_GROWTH}x the p50 at 1,000",
            ok,
            baseline=p50_s,
            ratio=growth,
        )
        print(
            f"{label:<30} 100,000 vs 1,000: {growth:4.2f}x p50"
            f"  (≤ {MAX_GROWTH}x: {'met' if ok else 'MISSED'})"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
