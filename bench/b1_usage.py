"""B1: usage charges/s through POST /api/v1/organizations/{id}/usage beside a floor app.

    .venv/bin/python bench/b1_usage.py [--seconds 15]

Creates a fresh PostgreSQL database, seeds 1,000 prepaid organizations in bulk (each with a
system pool of credits) and a reseller API key, starts the portal under gunicorn with the
README's worker count (2 x cores + 1) and bench/floor_app.py under the same settings, then
drives each with wrk (16 connections, loopback) over all 1,000 organizations and over one
hot organization. One line per figure; exits 1 when a target is missed: the portal's rate
≥ 50 % of the floor's and its p99 < 50 ms. The database and the processes are removed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (
    REDIS_URL,
    ROOT,
    ensure_wrk,
    fresh_database,
    gunicorn,
    recommended_workers,
    wrk,
)
from bench._report import figure

ORGS = 1000
BALANCE = 10**12
MIN_RATIO = 0.5
MAX_P99_MS = 50.0

# Every request is a new usage: a reference is charged once per organization, so each one
# is unique across wrk's threads (``setup`` numbers them) and across runs of the same script
# (the warm-up and the measurement start seconds apart: ``os.time()``).
LUA = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
local n = 0
local run = nil
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%(auth)s
request = function()
  if run == nil then run = os.time() .. "-" .. (thread_number or 0) end
  n = n + 1
  local body = '{"credits":1,"reference":"sms-' .. run .. '-' .. n .. '"}'
  return wrk.format(nil, paths[math.random(#paths)], nil, body)
end
"""


