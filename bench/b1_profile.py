"""B1's cost per request, measured in one process (steadier than wrk on a shared machine).

    .venv/bin/python bench/b1_profile.py [--requests 2000] [--spy out.svg]

Seeds bench/b1_usage.py's database (1,000 prepaid organizations, a reseller key), then
sends ``POST /api/v1/organizations/{id}/usage`` through the app's WSGI test client with the
bench's settings (Redis rate limiting on) and the floor's endpoint the same way, and prints
for each the CPU time of this process per request, the database statements (with BEGIN and
COMMIT) and the Redis commands per request. ``--spy`` records a py-spy flame graph of the
portal's loop (py-spy installed in the venv; not a project dependency).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench._harness import fresh_database, in_process_app, py_spy
from bench.b1_usage import seed


def _count_redis(counter: list[int]) -> None:
    from redis.connection import Connection

    original = Connection.send_packed_command

    def send(self, command, check_health=True):
        counter[0] += 1
        return original(self, command, check_health)

    Connection.send_packed_command = send


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--spy", help="write a py-spy profile of the portal loop: .svg, or .txt (collapsed)"
    )
    args = parser.parse_args()
    with fresh_database("bench_b1p") as url:
        org_ids, account_ids, secret = seed(url)
        from sqlalchemy import event

        from tenants.core.extensions import db

        app = in_process_app(url, "b1-profile")
        redis_sent = [0]
        _count_redis(redis_sent)
        statements = [0]
        client = app.test_client()
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        run = uuid.uuid4().hex[:8]

        def portal(i: int, org: str | None = None) -> None:
            org = org or random.choice(org_ids)
            response = client.post(
                f"/api/v1/organizations/{org}/usage",
                data=f'{{"credits":1,"reference":"p-{run}-{i}"}}',
                headers=headers,
            )
            assert response.status_code == 201, response.get_data(as_text=True)

        import floor_app

        floor_client = floor_app.app.test_client()

        def floor(i: int) -> None:
            acc = random.choice(account_ids)
            response = floor_client.post(
                f"/accounts/{acc}/usage",
                data=f'{{"credits":1,"reference":"f-{run}-{i}"}}',
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 201

        with app.app_context():
            event.listen(
                db.engine,
                "before_cursor_execute",
                lambda *a: statements.__setitem__(0, statements[0] + 1),
            )
            event.listen(
                db.engine, "begin", lambda *a: statements.__setitem__(0, statements[0] + 1)
            )
            event.listen(
                db.engine, "commit", lambda *a: statements.__setitem__(0, statements[0] + 1)
            )
        # Warm up both; the portal once on every organization: an organization's first usage
        # of the day slides its forecast window (one more statement, once a day), which 2,000
        # requests over 1,000 organizations would otherwise pay about 900 times.
        for i, org in enumerate(org_ids):
            portal(-i - 1, org)
        for i in range(200):
            floor(-i - 1)
        with py_spy(args.spy):
            statements[0] = redis_sent[0] = 0
            cpu, wall = time.process_time(), time.perf_counter()
            for i in range(args.requests):
                portal(i)
            portal_cpu = (time.process_time() - cpu) / args.requests * 1000
            portal_wall = (time.perf_counter() - wall) / args.requests * 1000
            portal_db, portal_redis = statements[0] / args.requests, redis_sent[0] / args.requests
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(args.requests):
            floor(i)
        floor_cpu = (time.process_time() - cpu) / args.requests * 1000
        floor_wall = (time.perf_counter() - wall) / args.requests * 1000
        print(
            f"portal: {portal_cpu:.2f} ms CPU, {portal_wall:.2f} ms wall per request; "
            f"{portal_db:.2f} DB statements (with BEGIN, COMMIT), "
            f"{portal_redis:.2f} Redis commands"
        )
        print(f"floor:  {floor_cpu:.2f} ms CPU, {floor_wall:.2f} ms wall per request")
        print(f"CPU ratio floor/portal {floor_cpu / portal_cpu:.1%}")
        with app.app_context():
            db.engine.dispose()
        floor_app._conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
