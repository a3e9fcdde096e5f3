"""B7 (worker memory part): 600 receipt emails with their PDF through a real ``flask jobs worker``.

    .venv/bin/python bench/b7_worker_memory.py [--receipts 600]

Runs the same work twice in one go, on a throw-away SQLite file and BENCH_REDIS_URL (a queue
of its own): 600 paid purchases, each queueing its receipt email (PDF rendered by WeasyPrint),
then ``flask jobs worker --burst``

* **baseline**: WORKER_MAX_JOBS=0 and WORKER_MAX_RSS_MB=0 — one in-process SimpleWorker;
* **recycled**: the defaults (a forked child replaced every 100 jobs or above 400 MB).

It prints, every 50 receipts, the resident memory of the worker's process tree (parent and
children, from /proc), the growth from the 50th receipt and the jobs per second. Exits 1
when the recycled worker's tree leaves ±50 MB of its level at the 50th receipt.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import REDIS_URL, ROOT
from bench._report import figure

STEP = 50
TOLERANCE_MB = 50
GOOD_CARD = "4242 4242 4242 4242"


def seed(app, receipts: int) -> None:
    """A priced reseller, a prepaid organization with a billing email, ``receipts`` paid
    purchases (each queues its receipt job, handed to Redis on commit)."""
    from tenants.access.actors import SYSTEM
    from tenants.core.extensions import db
    from tenants.credits import purchases
    from tenants.jobs.outbox import commit
    from tenants.organizations.operations import NewOrganization, create_organization
    from tenants.resellers.operations import create_reseller
    from tenants.wholesale.operations import add_lot
    from tests.conftest import owner_actor, set_prices

    with app.app_context():
        db.create_all()
        reseller = create_reseller(SYSTEM, f"Bench {uuid.uuid4().hex[:6]}")
        # Its wholesale pool: the credits its customers buy come out of it.
        add_lot(SYSTEM, reseller, credits=10**9, unit_cost=0, currency="EUR", opening_balance=True)
        commit()
        set_prices(reseller)
        org = create_organization(
            SYSTEM,
            reseller,
            NewOrganization(
                name="Acme",
                country="ES",
                pricing_model="prepaid",
                owner_name="Owner Person",
                owner_email="owner@acme.example",
            ),
        )
        commit()
        actor = owner_actor(org)
        for _ in range(receipts):
            purchase = purchases.start_purchase(
                actor, org, credit_count=100, account="system", payment_method="sandbox"
            )
            purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
            commit()
        db.session.remove()
        db.engine.dispose()


def run(receipts: int, recycle: bool) -> list[tuple[int, float, float]]:
    """(receipts done, peak tree RSS MB, seconds) per STEP receipts of one worker run."""
    from app import create_app
    from tenants.jobs.recycle import tree_rss_mb

    work = Path(tempfile.mkdtemp(prefix="b7-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
        "REDIS_URL": REDIS_URL,
        "RQ_QUEUE": f"b7-{uuid.uuid4().hex[:8]}",
        "OUTBOX_DIR": str(work / "outbox"),
        "SECRET_KEY": "bench",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "JOB_RETRY_INTERVALS": "0",
    }
    env.pop("MAIL_SERVER", None)
    limits = ("100", "400") if recycle else ("0", "0")
    env.update(WORKER_MAX_JOBS=limits[0], WORKER_MAX_RSS_MB=limits[1])
    os.environ.update(env)  # the seeding app below reads the same database and queue
    seed(create_app(), receipts)
    outbox = work / "outbox"
    before = len(list(outbox.glob("*.eml")))
    with (work / "worker.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "jobs", "worker", "--burst"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    started, peaks = time.monotonic(), {}
    while proc.poll() is None:  # the peak of each STEP receipts: a recycle dips, briefly
        done = len(list(outbox.glob("*.eml"))) - before
        rss = tree_rss_mb(proc.pid)
        if 0 < done < receipts:
            window = done // STEP
            seconds = time.monotonic() - started
            peak = max(peaks.get(window, (0, 0.0, 0.0))[1], rss)
            peaks[window] = (done, peak, seconds)
        time.sleep(0.1)
    figures = [peaks[w] for w in sorted(peaks) if w >= 1]  # from the STEP-th receipt on
    if proc.returncode != 0:
        raise SystemExit((work / "worker.log").read_text()[-3000:])
    return figures


def report(name: str, figures: list[tuple[int, float, float]]) -> float:
    """Print the figures; the largest distance from the level at the first step, in MB."""
    level = figures[0][1]
    print(f"\n{name}: receipts, peak tree RSS (MB), growth from the first line (MB), jobs/s")
    for done, rss, seconds in figures:
        print(f"  {done:5d}  {rss:7.0f}  {rss - level:+6.0f}  {done / seconds:6.1f}")
    return max(abs(rss - level) for _, rss, _ in figures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=600)
    args = parser.parse_args()
    baseline = report("baseline (SimpleWorker)", run(args.receipts, recycle=False))
    recycled = report("recycled (WORKER_MAX_JOBS=100)", run(args.receipts, recycle=True))
    print(f"\nlargest distance from the level: baseline {baseline:.0f} MB, recycled {recycled:.0f}")
    met = figure(
        "B7",
        "worker RSS drift over receipts (recycling worker)",
        recycled,
        "MB",
        f"≤ {TOLERANCE_MB} MB",
        recycled <= TOLERANCE_MB,
        baseline=baseline,
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
