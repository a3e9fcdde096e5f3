"""B6's cost per batch request, measured in one process (steadier than wrk on 2 cores).

    .venv/bin/python bench/b6_profile.py [--requests 20] [--spy out.txt|out.svg]

Seeds bench/b1_usage.py's database (1,000 prepaid organizations, a reseller key), then
sends ``POST /api/v1/usage`` requests of 1,000 events (1 credit each, a new reference each,
organizations drawn at random, as bench/b6_batch.py's wrk script does) through the app's
WSGI test client with the bench's settings, and prints per request: wall and CPU time of
this process, each statement's client-side time (sent, executed, read; the five largest
by total), COPY included, and the HOT share of the updates of the tables a batch rewrites
(``pg_stat_user_tables``: a non-HOT update adds an entry to every index of its table).
``--spy`` records a py-spy profile of the measured loop (py-spy installed in the venv; not a
project dependency).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench._harness import fresh_database, in_process_app, py_spy
from bench.b1_usage import seed

EVENTS = 1000
TABLES = ("organizations", "credit_accounts", "usage_days", "usage_references")


def _hot(url: str) -> dict[str, tuple[int, int]]:
    """{table: (updates, HOT updates)} so far."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        rows = conn.execute(
            "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
            " WHERE relname = ANY(%s)",
            [list(TABLES)],
        ).fetchall()
    return {name: (updates, hot) for name, updates, hot in rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--warm-up", type=int, default=5)
    parser.add_argument("--spy", help="py-spy profile of the measured loop: .svg or .txt")
    parser.add_argument(
        "--wall", action="store_true", help="--spy samples waits too (wall time), not only CPU"
    )
    args = parser.parse_args()
    with fresh_database("bench_b6p") as url:
        org_ids, _accounts, secret = seed(url)
        from sqlalchemy import event

        from tenants.core.extensions import db

        app = in_process_app(url, "b6-profile")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        run, rng = uuid.uuid4().hex[:8], random.Random(6)
        timings: dict[str, list[float]] = {}
        measuring = [False]

        def request(n: int) -> None:
            events = [
                {
                    "organization_id": rng.choice(org_ids),
                    "credits": 1,
                    "reference": f"b6p-{run}-{n}-{i}",
                }
                for i in range(EVENTS)
            ]
            body = json.dumps({"events": events})
            response = client.post("/api/v1/usage", data=body, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            assert response.get_json()["accepted"] == EVENTS

        def before(conn, cursor, statement, parameters, context, executemany):
            conn.info["b6p_started"] = time.perf_counter()

        held: list[float] = []  # from the holding accounts' lock to the commit

        def after(conn, cursor, statement, parameters, context, executemany):
            elapsed = time.perf_counter() - conn.info.pop("b6p_started")
            # The batch's turn (ledger_many.queue_batch), else its accounts' lock.
            turn = "pg_advisory_xact_lock" in statement or "FOR NO KEY UPDATE" in statement
            if turn and "b6p_locked" not in conn.info:
                conn.info["b6p_locked"] = time.perf_counter()
            if measuring[0]:
                key = " ".join(statement.split())[:90]
                timings.setdefault(key, []).append(elapsed)

        def committed(conn):
            locked = conn.info.pop("b6p_locked", None)
            if measuring[0] and locked is not None:
                held.append(time.perf_counter() - locked)

        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", before)
            event.listen(db.engine, "after_cursor_execute", after)
            event.listen(db.engine, "commit", committed)
        for n in range(args.warm_up):
            request(-n - 1)
        hot_before = _hot(url)
        with py_spy(args.spy, wall=args.wall):
            measuring[0] = True
            cpu, wall = time.process_time(), time.perf_counter()
            for n in range(args.requests):
                request(n)
            cpu = (time.process_time() - cpu) / args.requests * 1000
            wall = (time.perf_counter() - wall) / args.requests * 1000
            measuring[0] = False
        hot_after = _hot(url)
        statements = sum(len(v) for v in timings.values()) / args.requests
        total = sum(sum(v) for v in timings.values()) / args.requests * 1000
        print(
            f"a request of {EVENTS:,} events: {wall:.1f} ms wall, {cpu:.1f} ms CPU of this "
            f"process; {statements:.1f} statements, {total:.1f} ms in them"
        )
        if held:
            print(
                f"  the batch's turn {sum(held) / len(held) * 1000:.1f} ms a request (from its"
                " advisory lock, or its accounts' SELECT … FOR NO KEY UPDATE, to the commit)"
            )
        for key, values in sorted(timings.items(), key=lambda item: -sum(item[1]))[:8]:
            per = sum(values) / args.requests * 1000
            print(f"  {per:7.1f} ms  x{len(values) / args.requests:<4.1f} {key}")
        for table in TABLES:
            updates = hot_after[table][0] - hot_before[table][0]
            hot = hot_after[table][1] - hot_before[table][1]
            share = f"{hot / updates:.0%}" if updates else "-"
            print(f"  {table}: {updates:,} updates, {hot:,} HOT ({share})")
        with app.app_context():
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