def seed(url: str) -> tuple[list[str], list[str], str]:
    """1,000 prepaid organizations with credits; (org ids, system account ids, API key)."""
    from sqlalchemy import insert

    from app import create_app
    from tenants.access.actors import SYSTEM
    from tenants.api_keys.operations import create_api_key
    from tenants.core.extensions import db
    from tenants.core.types import new_id, utcnow
    from tenants.models import AccountKind, CreditAccount, Organization, Reseller
    from tenants.models.organizations import search_key, search_text

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
    with app.app_context():
        db.create_all()
        reseller = Reseller(name="B1 bench", slug=f"b1-{uuid.uuid4().hex[:8]}")
        db.session.add(reseller)
        db.session.commit()
        now = utcnow()
        orgs, accounts, org_ids, account_ids = [], [], [], []
        for i in range(ORGS):
            org_id = new_id("org")
            name = f"Usage bench {i:04d}"
            email = f"owner{i}@b1.example"
            orgs.append(
                {
                    "id": org_id,
                    "reseller_id": reseller.id,
                    "name": name,
                    "search_name": search_key(name),
                    "search_text": search_text(name, None, email),
                    "owner_email": email,
                    "status": "active",
                    "country": "ES",
                    "currency": "EUR",
                    "timezone": "Europe/Madrid",
                    "pricing_model": "prepaid",
                    "billing_type": "company",
                    "total_credits": BALANCE,
                    "low_balance_threshold": 100,
                    "debt": 0,
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
            for kind, balance in ((AccountKind.SYSTEM, BALANCE), (AccountKind.USAGE, 0)):
                acc_id = new_id("acc")
                accounts.append(
                    {
                        "id": acc_id,
                        "reseller_id": reseller.id,
                        "organization_id": org_id,
                        "kind": kind,
                        "member_id": "",
                        "balance": balance,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                if kind == AccountKind.SYSTEM:
                    account_ids.append(acc_id)
            org_ids.append(org_id)
        db.session.execute(insert(Organization), orgs)
        db.session.execute(insert(CreditAccount), accounts)
        _key, secret = create_api_key(SYSTEM, reseller=reseller, name="b1")
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        db.engine.dispose()
    return org_ids, account_ids, secret


def script(tmp: Path, name: str, paths: list[str], auth: str = "") -> Path:
    listing = tmp / f"{name}.txt"
    listing.write_text("\n".join(paths) + "\n")
    lua = tmp / f"{name}.lua"
    lua.write_text(LUA % {"paths": listing, "auth": auth})
    return lua


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="per scenario")
    args = parser.parse_args()
    ensure_wrk()  # before seeding: fail fast with a clear message
    workers = recommended_workers()
    failed = False
    with fresh_database("bench_b1") as url, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        org_ids, account_ids, secret = seed(url)
        auth = f'wrk.headers["Authorization"] = "Bearer {secret}"'
        scenarios = {
            "1,000 orgs": (
                script(
                    tmp, "portal-all", [f"/api/v1/organizations/{o}/usage" for o in org_ids], auth
                ),
                script(tmp, "floor-all", [f"/accounts/{a}/usage" for a in account_ids]),
            ),
            "1 hot org": (
                script(tmp, "portal-hot", [f"/api/v1/organizations/{org_ids[0]}/usage"], auth),
                script(tmp, "floor-hot", [f"/accounts/{account_ids[0]}/usage"]),
            ),
        }
        env = {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": "b1-bench-" + uuid.uuid4().hex,
            "API_RATE_LIMIT": "1000000000/minute",
        }
        print(f"B1 usage: gunicorn -w {workers} (sync), wrk 16 connections, {args.seconds} s each")
        results: dict[tuple[str, str], dict] = {}
        with (
            gunicorn("app:create_app()", env) as portal_port,
            gunicorn("floor_app:app", env, chdir=ROOT / "bench") as floor_port,
        ):
            for scenario, (portal_lua, floor_lua) in scenarios.items():
                for who, port, lua in (
                    ("floor", floor_port, floor_lua),
                    ("portal", portal_port, portal_lua),
                ):
                    wrk(f"http://127.0.0.1:{port}", lua, seconds=2)  # warm up
                    results[scenario, who] = wrk(
                        f"http://127.0.0.1:{port}", lua, seconds=args.seconds
                    )
        for scenario in scenarios:
            floor, portal = results[scenario, "floor"], results[scenario, "portal"]
            for who, r in (("floor", floor), ("portal", portal)):
                extra = f"   non-2xx {r['bad']}" if r["bad"] else ""
                print(f"{scenario:<11} {who:<6} requests/s {r['rate']:9.1f}{extra}")
                print(f"{scenario:<11} {who:<6} p50 {r['p50']:8.2f} ms")
                print(f"{scenario:<11} {who:<6} p99 {r['p99']:8.2f} ms")
            ratio = portal["rate"] / floor["rate"]
            ok_ratio, ok_p99 = ratio >= MIN_RATIO, portal["p99"] < MAX_P99_MS
            ok_answers = portal["bad"] == 0 and floor["bad"] == 0
            print(
                f"{scenario:<11} ratio portal/floor {ratio:6.1%}  "
                f"(target ≥ {MIN_RATIO:.0%}: {'met' if ok_ratio else 'MISSED'}; "
                f"p99 < {MAX_P99_MS:.0f} ms: {'met' if ok_p99 else 'MISSED'}"
                f"{'' if ok_answers else '; NON-2XX ANSWERS'})"
            )
            failed |= not (ok_ratio and ok_p99 and ok_answers)
            figure(
                "B1",
                f"{scenario} usage requests/s",
                portal["rate"],
                "req/s",
                f"≥ {MIN_RATIO:.0%} of the floor, no non-2xx",
                ok_ratio and ok_answers,
                baseline=floor["rate"],
                ratio=ratio,
            )
            figure(
                "B1",
                f"{scenario} usage p99",
                portal["p99"],
                "ms",
                f"< {MAX_P99_MS:.0f} ms",
                ok_p99,
                baseline=floor["p99"],
            )
    print(json.dumps({f"{s}/{w}": r for (s, w), r in results.items()}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
