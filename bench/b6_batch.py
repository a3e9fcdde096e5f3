"""B6: batch usage events/s through POST /api/v1/usage beside a batch floor.

    .venv/bin/python bench/b6_batch.py [--seconds 20] [--clients 4]

Creates a fresh PostgreSQL database, seeds 1,000 prepaid organizations in bulk (B1's seed:
each with a system pool of credits) and a reseller API key, starts the portal under
gunicorn with the README's worker count (2 x cores + 1) and drives it with wrk: 4
connections, each request 1,000 events (1 credit each, a new reference each) over
organizations drawn at random from the 1,000. The floor, measured in the same run over the
same number of connections (psycopg 3 directly, one thread and connection per client): per
batch of 1,000 events one multi-row ``INSERT … ON CONFLICT DO NOTHING`` of the events (into
``usage_references``, the claims) plus one grouped balance ``UPDATE`` of their accounts,
one transaction. One line per figure; exits 1 when a target is missed: ≥ 10,000 events/s,
≥ 50 % of the floor's events/s, p99 per request < 250 ms, every event accepted.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (
    REDIS_URL,
    ensure_wrk,
    fresh_database,
    gunicorn,
    percentile,
    recommended_workers,
    wrk,
)
from bench._report import figure
from bench.b1_usage import seed
from tenants.core.types import new_ids

EVENTS = 1000
MIN_RATE = 10_000.0
MIN_RATIO = 0.5
MAX_P99_MS = 250.0
FLOOR_DEBITS = [0]  # credits the floor took from balances (no ledger rows, no totals)

# Every event is a new usage: its reference is numbered by wrk thread, run (os.time()),
# request and position, so no event of the warm-up or the measurement is a duplicate.
LUA = """
local orgs = {}
for line in io.lines("%(orgs)s") do orgs[#orgs + 1] = line end
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
local n = 0
local run = nil
wrk.method = "POST"
wrk.path = "/api/v1/usage"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(secret)s"
request = function()
  if run == nil then run = os.time() .. "-" .. (thread_number or 0) end
  n = n + 1
  local parts = {}
  for i = 1, %(events)d do
    parts[i] = '{"organization_id":"' .. orgs[math.random(#orgs)] ..
      '","credits":1,"reference":"b6-' .. run .. '-' .. n .. '-' .. i .. '"}'
  end
  return wrk.format(nil, nil, nil, '{"events":[' .. table.concat(parts, ",") .. ']}')
end
"""

FLOOR_INSERT = (
    "INSERT INTO usage_references (organization_id, reference, reseller_id, entry_id, "
    "created_at) VALUES {values} ON CONFLICT DO NOTHING"
)
# The rows are locked in id order first (the CTE), so concurrent batches never deadlock.
FLOOR_UPDATE = (
    "WITH v(id, n) AS (VALUES {values}), locked AS (SELECT a.id FROM credit_accounts a "
    "JOIN v ON a.id = v.id ORDER BY a.id FOR NO KEY UPDATE) "
    "UPDATE credit_accounts AS a SET balance = a.balance - v.n, updated_at = now() "
    "FROM v, locked WHERE a.id = v.id AND locked.id = v.id AND a.balance >= v.n"
)


def floor(
    url: str, accounts: list[tuple[str, str]], reseller: str, clients: int, seconds: float
) -> dict:
    """``clients`` threads, each its own psycopg connection, batches of EVENTS for
    ``seconds``: events/s and the p50/p99 per batch (ms)."""
    import psycopg

    url = url.replace("postgresql+psycopg://", "postgresql://")
    insert = FLOOR_INSERT.format(values=", ".join(["(%s, %s, %s, %s, now())"] * EVENTS))
    latencies: list[float] = []
    batches = [0]
    lock = threading.Lock()
    start_at = time.monotonic() + 1.0
    stop_at = start_at + seconds

    def client(number: int) -> None:
        rng = random.Random(number)
        run = f"floor-{number}-{uuid.uuid4().hex[:6]}"
        with psycopg.connect(url) as conn:
            while time.monotonic() < start_at:
                time.sleep(0.01)
            n = 0
            while time.monotonic() < stop_at:
                n += 1
                chosen = [rng.choice(accounts) for _ in range(EVENTS)]
                ids = new_ids("ent", EVENTS)
                params: list[str] = []
                grouped: dict[str, int] = {}
                for i, (org_id, account_id) in enumerate(chosen):
                    params += [org_id, f"{run}-{n}-{i}", reseller, ids[i]]
                    grouped[account_id] = grouped.get(account_id, 0) + 1
                ordered = sorted(grouped.items())  # id order: concurrent batches never deadlock
                update = FLOOR_UPDATE.format(values=", ".join(["(%s, %s)"] * len(ordered)))
                began = time.monotonic()
                with conn.transaction():
                    conn.execute(insert, params)
                    conn.execute(update, [x for pair in ordered for x in pair])
                ended = time.monotonic()
                with lock:
                    FLOOR_DEBITS[0] += EVENTS
                if ended <= stop_at:
                    with lock:
                        latencies.append((ended - began) * 1000)
                        batches[0] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "rate": batches[0] * EVENTS / seconds,
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "bad": 0,
    }


def held_system(url: str) -> int:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute(
            "SELECT sum(balance) FROM credit_accounts WHERE kind = 'system'"
        ).fetchone()[0]


def held_total(url: str) -> int:
    """The organizations' stored totals (the floor moves balances only, not these)."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute("SELECT sum(total_credits) FROM organizations").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="per side")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    args = parser.parse_args()
    ensure_wrk()
    workers = recommended_workers()
    with fresh_database("bench_b6") as url, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        org_ids, account_ids, secret = seed(url)
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            reseller = conn.execute("SELECT reseller_id FROM organizations LIMIT 1").fetchone()[0]
        listing = tmp / "orgs.txt"
        listing.write_text("\n".join(org_ids) + "\n")
        lua = tmp / "b6.lua"
        lua.write_text(LUA % {"orgs": listing, "secret": secret, "events": EVENTS})
        env = {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": "b6-bench-" + uuid.uuid4().hex,
            "API_RATE_LIMIT": "1000000000/minute",
        }
        print(
            f"B6 batch usage: gunicorn -w {workers} (sync), {args.clients} connections, "
            f"{EVENTS} events a request over {len(org_ids)} organizations, {args.seconds} s each"
        )
        accounts = list(zip(org_ids, account_ids, strict=True))
        floor(url, accounts, reseller, args.clients, 2)  # warm up
        base = floor(url, accounts, reseller, args.clients, args.seconds)
        held_before = held_system(url)
        with gunicorn("app:create_app()", env) as port:
            target = f"http://127.0.0.1:{port}"
            # Warm up: every worker booted (lazily, each imports the app) and answering.
            wrk(target, lua, seconds=10, connections=args.clients)
            portal = wrk(target, lua, seconds=args.seconds, connections=args.clients)
        portal["rate"] *= EVENTS
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            charged, debited = conn.execute(
                "SELECT count(*), coalesce(-sum(credits), 0) FROM ledger_entries"
                " WHERE type = 'usage' AND account_kind = 'system'"
            ).fetchone()
        conserved = held_before - held_system(url) == debited
        totals = held_total(url)
        conserved &= totals == held_system(url) + FLOOR_DEBITS[0]
    for who, r in (("floor", base), ("portal", portal)):
        extra = f"   non-2xx {r['bad']}" if r["bad"] else ""
        print(f"{who:<6} events/s {r['rate']:10.1f}{extra}")
        print(f"{who:<6} p50 per request {r['p50']:8.2f} ms")
        print(f"{who:<6} p99 per request {r['p99']:8.2f} ms")
    ratio = portal["rate"] / base["rate"]
    ok_rate, ok_ratio = portal["rate"] >= MIN_RATE, ratio >= MIN_RATIO
    ok_p99, ok_answers = portal["p99"] < MAX_P99_MS, portal["bad"] == 0 and conserved
    print(f"portal usage entries {charged}, credits debited {debited}, conserved {conserved}")
    print(
        f"ratio portal/floor {ratio:6.1%}  (≥ {MIN_RATE:,.0f} events/s: "
        f"{'met' if ok_rate else 'MISSED'}; ≥ {MIN_RATIO:.0%} of floor: "
        f"{'met' if ok_ratio else 'MISSED'}; p99 < {MAX_P99_MS:.0f} ms: "
        f"{'met' if ok_p99 else 'MISSED'}{'' if ok_answers else '; NON-2XX OR NOT CONSERVED'})"
    )
    figure("B6", "events/s", portal["rate"], "events/s", f"≥ {MIN_RATE:,.0f}", ok_rate)
    figure(
        "B6",
        "events/s against the batch floor",
        portal["rate"],
        "events/s",
        f"≥ {MIN_RATIO:.0%} of the floor",
        ok_ratio,
        baseline=base["rate"],
        ratio=ratio,
    )
    figure("B6", "p99 per request", portal["p99"], "ms", f"< {MAX_P99_MS:.0f} ms", ok_p99)
    figure("B6", "answers 2xx, credits conserved", float(ok_answers), "", "all", ok_answers)
    print(json.dumps({"floor": base, "portal": portal}))
    return 0 if ok_rate and ok_ratio and ok_p99 and ok_answers else 1


if __name__ == "__main__":
    sys.exit(main())
