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

The monthly run (``run_monthly``) is the one place that commits on its own: organizations
are invoiced in batches (``BATCH_SIZE``), one short transaction each, with set-based
statements (see "monthly invoices" below), so a crash loses at most the batch in progress
and a re-run completes the rest; the account row locks (taken in id order) and the unique
(organization, period) index make a second run or a second worker issue nothing twice, and
the invoice numbers are taken inside that transaction (a rollback gives them back: numbers
never skip). A batch that fails is retried one organization at a time, so one
organization's failure fails only itself. A month without charges gets no invoice (no
zero invoices).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    MetaData,
    String,
    Table,
    and_,
    cast,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.schema import CreateTable, DropTable

from tenants.access.actors import SYSTEM, Actor
from tenants.access.policy import Permission, require
from tenants.audit import log as audit
from tenants.core.errors import (
    Conflict,
    InsufficientCredits,
    OrganizationClosed,
    OrganizationSuspended,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import Money, UTCDateTime, new_id, round_money, utcnow
from tenants.credits import operations as credits
from tenants.credits.operations import SYSTEM_ACCOUNT, AccountRef, Posting
from tenants.invoices import documents as invoices
from tenants.jobs import outbox as queue
from tenants.jobs.registry import job
from tenants.models import (
    AccountKind,
    AuditEntry,
    BillingRun,
    BillingRunStatus,
    Charge,
    CreditAccount,
    EntryType,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    Member,
    MemberRole,
    Organization,
    OrganizationStatus,
    Payment,
    PostpaidAccount,
    PricingModel,
    QueuedJob,
    Reseller,
    TaxRate,
    User,
)
from tenants.resellers import pricing

log = logging.getLogger(__name__)

CATCH_UP_MONTHS = 3


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
    from tenants.credits.purchases import PriceNotSet

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
    from tenants.core.validation import clean_text

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


def _settle_open_invoices(organization_id: str, unpaid: Decimal) -> list[Invoice]:
    """Mark open invoices paid, oldest first, while the payments received cover them."""
    open_invoices = list(
        db.session.scalars(
            select(Invoice)
            .where(
                Invoice.organization_id == organization_id,
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
    from tenants.core.validation import clean_text

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
    settled = _settle_open_invoices(org.id, unpaid) if to_invoices else []
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
#
# The run works on batches of organizations (BATCH_SIZE, one transaction each) with
# set-based statements instead of objects per organization:
#
# 1. lock the batch's postpaid rows (SELECT … FOR UPDATE, in id order: two runs lock in the
#    same order and the second one, once the first commits, finds the months closed);
# 2. group the batch's charges by (organization, day in its timezone, unit price) into a
#    temporary table — on PostgreSQL one INSERT … SELECT … GROUP BY with ``AT TIME ZONE``;
#    other databases (SQLite: tests, the embedded default) group in Python, which is fine
#    for their size;
# 3. sum that per (organization, month), take each reseller's numbers in one UPDATE of its
#    sequence row, insert the invoices, then their lines with one INSERT … SELECT (the
#    line texts per language and day come from a small temporary table);
# 4. insert the ledger rows, audit rows and e-mail jobs in bulk, and move the money of the
#    whole batch with one UPDATE … FROM of the postpaid rows and one of the debts.
#
# The temporary tables are created and dropped inside the batch's transaction.

BATCH_SIZE = 1000  # organizations per transaction of the monthly run
WORK_MEM = "64MB"  # PostgreSQL's work_mem for a batch's transaction

_TEMP = MetaData()
_batch_table = Table(
    "billing_run_orgs",
    _TEMP,
    Column("organization_id", String(32), primary_key=True),
    Column("timezone", String(64)),
    Column("start_at", UTCDateTime()),
    Column("end_at", UTCDateTime()),
    Column("first_open", String(7)),
    prefixes=["TEMPORARY"],
)
_days_table = Table(
    "billing_run_days",
    _TEMP,
    Column("organization_id", String(32)),
    Column("day", Date),
    Column("period", String(7)),  # the month whose invoice the day goes on
    Column("unit_price", Money()),
    Column("credits", BigInteger),
    Column("amount", Money()),
    prefixes=["TEMPORARY"],
)
_invoices_table = Table(
    "billing_run_invoices",
    _TEMP,
    Column("organization_id", String(32)),
    Column("period", String(7)),
    Column("invoice_id", String(32)),
    Column("reseller_id", String(32)),
    Column("language", String(8)),
    prefixes=["TEMPORARY"],
)
_labels_table = Table(
    "billing_run_labels",
    _TEMP,
    Column("language", String(8)),
    Column("day", Date),
    Column("description", String(300)),
    prefixes=["TEMPORARY"],
)
_settle_table = Table(
    "billing_run_settle",
    _TEMP,
    Column("organization_id", String(32), primary_key=True),
    Column("charged", Money()),
    Column("credits", BigInteger),
    Column("unpaid", Money()),
    Column("applied", Money()),
    Column("closed_until", UTCDateTime()),
    prefixes=["TEMPORARY"],
)


def _billing_contacts(orgs: list[tuple[str, str | None, str | None]]) -> dict[str, tuple]:
    """``{org id: (email or None, language)}`` for ``(org id, billing email, reseller's
    default language)``: the billing email, else the owner's; the language of the person
    behind that address (the owner when no user has it), else the reseller's."""
    languages = current_app.config["LANGUAGES"]
    fallback = current_app.config["BABEL_DEFAULT_LOCALE"]
    owners: dict[str, tuple[str, str | None]] = {}
    rows = db.session.execute(
        select(Member.organization_id, User.email, User.language)
        .join(User, Member.user_id == User.id)
        .where(
            Member.organization_id.in_([org_id for org_id, _e, _l in orgs]),
            Member.role == MemberRole.OWNER,
            Member.removed_at.is_(None),
        )
        .order_by(Member.organization_id, Member.id)
    )
    for org_id, email, language in rows:
        owners.setdefault(org_id, (email, language))
    wanted = sorted({email.lower() for _o, email, _l in orgs if email})
    people: dict[str, str | None] = {}
    if wanted:
        rows = db.session.execute(
            select(func.lower(User.email), User.language).where(func.lower(User.email).in_(wanted))
        )
        for email, language in rows:
            people.setdefault(email, language)
    contacts = {}
    for org_id, billing_email, reseller_language in orgs:
        owner = owners.get(org_id)
        email = billing_email or (owner[0] if owner else None)
        if billing_email and billing_email.lower() in people:
            person: tuple | None = (people[billing_email.lower()],)
        else:
            person = (owner[1],) if owner else None
        if person is None:
            language = reseller_language if reseller_language in languages else "en"
        else:
            language = next((c for c in (person[0], reseller_language) if c in languages), fallback)
        contacts[org_id] = (email, language)
    return contacts


def billing_contact(org: Organization) -> tuple[str | None, str]:
    """Where an invoice goes (billing email, else the owner) and in which language."""
    return _billing_contacts([(org.id, org.billing_email, org.reseller.default_language)])[org.id]


def _charges_window(org_id: str, start: datetime | None, end: datetime):
    clauses = [Charge.organization_id == org_id, Charge.occurred_at < end]
    if start is not None:
        clauses.append(Charge.occurred_at >= start)
    return clauses


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


@dataclass
class _Due:
    """One locked organization of a batch and what its invoices need."""

    row: Any  # the organization's columns and its postpaid row's (see _lock_batch)
    start: datetime | None  # charges from here (the end of the last invoiced month)...
    end: datetime  # ...to the end of the period in its timezone
    first_open: str  # the oldest month still open ('' when none was ever closed)


def _lock_batch(org_ids: list[str], period: str):
    """Lock the postpaid rows still open before ``period``, in id order; with the columns
    of the organization the invoices need."""
    return db.session.execute(
        select(
            PostpaidAccount.organization_id.label("id"),
            PostpaidAccount.closed_period,
            PostpaidAccount.closed_until,
            PostpaidAccount.unbilled_credits,
            PostpaidAccount.paid_ahead,
            Organization.reseller_id,
            Organization.name,
            Organization.country,
            Organization.currency,
            Organization.timezone,
            Organization.billing_type,
            Organization.billing_name,
            Organization.billing_address,
            Organization.billing_tax_id,
            Organization.billing_email,
        )
        .join(Organization, Organization.id == PostpaidAccount.organization_id)
        .where(PostpaidAccount.organization_id.in_(org_ids), PostpaidAccount.closed_period < period)
        .order_by(PostpaidAccount.organization_id)
        .with_for_update(of=PostpaidAccount)
    ).all()


def _create_temp(*tables: Table) -> None:
    for table in tables:
        db.session.execute(DropTable(table, if_exists=True))  # a leftover of this connection
        db.session.execute(CreateTable(table))


def _drop_temp(*tables: Table) -> None:
    for table in tables:
        db.session.execute(DropTable(table, if_exists=True))


def _insert_rows(table: Table, rows: list[dict], **conflict) -> None:
    """Insert many rows (all with the same keys) in one statement or a few.

    PostgreSQL: ``INSERT … SELECT * FROM unnest(:col1, :col2, …)`` with one array a column —
    a handful of parameters whatever the number of rows, adapted by psycopg in C (per-row
    parameters cost about 100 µs a row in Python). Other databases: pages of multi-row
    VALUES (RETURNING makes SQLAlchemy page them, "insertmanyvalues"). ``conflict``:
    ``index_elements`` of an ON CONFLICT DO NOTHING."""
    if not rows:
        return
    dialect = db.session.get_bind().dialect
    if dialect.name == "postgresql":
        names = list(rows[0])
        params, casts = {}, []
        for position, name in enumerate(names):
            column = table.c[name]
            if isinstance(column.type, JSON):
                process = json.dumps
            else:
                process = column.type.bind_processor(dialect)
            values = [row[name] for row in rows]
            if process is not None:
                values = [None if value is None else process(value) for value in values]
            params[f"p{position}"] = values
            casts.append(f"CAST(:p{position} AS {column.type.compile(dialect=dialect)}[])")
        statement = (
            f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"SELECT * FROM unnest({', '.join(casts)})"
        )
        if conflict:
            statement += f" ON CONFLICT ({', '.join(conflict['index_elements'])}) DO NOTHING"
        db.session.execute(text(statement), params)
        return
    statement = _insert(dialect.name)(table)
    if conflict:
        statement = statement.on_conflict_do_nothing(**conflict)
    key = next(iter(table.primary_key.columns), None)
    statement = statement.returning(key if key is not None else next(iter(table.columns)))
    db.session.execute(statement, rows).all()


def _group_days(due: list[_Due]) -> None:
    """Fill the days table: the charges of the window of each organization, summed per
    (organization, local day, unit price), each day tagged with its invoice's month."""
    days = _days_table
    if db.session.get_bind().dialect.name == "postgresql":
        orgs = _batch_table
        _insert_rows(
            orgs,
            [
                {
                    "organization_id": item.row.id,
                    "timezone": item.row.timezone,
                    "start_at": item.start,
                    "end_at": item.end,
                    "first_open": item.first_open,
                }
                for item in due
            ],
        )
        day = cast(func.timezone(orgs.c.timezone, Charge.occurred_at), Date)
        month = func.greatest(func.to_char(day, literal_column("'YYYY-MM'")), orgs.c.first_open)
        db.session.execute(
            insert(days).from_select(
                ["organization_id", "day", "period", "unit_price", "credits", "amount"],
                select(
                    Charge.organization_id,
                    day,
                    month,
                    Charge.unit_price,
                    func.sum(Charge.credits),
                    func.sum(Charge.amount),
                )
                .join(
                    orgs,
                    and_(
                        orgs.c.organization_id == Charge.organization_id,
                        Charge.occurred_at < orgs.c.end_at,
                        or_(orgs.c.start_at.is_(None), Charge.occurred_at >= orgs.c.start_at),
                    ),
                )
                # Spelled out so the index (organization_id, occurred_at) is probed for the
                # batch's organizations only, not merged from its start.
                .where(Charge.organization_id.in_([item.row.id for item in due]))
                .group_by(Charge.organization_id, day, orgs.c.first_open, Charge.unit_price),
            )
        )
        return
    by_id = {item.row.id: item for item in due}
    zones: dict[str, ZoneInfo] = {}
    grouped: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    rows = db.session.execute(
        select(
            Charge.organization_id,
            Charge.occurred_at,
            Charge.unit_price,
            Charge.credits,
            Charge.amount,
        ).where(
            Charge.organization_id.in_(list(by_id)),
            Charge.occurred_at < max(item.end for item in due),
        )
    )
    for org_id, occurred, unit, count, amount in rows:
        item = by_id[org_id]
        if occurred >= item.end or (item.start is not None and occurred < item.start):
            continue
        zone = zones.get(item.row.timezone) or zones.setdefault(
            item.row.timezone, ZoneInfo(item.row.timezone)
        )
        bucket = grouped[(org_id, occurred.astimezone(zone).date(), unit)]
        bucket[0] += count
        bucket[1] += amount
    if grouped:
        _insert_rows(
            days,
            [
                {
                    "organization_id": org_id,
                    "day": day,
                    "period": max(_month(day), by_id[org_id].first_open),
                    "unit_price": unit,
                    "credits": count,
                    "amount": amount,
                }
                for (org_id, day, unit), (count, amount) in grouped.items()
            ],
        )


def _month(day: date) -> str:
    return day.strftime("%Y-%m")


def _line_labels(languages: set[str]) -> None:
    """The line text of every (language, day) the batch's invoices need."""
    from babel.dates import format_date

    days = list(db.session.scalars(select(_days_table.c.day).distinct()))
    rows = []
    for language in sorted(languages):
        with force_locale(language):
            rows.extend(
                {
                    "language": language,
                    "day": day,
                    "description": _(
                        "SMS usage — %(date)s", date=format_date(day, "medium", locale=language)
                    ),
                }
                for day in days
            )
    _insert_rows(_labels_table, rows)


def _ledger_accounts(due: list[_Due]) -> dict[tuple[str, AccountKind], str]:
    """The system and ``invoiced`` accounts of the organizations, created on first use
    (race-safe, as tenants.credits.operations.account_id does one at a time)."""
    kinds = (AccountKind.SYSTEM, AccountKind.INVOICED)
    ids = [item.row.id for item in due]

    def found() -> dict[tuple[str, AccountKind], str]:
        return {
            (org_id, AccountKind(kind)): account
            for org_id, kind, account in db.session.execute(
                select(CreditAccount.organization_id, CreditAccount.kind, CreditAccount.id).where(
                    CreditAccount.organization_id.in_(ids),
                    CreditAccount.kind.in_(kinds),
                    CreditAccount.member_id == "",
                )
            )
        }

    accounts = found()
    now = utcnow()
    missing = [
        {
            "id": new_id("acc"),
            "reseller_id": item.row.reseller_id,
            "organization_id": item.row.id,
            "kind": kind,
            "member_id": "",
            "balance": 0,
            "created_at": now,
            "updated_at": now,
        }
        for item in due
        for kind in kinds
        if (item.row.id, kind) not in accounts
    ]
    if missing:
        _insert_rows(
            CreditAccount.__table__,
            missing,
            index_elements=["organization_id", "kind", "member_id"],
        )
        accounts = found()
    return accounts


def _invoice_batch(org_ids: list[str], period: str, now: datetime) -> dict[str, list]:
    """Invoice every month still open up to ``period`` of these organizations, in the
    caller's transaction: ``{org id: [(month, invoice id), …]}`` for each one it closed
    (an empty list: closed without an invoice, nothing was charged). Organizations
    already closed (another run), without a postpaid row, or whose own month is not over
    yet (the catch-up gets them) are left out."""
    bounds: dict[tuple[str, str], datetime] = {}

    def end_of(month: str, timezone: str) -> datetime:
        key = (month, timezone)
        if key not in bounds:
            bounds[key] = period_bounds(month, timezone)[1]
        return bounds[key]

    due = [
        _Due(
            row=row,
            start=row.closed_until,
            end=end_of(period, row.timezone),
            first_open=next_period(row.closed_period) if row.closed_period else "",
        )
        for row in _lock_batch(org_ids, period)
    ]
    due = [item for item in due if item.end <= now]
    if not due:
        return {}
    if db.session.get_bind().dialect.name == "postgresql":
        # Room to hash and sort a batch in memory (this transaction only).
        db.session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    temp = (_batch_table, _days_table, _invoices_table, _labels_table, _settle_table)
    _create_temp(*temp)
    _group_days(due)
    days = _days_table
    months: dict[str, list[tuple[str, int, Decimal]]] = defaultdict(list)
    for org_id, month, count, amount in db.session.execute(
        select(
            days.c.organization_id, days.c.period, func.sum(days.c.credits), func.sum(days.c.amount)
        )
        .group_by(days.c.organization_id, days.c.period)
        .order_by(days.c.organization_id, days.c.period)
    ):
        months[org_id].append((month, int(count), amount))

    invoiced = [item for item in due if months.get(item.row.id)]
    reseller_ids = sorted({item.row.reseller_id for item in invoiced})
    resellers = {
        rid: (slug, language)
        for rid, slug, language in db.session.execute(
            select(Reseller.id, Reseller.slug, Reseller.default_language).where(
                Reseller.id.in_(reseller_ids)
            )
        )
    }
    taxes = {
        (rid, country): percent
        for rid, country, percent in db.session.execute(
            select(TaxRate.reseller_id, TaxRate.country, TaxRate.percent).where(
                TaxRate.reseller_id.in_(reseller_ids)
            )
        )
    }
    contacts = _billing_contacts(
        [(i.row.id, i.row.billing_email, resellers[i.row.reseller_id][1]) for i in invoiced]
    )
    numbers: dict[str, list[tuple[int, str]]] = {}
    for rid in reseller_ids:  # a fixed order: two transactions never wait on each other
        count = sum(len(months[i.row.id]) for i in invoiced if i.row.reseller_id == rid)
        numbers[rid] = invoices.take_invoice_numbers(rid, resellers[rid][0], count)[::-1]

    stamp = utcnow()
    issued: dict[str, list] = {item.row.id: [] for item in due}
    invoice_rows, ledger_rows, audit_rows, job_rows, settle_rows = [], [], [], [], []
    accounts = _ledger_accounts(invoiced) if invoiced else {}
    for item in due:
        row = item.row
        charged, credit_total, unpaid, applied_total = Decimal(0), 0, Decimal(0), Decimal(0)
        remaining_credits, paid_ahead = row.unbilled_credits, row.paid_ahead
        if months.get(row.id):
            email, language = contacts[row.id]
            billing = invoices.billing_snapshot(row)
            tax_percent = taxes.get((row.reseller_id, (row.country or "").upper()), Decimal(0))
        for month, count, amount in months.get(row.id, []):
            sequence, number = numbers[row.reseller_id].pop()
            subtotal, tax, total = invoices.totals(amount, tax_percent, row.currency)
            invoice_id = new_id("inv")
            issued[row.id].append((month, invoice_id))
            invoice_rows.append(
                {
                    "id": invoice_id,
                    "reseller_id": row.reseller_id,
                    "organization_id": row.id,
                    "sequence": sequence,
                    "number": number,
                    "kind": InvoiceKind.INVOICE,
                    "period": month,
                    "status": InvoiceStatus.OPEN,
                    "currency": row.currency,
                    "subtotal": subtotal,
                    "tax_percent": tax_percent,
                    "tax": tax,
                    "total": total,
                    "billing": billing,
                    "language": language,
                    "issued_at": now,
                    "paid_at": None,
                }
            )
            # What was paid ahead settles the new invoice first.
            applied = min(paid_ahead, total)
            paid_ahead -= applied
            applied_total += applied
            unpaid += total - applied
            charged += amount
            credit_total += count
            remaining_credits -= count
            posting = {
                "transaction_id": new_id("txn"),
                "reseller_id": row.reseller_id,
                "organization_id": row.id,
                "member_id": "",
                "type": EntryType.INVOICE,
                "amount": total,
                "currency": row.currency,
                "reference": number,
                "occurred_at": stamp,
                "created_at": stamp,
                "actor_user_id": SYSTEM.user_id,
                "real_user_id": SYSTEM.real_user_id,
                "api_key_id": SYSTEM.api_key_id,
            }
            ledger_rows.append(
                {
                    **posting,
                    "id": new_id("ent"),
                    "account_id": accounts[(row.id, AccountKind.SYSTEM)],
                    "account_kind": AccountKind.SYSTEM,
                    "credits": count,
                    "balance_after": -remaining_credits,
                }
            )
            ledger_rows.append(
                {
                    **posting,
                    "id": new_id("ent"),
                    "account_id": accounts[(row.id, AccountKind.INVOICED)],
                    "account_kind": AccountKind.INVOICED,
                    "credits": -count,
                    "balance_after": None,
                }
            )
            audit_rows.append(
                {
                    "id": new_id("aud"),
                    "reseller_id": row.reseller_id,
                    "organization_id": row.id,
                    "actor_user_id": SYSTEM.user_id,
                    "real_user_id": SYSTEM.real_user_id,
                    "api_key_id": SYSTEM.api_key_id,
                    "support_session_id": SYSTEM.support_session_id,
                    "action": "invoice.issued",
                    "target_type": "invoice",
                    "target_id": invoice_id,
                    "changes": {
                        "number": [None, number],
                        "period": [None, month],
                        "total": [None, str(total)],
                    },
                    "created_at": stamp,
                }
            )
            if email:
                job_rows.append(
                    {
                        "id": new_id("job"),
                        "name": "send_invoice_email",
                        "kwargs": {"invoice_id": invoice_id},
                        "created_at": stamp,
                        "attempts": 0,
                    }
                )
        settle_rows.append(
            {
                "organization_id": row.id,
                "charged": charged,
                "credits": credit_total,
                "unpaid": unpaid,
                "applied": applied_total,
                "closed_until": item.end,
            }
        )

    if invoice_rows:
        _insert_rows(Invoice.__table__, invoice_rows)
        _insert_rows(
            _invoices_table,
            [
                {
                    "organization_id": r["organization_id"],
                    "period": r["period"],
                    "invoice_id": r["id"],
                    "reseller_id": r["reseller_id"],
                    "language": r["language"],
                }
                for r in invoice_rows
            ],
        )
        _line_labels({r["language"] for r in invoice_rows})
        _insert_lines()
        _insert_rows(LedgerEntry.__table__, ledger_rows)
        _insert_rows(AuditEntry.__table__, audit_rows)
    if job_rows:
        _insert_rows(QueuedJob.__table__, job_rows)
        db.session.info.setdefault(queue._PENDING_KEY, []).extend(r["id"] for r in job_rows)
    _close_accounts(settle_rows, period, now)
    for item in settle_rows:
        if item["applied"]:
            unpaid = db.session.scalar(
                select(PostpaidAccount.invoiced_unpaid).where(
                    PostpaidAccount.organization_id == item["organization_id"]
                )
            )
            _settle_open_invoices(item["organization_id"], unpaid)
    _drop_temp(*temp)
    return issued


def _insert_lines() -> None:
    """Every invoice line of the batch in one INSERT … SELECT from the days table."""
    days, labels, issued = _days_table, _labels_table, _invoices_table
    position = func.row_number().over(
        partition_by=issued.c.invoice_id, order_by=(days.c.day, days.c.unit_price)
    )
    db.session.execute(
        insert(InvoiceLine.__table__).from_select(
            [
                "invoice_id",
                "reseller_id",
                "position",
                "description",
                "quantity",
                "unit_price",
                "amount",
            ],
            select(
                issued.c.invoice_id,
                issued.c.reseller_id,
                position - 1,
                labels.c.description,
                days.c.credits,
                days.c.unit_price,
                days.c.amount,
            )
            .select_from(days)
            .join(
                issued,
                and_(
                    issued.c.organization_id == days.c.organization_id,
                    issued.c.period == days.c.period,
                ),
            )
            .join(labels, and_(labels.c.language == issued.c.language, labels.c.day == days.c.day)),
        )
    )


def _close_accounts(settle_rows: list[dict], period: str, now: datetime) -> None:
    """Move the batch's money and close its months: one UPDATE … FROM of the postpaid
    rows, one UPDATE of the invoiced organizations' debts."""
    settle, account = _settle_table, PostpaidAccount.__table__
    _insert_rows(settle, settle_rows)
    db.session.execute(
        update(account)
        .where(account.c.organization_id == settle.c.organization_id)
        .values(
            unbilled=account.c.unbilled - settle.c.charged,
            unbilled_credits=account.c.unbilled_credits - settle.c.credits,
            invoiced_unpaid=account.c.invoiced_unpaid + settle.c.unpaid,
            paid_ahead=account.c.paid_ahead - settle.c.applied,
            closed_period=period,
            closed_until=settle.c.closed_until,
            updated_at=now,
        )
    )
    if any(item["credits"] for item in settle_rows):
        org = Organization.__table__
        debt = (
            select(account.c.unbilled + account.c.invoiced_unpaid - account.c.paid_ahead)
            .where(account.c.organization_id == org.c.id)
            .scalar_subquery()
        )
        db.session.execute(
            update(org)
            .where(org.c.id.in_(select(settle.c.organization_id).where(settle.c.credits > 0)))
            .values(debt=debt)
        )


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


@dataclass
class _Tally:
    invoiced: int = 0
    skipped: int = 0
    failed: int = 0
    last_error: str | None = None


def _run_batch(
    org_ids: list[str], period: str, now: datetime, tally: _Tally, job_ids: list[str], save
) -> bool:
    """One transaction for the batch, its progress saved in it (True); when it fails, each
    of its organizations on its own, so one organization's failure fails only itself
    (False: the caller saves the progress)."""
    try:
        issued = _invoice_batch(org_ids, period, now)
        count = sum(len(issued.get(org_id, [])) for org_id in org_ids)
        skipped = sum(1 for org_id in org_ids if not issued.get(org_id))
        save(tally.invoiced + count, tally.skipped + skipped, tally.failed, tally.last_error)
        db.session.commit()
    except Exception as error:
        queue.rollback()
        if len(org_ids) > 1:
            for org_id in org_ids:
                _run_batch([org_id], period, now, tally, job_ids, lambda *_args: None)
            return False
        if isinstance(error, IntegrityError):
            # Another worker issued it between our read and our insert: nothing to do.
            tally.skipped += 1
            return False
        log.exception("monthly invoice of %s for %s failed", org_ids[0], period)
        tally.failed += 1
        tally.last_error = f"{org_ids[0]}: {error!r}"[:2000]
        return False
    job_ids.extend(db.session.info.pop(queue._PENDING_KEY, []))
    tally.invoiced += count
    tally.skipped += skipped
    return True


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
    module's docstring). ``progress(done, total)`` is called as organizations are
    processed.
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
    for start in range(0, len(candidates), max(1, batch_size)):
        chunk = candidates[start : start + max(1, batch_size)]
        done = start + len(chunk)

        def save(invoiced, skipped, failed, last_error, done=done) -> None:
            _save_progress(run_id, done, invoiced, skipped, failed, last_error, commit=False)

        if not _run_batch(chunk, period, now, tally, job_ids, save):
            _save_progress(
                run_id, done, tally.invoiced, tally.skipped, tally.failed, tally.last_error
            )
        if progress:
            for count in range(start + 1, done + 1):
                progress(count, len(candidates))
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
