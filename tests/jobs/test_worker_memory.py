"""Bounded worker memory (issue 15): a real ``flask jobs worker`` emailing hundreds of receipts
with their PDF keeps the resident memory of its process tree flat — its RQ worker runs in a
child replaced every WORKER_MAX_JOBS jobs, which gives back what WeasyPrint leaves behind.

Before the fix (one in-process SimpleWorker) the tree grew ~0.17 MB a receipt without end
(199 → 234 MB from the 50th to the 250th receipt here). 600 receipts take 2-3 minutes on this
2-core machine, so the test runs 250 with the ±50 MB allowed over 600 scaled to them; the full
600-receipt figures, beside that baseline, come from bench/b7_worker_memory.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tenants.core.extensions import db
from tenants.credits import purchases
from tenants.jobs.outbox import commit
from tenants.jobs.recycle import tree_rss_mb
from tenants.jobs.worker import prepare_job_child
from tenants.models import QueuedJob
from tests.conftest import member_actor
from tests.jobs.conftest import ROOT, worker_env

RECEIPTS = 250  # 600 do not fit the suite's ~90 s on 2 cores: see the bench
WARM_UP = 50  # the receipts after which the worker's memory is taken as its level
WINDOW = 100  # = WORKER_MAX_JOBS below: each window holds one recycled child's peak
# ±50 MB is allowed over 600 receipts; over fewer, the same slope: before the fix the tree
# grew ~35 MB from the 50th to the 250th receipt (0.17 MB a receipt) and fails this.
TOLERANCE_MB = 50 * RECEIPTS / 600
GOOD_CARD = "4242 4242 4242 4242"


def paid_purchases(shop, count: int) -> None:
    """``count`` paid purchases of the shop's owner: each queues its receipt email."""
    actor = member_actor(shop.owner)
    for _ in range(count):
        purchase = purchases.start_purchase(
            actor, shop.org, credit_count=100, account="system", payment_method="sandbox"
        )
        purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
        commit()


def watch_worker(app, outbox: Path, log: Path, timeout: float) -> list[tuple[int, float]]:
    """Run ``flask jobs worker --burst``; (emails written, tree RSS in MB) every 0.2 s."""
    db.session.remove()
    with log.open("w") as output:  # a file, not a pipe nobody reads while it runs
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "jobs", "worker", "--burst"],
            cwd=ROOT,
            env=worker_env(app),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    samples: list[tuple[int, float]] = []
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            rss = tree_rss_mb(proc.pid)
            samples.append((len(list(outbox.glob("*.eml"))), rss))
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]
    return samples


def window_peaks(receipts: list[tuple[int, float]]) -> list[float]:
    """The highest tree RSS in each window of WINDOW receipts from WARM_UP on: the level
    memory reaches (a recycle briefly leaves only the parent, which is no level)."""
    peaks: dict[int, float] = {}
    for done, rss in receipts:
        if WARM_UP <= done < RECEIPTS:
            window = (done - WARM_UP) // WINDOW
            peaks[window] = max(peaks.get(window, 0.0), rss)
    return [peaks[w] for w in sorted(peaks)]


@pytest.mark.sqlite_run  # the worker's memory is WeasyPrint's, whatever the database: once
@pytest.mark.timeout(240)
def test_worker_memory_stays_flat_over_hundreds_of_receipts(app, shop, redis, tmp_path):
    app.config.update(WORKER_MAX_JOBS=100, WORKER_MAX_RSS_MB=400)
    started = time.monotonic()
    paid_purchases(shop, RECEIPTS)
    print(f"purchases: {time.monotonic() - started:.1f} s")
    outbox = Path(app.config["OUTBOX_DIR"])
    before = len(list(outbox.glob("*.eml")))  # the owner's invitation, written at creation

    samples = watch_worker(app, outbox, tmp_path / "worker.log", timeout=200)

    receipts = [(emails - before, rss) for emails, rss in samples if rss > 0]
    assert receipts[-1][0] >= RECEIPTS - 10, receipts[-1]  # sampled to near the end
    peaks = window_peaks(receipts)
    print(f"{RECEIPTS} receipts, tree RSS peak per {WINDOW}: {[round(p) for p in peaks]} MB")
    level = peaks[0]  # receipts WARM_UP to WARM_UP + WINDOW
    assert all(abs(peak - level) <= TOLERANCE_MB for peak in peaks), peaks
    db.session.expire_all()
    sent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(QueuedJob)
        .where(QueuedJob.name == "send_receipt", QueuedJob.finished_at.is_not(None))
    )
    assert sent == RECEIPTS
    assert len(list(outbox.glob("*.eml"))) == before + RECEIPTS


def test_the_job_child_runs_below_the_workers_cpu_priority(app):
    """B7 (issue 15): receipts rendered at the web server's priority pushed its p99 to
    290 ms on two cores; the child that runs jobs yields the CPU (WORKER_NICE), its parent
    (scheduler, relay, reaper) does not."""
    app.config["WORKER_NICE"] = 7
    parent = os.nice(0)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child leaves through os._exit
        try:
            prepare_job_child(app)
            os.write(write, str(os.nice(0)).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = int(os.read(read, 16))
    os.close(read)
    assert child == min(parent + 7, 19)
    assert os.nice(0) == parent


def test_the_worker_parent_loads_the_pdf_renderer_once_for_the_children_it_forks():
    """WeasyPrint looks some of its libraries up with ctypes' find_library, which runs gcc
    and ld. Loaded by the worker's warm-up in its parent, the children it forks render a
    PDF without starting a single process (before: eight gcc runs in every new child, each
    a copy of a 120 MB process counted in the worker's memory, and CPU taken from requests)."""
    script = """
import subprocess, sys
from app import register_jobs
from tenants.invoices import documents
from tenants.jobs.registry import WARM_UPS

register_jobs(None)
assert documents.load_pdf_renderer in WARM_UPS
if sys.argv[1] == "warm":
    for load in WARM_UPS:
        load()

def refuse(self, args, *rest, **kwargs):
    raise AssertionError(f"started a process: {args}")

subprocess.Popen._execute_child = refuse
pdf = documents.html_to_pdf("<p>Receipt</p>")
assert pdf.startswith(b"%PDF")
print("rendered without a process")
"""
    run = [sys.executable, "-c", script]
    warm = subprocess.run([*run, "warm"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert warm.returncode == 0, warm.stderr
    assert "rendered without a process" in warm.stdout
    # The check sees the lookups it guards against: without the warm-up, the first PDF starts gcc.
    cold = subprocess.run([*run, "cold"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert cold.returncode != 0 and "started a process" in cold.stderr
