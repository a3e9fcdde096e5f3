"""Exactly once under concurrency (PostgreSQL): two runs at once, a SIGKILLed run, usage
racing for the credit limit, one usage reference sent by many at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tenants.access.actors import SYSTEM
from tenants.billing import monthly_run, periods, postpaid
from tenants.billing.usage import record_usage
from tenants.core.errors import InsufficientCredits
from tenants.core.extensions import db
from tenants.credits import ledger
from tenants.jobs.outbox import commit
from tenants.models import BillingRun, Charge, Invoice, InvoiceKind, Organization
from tests.billing.conftest import use
from tests.conftest import new_reference
from tests.credits.conftest import fund

pytestmark = pytest.mark.postgres_only
ROOT = Path(__file__).resolve().parents[2]


def invoice_rows():
    db.session.rollback()
    return db.session.execute(
        select(Invoice.organization_id, Invoice.period, Invoice.sequence)
        .where(Invoice.kind == InvoiceKind.INVOICE)
        .order_by(Invoice.sequence)
    ).all()


def assert_exactly_once(org_ids, period):
    rows = invoice_rows()
    assert sorted(r.organization_id for r in rows) == sorted(org_ids)
    assert {r.period for r in rows} == {period}
    assert [r.sequence for r in rows] == list(range(1, len(org_ids) + 1))  # no gaps


def in_threads(app, count, target):
    db.session.rollback()  # the threads never touch this thread's session or its objects
    errors = []
    barrier = threading.Barrier(count)

    def work(index):
        with app.app_context():
            try:
                barrier.wait()
                target(index)
            except Exception as error:  # reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)  # generous: a loaded CI machine is slow
    return errors


def test_two_runs_at_once_invoice_each_organization_once(app, clock, create_postpaid):
    orgs = [create_postpaid() for _ in range(12)]
    for org in orgs:
        use(org, 10, at=datetime(2026, 10, 26, tzinfo=UTC))
    results = []

    def run(_index):
        results.append(monthly_run.run_monthly("2026-10", now=clock.now))

    assert in_threads(app, 3, run) == []
    assert sum(r.invoiced for r in results) == 12
    assert sum(r.failed for r in results) == 0
    assert_exactly_once([o.id for o in orgs], "2026-10")


def test_two_runs_at_once_in_batches_on_two_connections_each_invoice_once(
    app, clock, create_postpaid
):
    # 4 batches a run, each run preparing them on two connections: four transactions at
    # once lock the same postpaid rows and the same reseller's numbers, and never deadlock.
    orgs = [create_postpaid() for _ in range(8)]
    for org in orgs:
        use(org, 10, at=datetime(2026, 10, 26, tzinfo=UTC))
    results = []

    def run(_index):
        results.append(monthly_run.run_monthly("2026-10", now=clock.now, batch_size=2))

    assert in_threads(app, 2, run) == []
    assert sum(r.invoiced for r in results) == 8
    assert sum(r.failed for r in results) == 0
    assert_exactly_once([o.id for o in orgs], "2026-10")


def test_concurrent_usage_never_passes_the_credit_limit(app, clock, create_postpaid):
    org = create_postpaid(limit="12.10")  # 200 credits at 0.05 and their 21 % tax
    org_id = org.id
    refused = []

    def send(_index):
        from tenants.access.actors import SYSTEM
        from tenants.billing.usage import record_usage
        from tenants.jobs.outbox import commit, rollback

        mine = db.session.get(Organization, org_id)
        for _ in range(15):
            try:
                record_usage(SYSTEM, mine, credits=3, reference=new_reference())
                commit()
            except InsufficientCredits:
                rollback()
                refused.append(1)

    assert in_threads(app, 8, send) == []
    db.session.rollback()
    used = db.session.scalar(select(func.sum(Charge.credits)))
    assert used == 198 and refused  # 66 of the 120 attempts fit under the limit
    assert postpaid.organization_debt(org) == Decimal("11.979")  # 9.90 and 2.079 of tax
    assert db.session.get(Organization, org.id, populate_existing=True).debt == Decimal("11.979")


@pytest.mark.parametrize("pricing_model", ["prepaid", "postpaid"])
def test_the_same_reference_from_16_threads_is_charged_once(
    app, clock, create_postpaid, create_organization, reseller, pricing_model
):
    """Every thread answers with the one entry; the unique index, not a lookup, decides."""
    if pricing_model == "postpaid":
        org = create_postpaid(limit="1000")
    else:
        org = create_organization(reseller=reseller)
        fund(org, 1000)
    org_id = org.id
    answers = []

    def send(_index):
        mine = db.session.get(Organization, org_id)
        recorded = record_usage(SYSTEM, mine, credits=10, reference="race")
        commit()
        answers.append((recorded.entry.id, recorded.duplicate))

    assert in_threads(app, 16, send) == []
    assert len({entry_id for entry_id, _ in answers}) == 1
    assert sorted(duplicate for _, duplicate in answers) == [False] + [True] * 15
    db.session.rollback()
    if pricing_model == "postpaid":
        assert db.session.scalar(select(func.count()).select_from(Charge)) == 1
        assert postpaid.organization_debt(org) == Decimal("0.605")  # 10 x €0.05 + 21 %
    else:
        assert ledger.balance(org).system_credits == 990


def seed_with_owners_skipped(count, period):
    """Many postpaid organizations with charges in ``period``, seeded in bulk (no emails)."""
    from bench.b4_invoices import seed

    reseller_id = seed(count, count * 3, period)
    return list(
        db.session.scalars(select(Organization.id).where(Organization.reseller_id == reseller_id))
    )


def flask_run(database_url, *args):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test",
        "REDIS_URL": "",
        "MAIL_SERVER": "",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "billing", "run-monthly", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_run_killed_mid_way_completes_on_the_next_run(app, database_url):
    """Killed after its first batch committed: the next run issues the rest, once each."""
    period = periods.last_ended_period()  # what the CLI invoices by default, today
    count = 2 * monthly_run.BATCH_SIZE + monthly_run.BATCH_SIZE // 2  # three batches
    org_ids = seed_with_owners_skipped(count, period)

    killed = flask_run(database_url, "--period", period)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and killed.poll() is None:
        if len(invoice_rows()) >= 5:
            break
        time.sleep(0.01)
    assert killed.poll() is None, "the run ended before it could be killed"
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=10)
    halfway = len(invoice_rows())
    assert 5 <= halfway < count
    assert halfway % monthly_run.BATCH_SIZE == 0  # whole batches: nothing half-done

    again = flask_run(database_url, "--period", period)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert f"{count - halfway} invoiced" in out
    assert_exactly_once(org_ids, period)
    runs = db.session.scalars(select(BillingRun).order_by(BillingRun.started_at)).all()
    assert [r.status for r in runs] == ["running", "finished"]  # the killed one shows so
    assert runs[0].progress == halfway  # its progress was saved with each batch
