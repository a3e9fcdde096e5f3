"""Postpaid billing: usage charges under a credit limit, payments, monthly invoices.

Money a postpaid organization owes lives in one row per organization (PostpaidAccount),
changed only by conditional UPDATEs in the same transaction as the rows they summarize:

* usage adds its charge with ``UPDATE … WHERE debt + charge <= credit_limit AND the
  event's time is after the last invoiced period`` — the row lock serializes concurrent
  usage of one organization, the WHERE refuses what would pass the limit or land in an
  invoiced month;
* a monthly invoice moves its charges from ``unbilled`` to ``invoiced_unpaid`` and closes
  the period (``closed_until``) under the same lock, so a late event either lands before
  the invoice (and is on it) or is refused;
* a payment settles open invoices oldest first; beyond them it is kept as ``paid_ahead``
  and settles the next invoices (the reseller can clear this month's debt before deleting
  an organization).

The monthly run (``run_monthly``) is the one place that commits on its own: each
organization is invoiced in its own short transaction, so a crash loses at most the
organization in progress and a re-run completes the rest; the account row lock and the
unique (organization, period) index make a second run or a second worker issue nothing
twice, and the invoice number is taken inside that transaction (a rollback gives it back:
numbers never skip). A month without charges gets no invoice (no zero invoices).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, cast, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from tenants import audit, credits, invoices, pricing, queue
from tenants.actors import SYSTEM, Actor
from tenants.credits import SYSTEM_ACCOUNT, AccountRef, Posting
from tenants.errors import (
    Conflict,
    InsufficientCredits,
    OrganizationClosed,
    OrganizationSuspended,
    ValidationFailed,
)
from tenants.extensions import db
from tenants.models import (
    AccountKind,
    BillingRun,
    BillingRunStatus,
    Charge,
    EntryType,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LedgerEntry,
    Member,
    MemberRole,
    Organization,
    OrganizationStatus,
    Payment,
    PostpaidAccount,
    PricingModel,
    User,
)
from tenants.policy import Permission, require
from tenants.types import round_money, utcnow

log = logging.getLogger(__name__)

CATCH_UP_MONTHS = 3
PROGRESS_EVERY = 50  # organizations between two progress saves of a run


class NotPostpaid(Conflict):
    code = "not_postpaid"
    default_message = _l("This organization is prepaid: it has no postpaid account.")


class PeriodInvoiced(Conflict):
    code = "period_invoiced"
    default_message = _l(
        "This usage happened in a month that is already invoiced; it can no longer be charged."
    )


class PeriodNotEnded(Conflict):
    code = "period_not_ended"
    default_message = _l("This month has not ended yet; it can be invoiced once it is over.")


def _price_not_set():
    from tenants.purchases import PriceNotSet

    return PriceNotSet()


# -- periods ---------------------------------------------------------------------------------


def parse_period(value, field: str = "period") -> str:
    """A month ``YYYY-MM``, refused with a clear message otherwise."""
    try:
        year, month = (int(part) for part in str(value).split("-"))
        if not (2000 <= year <= 9999 and 1 <= month <= 12) or len(str(value)) != 7:
            raise ValueError
    except ValueError:
        raise ValidationFailed(
            fields={field: str(_l("Give a month as YYYY-MM, e.g. 2026-10."))}
        ) from None
    return f"{year:04d}-{month:02d}"


def _first_day(period: str) -> date:
    year, month = (int(part) for part in period.split("-"))
    return date(year, month, 1)


def next_period(period: str) -> str:
    first = _first_day(period)
    return (first + timedelta(days=32)).replace(day=1).strftime("%Y-%m")


def previous_period(period: str) -> str:
    return (_first_day(period) - timedelta(days=1)).strftime("%Y-%m")


def period_bounds(period: str, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants a month starts and ends at in ``timezone`` (end excluded)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(_first_day(period), datetime.min.time(), tzinfo=zone)
    end = datetime.combine(_first_day(next_period(period)), datetime.min.time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def period_of(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


def last_ended_period(now: datetime | None = None) -> str:
    """The month that just ended, in UTC terms (each organization's own zone decides more)."""
    return previous_period((now or utcnow()).astimezone(UTC).strftime("%Y-%m"))


def require_ended(period: str, now: datetime | None = None) -> str:
    period = parse_period(period)
    if period > last_ended_period(now):
        raise PeriodNotEnded()
    return period


# -- the account row -------------------------------------------------------------------------


def _insert(dialect: str):
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return pg_insert if dialect == "postgresql" else sqlite_insert


def ensure_account(org: Organization) -> None:
    """Create the organization's postpaid row on first use (race-safe)."""
    insert = _insert(db.session.get_bind().dialect.name)
    db.session.execute(
        insert(PostpaidAccount)
        .values(
            organization_id=org.id,
            reseller_id=org.reseller_id,
            unbilled=Decimal(0),
            unbilled_credits=0,
            invoiced_unpaid=Decimal(0),
            paid_ahead=Decimal(0),
            closed_period="",
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["organization_id"])
    )


def _lock_account(organization_id: str) -> PostpaidAccount | None:
    return db.session.scalar(
        select(PostpaidAccount)
        .where(PostpaidAccount.organization_id == organization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _debt_expression():
    return PostpaidAccount.unbilled + PostpaidAccount.invoiced_unpaid - PostpaidAccount.paid_ahead


def _store_debt(org: Organization, debt: Decimal) -> None:
    """Keep the Customer app's Organization.debt equal to the account, same transaction."""
    db.session.execute(
        update(Organization)
        .where(Organization.id == org.id)
        .values(debt=debt)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(org, "debt", debt)


def account_of(org: Organization) -> PostpaidAccount | None:
    return db.session.get(PostpaidAccount, org.id)


def organization_debt(org: Organization) -> Decimal:
    """Unbilled charges plus unpaid invoices, less what was paid ahead."""
    debt = db.session.scalar(
        select(_debt_expression()).where(PostpaidAccount.organization_id == org.id)
    )
    return debt if debt is not None else Decimal("0")


# -- usage -----------------------------------------------------------------------------------


def _usage_member(actor: Actor, org: Organization, account) -> str | None:
    if account in (None, "", "system"):
        return actor.member_id if actor.organization_id == org.id else None
    if isinstance(account, str) and account.startswith("member:"):
        member_id = account.split(":", 1)[1]
        if db.session.scalar(
            select(Member.id).where(
                Member.id == member_id,
                Member.organization_id == org.id,
                Member.removed_at.is_(None),
            )
        ):
            return member_id
    raise ValidationFailed(fields={"account": str(_l("Unknown account."))})


def record_postpaid_usage(
    actor: Actor,
    org: Organization,
    *,
    credits_used: int,
    reference: str,
    account=None,
    occurred_at: datetime | None = None,
) -> LedgerEntry:
    """Accrue a charge for sent SMS; refused whole past the credit limit (402)."""
    from tenants.validation import clean_text

    credits_used = credits.clean_credits(credits_used)
    reference = clean_text(reference, "reference", max_length=200)
    occurred = credits.clean_occurred_at(occurred_at)
    if org.status == OrganizationStatus.SUSPENDED:
        raise OrganizationSuspended()
    if org.status != OrganizationStatus.ACTIVE:
        raise OrganizationClosed()
    if org.pricing_model != PricingModel.POSTPAID:
        raise NotPostpaid()
    member_id = _usage_member(actor, org, account)
    unit = pricing.unit_price(org.reseller_id, org.currency, PricingModel.POSTPAID)
    if unit is None:
        raise _price_not_set()
    amount = unit * credits_used
    ensure_account(org)
    limit = select(Organization.credit_limit).where(Organization.id == org.id).scalar_subquery()
    row = db.session.execute(
        update(PostpaidAccount)
        .where(
            PostpaidAccount.organization_id == org.id,
            or_(PostpaidAccount.closed_until.is_(None), PostpaidAccount.closed_until <= occurred),
            _debt_expression() + amount <= limit,
        )
        .values(
            unbilled=PostpaidAccount.unbilled + amount,
            unbilled_credits=PostpaidAccount.unbilled_credits + credits_used,
            updated_at=utcnow(),
        )
        .returning(_debt_expression(), PostpaidAccount.unbilled_credits)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        closed = db.session.scalar(
            select(PostpaidAccount.closed_until).where(PostpaidAccount.organization_id == org.id)
        )
        if closed is not None and occurred < closed:
            raise PeriodInvoiced()
        raise InsufficientCredits(
            _l("The credit limit is reached. Pay the debt or ask for a higher limit.")
        )
    debt, unbilled_credits = row
    moved = db.session.execute(
        update(Organization)
        .where(Organization.id == org.id, Organization.status == OrganizationStatus.ACTIVE)
        .values(debt=debt)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:  # deleted or suspended since it was read: the whole transaction is undone
        raise OrganizationClosed()
    set_committed_value(org, "debt", debt)
    db.session.add(
        Charge(
            reseller_id=org.reseller_id,
            organization_id=org.id,
            member_id=member_id,
            credits=credits_used,
            unit_price=unit,
            amount=amount,
            currency=org.currency,
            reference=reference,
            occurred_at=occurred,
        )
    )
    entries = credits.post_transaction(
        actor,
        org,
        [
            Posting(SYSTEM_ACCOUNT, -credits_used, EntryType.USAGE),
            Posting(AccountRef(AccountKind.USAGE), credits_used, EntryType.USAGE),
        ],
        amount=amount,
        reference=reference,
        occurred_at=occurred,
        postpaid_balance=-unbilled_credits,
    )
    return entries[0]


# -- payments --------------------------------------------------------------------------------


def clean_amount(value, currency: str, field: str = "amount") -> Decimal:
    """A positive amount with at most the currency's decimals."""
    from babel.numbers import get_currency_precision

    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise ValidationFailed(fields={field: str(_l("Enter an amount, e.g. 12.50."))})
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(fields={field: str(_l("Enter an amount, e.g. 12.50."))}) from None
    if not amount.is_finite():
        raise ValidationFailed(fields={field: str(_l("Enter an amount, e.g. 12.50."))})
    if amount <= 0:
        raise ValidationFailed(fields={field: str(_l("Enter an amount greater than zero."))})
    places = get_currency_precision(currency)
    if amount != round_money(amount, currency):
        raise ValidationFailed(fields={field: str(_l("Use at most %(n)d decimals.", n=places))})
    return amount


def _settle_open_invoices(org: Organization, unpaid: Decimal) -> list[Invoice]:
    """Mark open invoices paid, oldest first, while the payments received cover them."""
    open_invoices = list(
        db.session.scalars(
            select(Invoice)
            .where(
                Invoice.organization_id == org.id,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status == InvoiceStatus.OPEN,
            )
            .order_by(Invoice.issued_at, Invoice.sequence)
        )
    )
    covered = sum((inv.total for inv in open_invoices), Decimal(0)) - unpaid
    settled = []
    now = utcnow()
    for invoice in open_invoices:
        if invoice.total > covered:
            break
        covered -= invoice.total
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = now
        settled.append(invoice)
    db.session.flush()
    return settled


def record_payment(
    actor: Actor, org: Organization, amount, reference: str | None = None
) -> Payment:
    """Record money received from a postpaid organization (reseller staff and keys)."""
    from tenants.validation import clean_text

    require(actor, Permission.RECORD_PAYMENTS)
    amount = clean_amount(amount, org.currency)
    reference = clean_text(reference, "reference", max_length=200, required=False)
    if org.pricing_model != PricingModel.POSTPAID:
        raise NotPostpaid()
    if org.status == OrganizationStatus.DELETED:
        raise OrganizationClosed()
    ensure_account(org)
    account = _lock_account(org.id)
    if amount > account.debt:
        raise ValidationFailed(
            fields={
                "amount": str(
                    _l(
                        "This is more than the organization owes (%(debt)s).",
                        debt=_format_money(account.debt, org.currency),
                    )
                )
            }
        )
    to_invoices = min(amount, account.invoiced_unpaid)
    ahead = amount - to_invoices
    unpaid, debt, unbilled_credits = db.session.execute(
        update(PostpaidAccount)
        .where(PostpaidAccount.organization_id == org.id)
        .values(
            invoiced_unpaid=PostpaidAccount.invoiced_unpaid - to_invoices,
            paid_ahead=PostpaidAccount.paid_ahead + ahead,
            updated_at=utcnow(),
        )
        .returning(
            PostpaidAccount.invoiced_unpaid, _debt_expression(), PostpaidAccount.unbilled_credits
        )
        .execution_options(synchronize_session=False)
    ).one()
    settled = _settle_open_invoices(org, unpaid) if to_invoices else []
    _store_debt(org, debt)
    payment = Payment(
        reseller_id=org.reseller_id,
        organization_id=org.id,
        amount=amount,
        currency=org.currency,
        reference=reference,
        actor_user_id=actor.user_id,
        real_user_id=actor.real_user_id,
        api_key_id=actor.api_key_id,
    )
    db.session.add(payment)
    db.session.flush()
    credits.post_transaction(
        actor,
        org,
        [Posting(SYSTEM_ACCOUNT, 0, EntryType.PAYMENT)],
        amount=amount,
        reference=reference or payment.id,
        postpaid_balance=-unbilled_credits,
    )
    audit.record(
        actor,
        "payment.recorded",
        reseller_id=org.reseller_id,
        organization_id=org.id,
        target_type="payment",
        target_id=payment.id,
        changes={
            "amount": [None, str(amount)],
            "debt": [str(account.debt), str(debt)],
            "invoices_paid": [None, [inv.number for inv in settled]],
        },
    )
    db.session.flush()
    return payment


def _format_money(amount: Decimal, currency: str) -> str:
    from flask_babel import format_currency

    return format_currency(amount, currency)


# -- monthly invoices ------------------------------------------------------------------------


def billing_contact(org: Organization) -> tuple[str | None, str]:
    """Where an invoice goes (billing email, else the owner) and in which language."""
    from tenants.notifications import recipient_language

    owner = db.session.scalar(
        select(User)
        .join(Member, Member.user_id == User.id)
        .where(
            Member.organization_id == org.id,
            Member.role == MemberRole.OWNER,
            Member.removed_at.is_(None),
        )
    )
    person = owner
    email = org.billing_email or (owner.email if owner else None)
    if org.billing_email:
        contact = select(User).where(func.lower(User.email) == org.billing_email.lower())
        person = db.session.scalar(contact) or owner
    if person is None:
        languages = current_app.config["LANGUAGES"]
        language = org.reseller.default_language
        return email, language if language in languages else "en"
    return email, recipient_language(person, org.reseller)


def _charges_window(org_id: str, start: datetime | None, end: datetime):
    clauses = [Charge.organization_id == org_id, Charge.occurred_at < end]
    if start is not None:
        clauses.append(Charge.occurred_at >= start)
    return clauses


def _daily_usage(org: Organization, start: datetime | None, end: datetime) -> list[tuple]:
    """``(local day, unit price, credits, amount)`` of the charges in the window, by day."""
    window = _charges_window(org.id, start, end)
    if db.session.get_bind().dialect.name == "postgresql":
        day = cast(func.timezone(org.timezone, Charge.occurred_at), Date)
        return [
            tuple(row)
            for row in db.session.execute(
                select(day, Charge.unit_price, func.sum(Charge.credits), func.sum(Charge.amount))
                .where(*window)
                .group_by(day, Charge.unit_price)
                .order_by(day, Charge.unit_price)
            )
        ]
    zone = ZoneInfo(org.timezone)
    grouped: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    for occurred, unit, count, amount in db.session.execute(
        select(Charge.occurred_at, Charge.unit_price, Charge.credits, Charge.amount).where(*window)
    ):
        bucket = grouped[(occurred.astimezone(zone).date(), unit)]
        bucket[0] += count
        bucket[1] += amount
    return [(day, unit, c, a) for (day, unit), (c, a) in sorted(grouped.items())]


def issue_monthly_invoice(
    org: Organization, period: str, *, now: datetime | None = None
) -> Invoice | None:
    """Invoice the organization's charges of ``period`` (its timezone); None when none.

    Months before it still open are invoiced first, each on its own invoice, so no charge
    is ever left behind. Takes the postpaid row's lock first: a second caller waits, then
    finds the month closed and returns None. A month without charges is closed without an
    invoice (no zero invoices). Flushes; the caller commits.
    """
    period = parse_period(period)
    now = now or utcnow()
    if period_bounds(period, org.timezone)[1] > now:
        raise PeriodNotEnded()
    while True:
        invoice, target = _issue_next(org, period, now)
        if target is None or target == period:
            return invoice


def _month(day: date) -> str:
    return day.strftime("%Y-%m")


def _issue_next(org: Organization, period: str, now: datetime) -> tuple[Invoice | None, str | None]:
    """Invoice the oldest open month up to ``period``: (invoice or None, that month), or
    (None, None) when nothing is due (already closed, or the month not over here yet)."""
    from babel.dates import format_date

    _start, end = period_bounds(period, org.timezone)
    if end > now:  # the organization's own month is not over: the catch-up gets it later
        return None, None
    account = _lock_account(org.id)
    if account is None or (account.closed_period and account.closed_period >= period):
        return None, None
    days = _daily_usage(org, account.closed_until, end)
    target = period
    if days and _month(days[0][0]) < period:
        target = _month(days[0][0])
        if account.closed_period and target <= account.closed_period:  # timezone changed
            target = next_period(account.closed_period)
        days = [row for row in days if _month(row[0]) <= target]
        end = period_bounds(target, org.timezone)[1]
    if not days:
        db.session.execute(
            update(PostpaidAccount)
            .where(PostpaidAccount.organization_id == org.id)
            .values(closed_period=period, closed_until=end, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return None, period
    period = target
    email, language = billing_contact(org)
    with force_locale(language):
        lines = [
            {
                "description": _(
                    "SMS usage — %(date)s", date=format_date(day, "medium", locale=language)
                ),
                "quantity": int(count),
                "unit_price": unit,
                "amount": amount,
            }
            for day, unit, count, amount in days
        ]
    charged = sum((Decimal(amount) for *_rest, amount in days), Decimal(0))
    credit_count = sum(int(count) for _d, _u, count, _a in days)
    invoice = invoices.issue_invoice(
        org,
        kind=InvoiceKind.INVOICE,
        lines=lines,
        tax_percent=pricing.tax_percent(org.reseller_id, org.country),
        billing=invoices.billing_snapshot(org),
        language=language,
        period=period,
        issued_at=now,
    )
    # What was paid ahead settles the new invoice first.
    applied = min(account.paid_ahead, invoice.total)
    unpaid, debt, unbilled_credits = db.session.execute(
        update(PostpaidAccount)
        .where(PostpaidAccount.organization_id == org.id)
        .values(
            unbilled=PostpaidAccount.unbilled - charged,
            unbilled_credits=PostpaidAccount.unbilled_credits - credit_count,
            invoiced_unpaid=PostpaidAccount.invoiced_unpaid + invoice.total - applied,
            paid_ahead=PostpaidAccount.paid_ahead - applied,
            closed_period=period,
            closed_until=end,
            updated_at=now,
        )
        .returning(
            PostpaidAccount.invoiced_unpaid, _debt_expression(), PostpaidAccount.unbilled_credits
        )
        .execution_options(synchronize_session=False)
    ).one()
    if applied:
        _settle_open_invoices(org, unpaid)
    _store_debt(org, debt)
    credits.post_transaction(
        SYSTEM,
        org,
        [
            Posting(SYSTEM_ACCOUNT, credit_count, EntryType.INVOICE),
            Posting(AccountRef(AccountKind.INVOICED), -credit_count, EntryType.INVOICE),
        ],
        amount=invoice.total,
        reference=invoice.number,
        postpaid_balance=-unbilled_credits,
    )
    audit.record(
        SYSTEM,
        "invoice.issued",
        reseller_id=org.reseller_id,
        organization_id=org.id,
        target_type="invoice",
        target_id=invoice.id,
        changes={
            "number": [None, invoice.number],
            "period": [None, period],
            "total": [None, str(invoice.total)],
        },
    )
    if email:
        queue.enqueue("send_invoice_email", invoice_id=invoice.id)
    db.session.flush()
    return invoice, period


@dataclass(frozen=True)
class RunResult:
    invoiced: int
    skipped: int
    failed: int
    run_id: str | None = None


def _candidates(period: str) -> list[str]:
    """Organizations with usage not yet invoiced and the period not yet closed."""
    return list(
        db.session.scalars(
            select(PostpaidAccount.organization_id)
            .where(PostpaidAccount.closed_period < period, PostpaidAccount.unbilled_credits > 0)
            .order_by(PostpaidAccount.organization_id)
        )
    )


def _invoice_organization(org_id: str, period: str, now: datetime, job_ids: list[str]) -> int:
    """Invoice every month still open up to ``period``, one transaction each; how many."""
    issued = 0
    while True:
        try:
            org = db.session.get(Organization, org_id)
            invoice, target = _issue_next(org, period, now)
            db.session.commit()
        except IntegrityError:
            # Another worker issued it between our read and our insert: nothing to do.
            queue.rollback()
            return issued
        job_ids.extend(db.session.info.pop(getattr(queue, "_PENDING_KEY", "queued_job_ids"), []))
        if invoice is not None:
            issued += 1
        if target is None or target == period:
            return issued


def run_monthly(
    period: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    now: datetime | None = None,
    trigger: str = "manual",
    record_empty: bool = True,
    dispatch_jobs: bool = True,
) -> RunResult:
    """Issue the monthly invoices of ``period`` (default: the month that just ended).

    Manages its own transactions: one per organization (see the module's docstring).
    ``progress(done, total)`` is called as organizations are processed.
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
    invoiced = skipped = failed = 0
    job_ids: list[str] = []
    last_error = None
    for done, org_id in enumerate(candidates, 1):
        try:
            count = _invoice_organization(org_id, period, now, job_ids)
        except Exception as error:  # one organization's failure never stops the run
            queue.rollback()
            log.exception("monthly invoice of %s for %s failed", org_id, period)
            failed += 1
            last_error = f"{org_id}: {error!r}"[:2000]
        else:
            invoiced += count
            skipped += 0 if count else 1
        if done % PROGRESS_EVERY == 0 or done == len(candidates):
            _save_progress(run_id, done, invoiced, skipped, failed, last_error)
        if progress:
            progress(done, len(candidates))
    _save_progress(run_id, len(candidates), invoiced, skipped, failed, last_error, finished=True)
    if dispatch_jobs and job_ids:
        queue.dispatch(job_ids)
    return RunResult(invoiced, skipped, failed, run_id)


def _save_progress(run_id, done, invoiced, skipped, failed, last_error, finished=False) -> None:
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
    db.session.commit()


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


# -- the Payment section ---------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentSummary:
    currency: str
    debt: Decimal
    credit_limit: Decimal
    unbilled: Decimal
    unbilled_credits: int
    invoiced_unpaid: Decimal
    paid_ahead: Decimal
    this_month: str
    month_charges: Decimal
    month_credits: int
    open_invoices: list[Invoice]
    payments: list[Payment]


def payment_summary(org: Organization, *, now: datetime | None = None) -> PaymentSummary:
    """What the Payment section shows a postpaid organization's reader."""
    now = now or utcnow()
    account = account_of(org)
    this_month = period_of(now, org.timezone)
    start, end = period_bounds(this_month, org.timezone)
    month_credits, month_charges = db.session.execute(
        select(func.sum(Charge.credits), func.sum(Charge.amount)).where(
            *_charges_window(org.id, start, end)
        )
    ).one()
    open_invoices = list(
        db.session.scalars(
            select(Invoice)
            .where(
                Invoice.organization_id == org.id,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status == InvoiceStatus.OPEN,
            )
            .order_by(Invoice.issued_at)
        )
    )
    payments = list(
        db.session.scalars(
            select(Payment)
            .where(Payment.organization_id == org.id)
            .order_by(Payment.created_at.desc())
            .limit(20)
        )
    )
    zero = Decimal(0)
    return PaymentSummary(
        currency=org.currency,
        debt=account.debt if account else zero,
        credit_limit=org.credit_limit,
        unbilled=account.unbilled if account else zero,
        unbilled_credits=account.unbilled_credits if account else 0,
        invoiced_unpaid=account.invoiced_unpaid if account else zero,
        paid_ahead=account.paid_ahead if account else zero,
        this_month=this_month,
        month_charges=month_charges or zero,
        month_credits=int(month_credits or 0),
        open_invoices=open_invoices,
        payments=payments,
    )
