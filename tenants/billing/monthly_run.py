"""The monthly invoice run: every postpaid organization's ended months, batch by batch.

The monthly run (``run_monthly``) is the one place that commits on its own: organizations
are invoiced in batches (``BATCH_SIZE``), one short transaction each, with set-based
statements (see tenants.billing.monthly_batch), so a crash loses at most the batch in
progress and a re-run completes the rest; the account row locks (taken in id order) and
the unique (organization, period) index make a second run or a second worker issue nothing
twice, and the invoice numbers are taken inside that transaction (a rollback gives them
back: numbers never skip). On PostgreSQL the batches are prepared on
BILLING_RUN_CONNECTIONS connections side by side (each its own transaction: locks,
grouping, money moved) and issued in their order (``_Turns``): a batch takes its numbers,
writes its invoices and commits once the batch before it has, so the numbers follow the
organizations' order and are held only by the batch whose turn it is. A batch that fails is
retried one organization at a time in its turn, so one organization's failure fails only
itself. A month without charges gets no invoice (no zero invoices).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from tenants.billing.monthly_batch import _Batch, _invoice_batch, _issue_batch, _prepare_batch
from tenants.billing.periods import (
    last_ended_period,
    parse_period,
    period_bounds,
    previous_period,
    require_ended,
)
from tenants.core.errors import PeriodNotEnded
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs import outbox as queue
from tenants.jobs.registry import job
from tenants.models import (
    BillingRun,
    BillingRunStatus,
    Invoice,
    Organization,
    OrganizationStatus,
    PostpaidAccount,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 1000  # organizations per transaction of the monthly run

CATCH_UP_MONTHS = 3


@dataclass(frozen=True)
class RunResult:
    invoiced: int
    skipped: int
    failed: int
    run_id: str | None = None


def _candidates(period: str) -> list[str]:
    """Organizations with usage not yet invoiced and the period not yet closed; never a
    deleted one (its close-out left nothing to invoice)."""
    return list(
        db.session.scalars(
            select(PostpaidAccount.organization_id)
            .join(Organization, Organization.id == PostpaidAccount.organization_id)
            .where(
                PostpaidAccount.closed_period < period,
                PostpaidAccount.unbilled_credits > 0,
                Organization.status != OrganizationStatus.DELETED,
            )
            .order_by(PostpaidAccount.organization_id)
        )
    )


@dataclass
class _Tally:
    invoiced: int = 0
    skipped: int = 0
    failed: int = 0
    last_error: str | None = None


class _Turns:
    """The order in which the batches are issued: batch ``k`` takes its turn once batch
    ``k - 1`` is committed or given up, so the invoice numbers follow the organizations'
    order whatever connection prepared them, and a batch holds its reseller's numbers
    (locked until its commit) only while the batches before it hold none."""

    def __init__(self) -> None:
        self._next = 0
        self._changed = threading.Condition()

    @contextmanager
    def turn(self, index: int) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self._next == index)
        try:
            yield
        finally:
            with self._changed:
                self._next += 1
                self._changed.notify_all()


def _prepare(
    org_ids: list[str], period: str, now: datetime
) -> tuple[_Batch | None, Exception | None]:
    """A batch prepared in a transaction of its own (left open), or why it failed."""
    try:
        return _prepare_batch(org_ids, period, now), None
    except Exception as error:
        return None, error


def _finish(
    prepared: tuple[_Batch | None, Exception | None],
    org_ids: list[str],
    period: str,
    now: datetime,
    tally: _Tally,
    job_ids: list[str],
    save,
) -> bool:
    """The batch ``prepared`` numbered, written and committed with its progress (True); when
    it failed, each of its organizations on its own, so one organization's failure fails
    only itself (False: the caller saves the progress)."""
    batch, failure = prepared
    if failure is None:
        try:
            issued = _issue_batch(batch)
            count = sum(len(issued.get(org_id, [])) for org_id in org_ids)
            skipped = sum(1 for org_id in org_ids if not issued.get(org_id))
            save(tally.invoiced + count, tally.skipped + skipped, tally.failed, tally.last_error)
            db.session.commit()
        except Exception as error:
            failure = error
    if failure is None:
        job_ids.extend(db.session.info.pop(queue._PENDING_KEY, []))
        tally.invoiced += count
        tally.skipped += skipped
        return True
    queue.rollback()
    if len(org_ids) > 1:
        for org_id in org_ids:
            _run_batch([org_id], period, now, tally, job_ids, lambda *_args: None)
        return False
    if isinstance(failure, IntegrityError):
        # Another worker issued it between our read and our insert: nothing to do.
        tally.skipped += 1
        return False
    log.error(
        "monthly invoice of %s for %s failed",
        org_ids[0],
        period,
        exc_info=(type(failure), failure, failure.__traceback__),
    )
    tally.failed += 1
    tally.last_error = f"{org_ids[0]}: {failure!r}"[:2000]
    return False


def _run_batch(
    org_ids: list[str], period: str, now: datetime, tally: _Tally, job_ids: list[str], save
) -> bool:
    """One transaction for the batch, its progress saved in it (True); see ``_finish``."""
    return _finish(_prepare(org_ids, period, now), org_ids, period, now, tally, job_ids, save)


def _in_parallel(count: int, connections: int, work: Callable[[int], None]) -> None:
    """``work(0)`` … ``work(count - 1)`` on ``connections`` threads, each with an app
    context of its own (so a session and a connection of its own), taking the next index
    as it is free; the first error raised again once all are done."""
    if connections <= 1:
        for index in range(count):
            work(index)
        return
    app = current_app._get_current_object()
    indexes, errors = iter(range(count)), []
    taking = threading.Lock()

    def worker() -> None:
        with app.app_context():
            try:
                while True:
                    with taking:
                        index = next(indexes, None)
                    if index is None:
                        return
                    work(index)
            except BaseException as error:  # raised again by the caller
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, name=f"billing-run-{n}") for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _connections(batches: int) -> int:
    """How many connections prepare the run's batches side by side: BILLING_RUN_CONNECTIONS
    (default 2: one batch is grouped and written while the one before it is numbered and
    committed, bench/README.md B4) on PostgreSQL when there is more than one batch; one
    elsewhere (SQLite writes one transaction at a time)."""
    if batches < 2 or db.session.get_bind().dialect.name != "postgresql":
        return 1
    return max(1, min(current_app.config.get("BILLING_RUN_CONNECTIONS", 2), batches))


def run_monthly(
    period: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    now: datetime | None = None,
    trigger: str = "manual",
    record_empty: bool = True,
    dispatch_jobs: bool = True,
    batch_size: int = BATCH_SIZE,
) -> RunResult:
    """Issue the monthly invoices of ``period`` (default: the month that just ended).

    Manages its own transactions: one per batch of ``batch_size`` organizations (see the
    module's docstring), prepared on BILLING_RUN_CONNECTIONS connections side by side
    (PostgreSQL) and issued in the organizations' order. ``progress(done, total)`` is called
    as organizations are processed.
    """
    now = now or utcnow()
    period = require_ended(period or last_ended_period(now), now)
    db.session.commit()  # the run's transactions start clean (a job's bookkeeping is kept)
    candidates = _candidates(period)
    db.session.rollback()
    if not candidates and not record_empty:
        return RunResult(0, 0, 0)
    run = BillingRun(period=period, trigger=trigger, total=len(candidates), started_at=utcnow())
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    tally = _Tally()
    job_ids: list[str] = []
    size = max(1, batch_size)
    chunks = [candidates[start : start + size] for start in range(0, len(candidates), size)]
    turns = _Turns()

    def run_chunk(index: int) -> None:
        chunk = chunks[index]
        done = index * size + len(chunk)

        def save(invoiced, skipped, failed, last_error) -> None:
            _save_progress(run_id, done, invoiced, skipped, failed, last_error, commit=False)

        try:
            prepared = _prepare(chunk, period, now)
        except BaseException:
            with turns.turn(index):  # given up: the batches after it still take theirs
                raise
        with turns.turn(index):
            if not _finish(prepared, chunk, period, now, tally, job_ids, save):
                _save_progress(
                    run_id, done, tally.invoiced, tally.skipped, tally.failed, tally.last_error
                )
            if progress:
                for count in range(index * size + 1, done + 1):
                    progress(count, len(candidates))

    _in_parallel(len(chunks), _connections(len(chunks)), run_chunk)
    _save_progress(
        run_id,
        len(candidates),
        tally.invoiced,
        tally.skipped,
        tally.failed,
        tally.last_error,
        finished=True,
    )
    if dispatch_jobs and job_ids:
        queue.dispatch(job_ids)
    return RunResult(tally.invoiced, tally.skipped, tally.failed, run_id)


def _save_progress(
    run_id, done, invoiced, skipped, failed, last_error, finished=False, commit=True
) -> None:
    values = {
        "progress": done,
        "invoiced": invoiced,
        "skipped": skipped,
        "failed": failed,
        "last_error": last_error,
    }
    if finished:
        values.update(status=BillingRunStatus.FINISHED, finished_at=utcnow())
    db.session.execute(update(BillingRun).where(BillingRun.id == run_id).values(**values))
    if commit:
        db.session.commit()


@job("run_monthly_invoices")
def run_monthly_catch_up(now: datetime | None = None) -> list[RunResult]:
    """The daily job: invoice every ended month (the last few) still missing, oldest first.

    A scheduler that was down on the 1st, or an organization whose own month ended after
    the run (a timezone behind UTC), is caught up here.
    """
    now = now or utcnow()
    last = last_ended_period(now)
    periods = [last]
    for _month in range(CATCH_UP_MONTHS - 1):
        periods.insert(0, previous_period(periods[0]))
    return [
        run_monthly(period, now=now, trigger="catch_up", record_empty=False) for period in periods
    ]


def recent_runs(limit: int = 20) -> list[BillingRun]:
    return list(
        db.session.scalars(select(BillingRun).order_by(BillingRun.started_at.desc()).limit(limit))
    )


def issue_monthly_invoice(
    org: Organization, period: str, *, now: datetime | None = None
) -> Invoice | None:
    """Invoice the organization's charges of ``period`` (its timezone); None when none.

    Months before it still open are invoiced first, each on its own invoice, so no charge
    is ever left behind. Takes the postpaid row's lock first: a second caller waits, then
    finds the month closed and returns None. A month without charges is closed without an
    invoice (no zero invoices). The monthly run's batch code with a batch of one; the
    caller commits.
    """
    period = parse_period(period)
    now = now or utcnow()
    if period_bounds(period, org.timezone)[1] > now:
        raise PeriodNotEnded()
    issued = _invoice_batch([org.id], period, now).get(org.id, [])
    debt = db.session.scalar(select(Organization.debt).where(Organization.id == org.id))
    set_committed_value(org, "debt", debt)
    for invoice_period, invoice_id in issued:
        if invoice_period == period:
            return db.session.get(Invoice, invoice_id)
    return None
