"""Reading the ledger: movements of the accounts an actor may manage, logs, CSV rows, chart.

Only holding-account postings are movements (``balance_after`` is set on them); the
counter-account side of each transaction is bookkeeping nobody reads. Every query starts
from an organization reached through tenants.scoping, or from the reseller's organizations
as scoping lists them, so another tenant's entries never appear.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, false, func, or_, select
from sqlalchemy.orm import aliased

from tenants import scoping
from tenants.actors import Actor
from tenants.credits import AccountRef, parse_account
from tenants.errors import Forbidden, ValidationFailed
from tenants.extensions import db
from tenants.models import (
    AccountKind,
    CreditAccount,
    EntryType,
    LedgerEntry,
    Member,
    Organization,
    User,
)
from tenants.policy import Permission, can
from tenants.types import utcnow

LOG_DAYS = 30
MAX_PAGE_SIZE = 200
CSV_BATCH = 1000

ENTRY_TYPE_LABELS = {
    EntryType.PURCHASE: _l("Purchase"),
    EntryType.AUTO_TOP_UP: _l("Automatic top-up"),
    EntryType.TRANSFER_IN: _l("Transfer in"),
    EntryType.TRANSFER_OUT: _l("Transfer out"),
    EntryType.USAGE: _l("Usage"),
    EntryType.WITHDRAWAL: _l("Withdrawal"),
    EntryType.ADJUSTMENT: _l("Adjustment"),
    EntryType.PAYMENT: _l("Payment"),
    EntryType.INVOICE: _l("Invoice"),
}


def entry_type_label(value) -> str:
    try:
        return str(ENTRY_TYPE_LABELS[EntryType(value)])
    except ValueError:
        return str(value)


# -- who may see which accounts --------------------------------------------------------------


def sees_every_account(actor: Actor) -> bool:
    """Admins, reseller staff and platform staff read every account of an organization."""
    return can(actor, Permission.MANAGE_CREDITS) or actor.is_platform


def _visible_accounts(actor: Actor, org: Organization):
    """The WHERE clause limiting postings to the holding accounts the actor may manage."""
    holding = LedgerEntry.balance_after.is_not(None)
    if sees_every_account(actor):
        return holding
    if actor.member_id and actor.organization_id == org.id:
        return and_(
            holding,
            LedgerEntry.account_kind == AccountKind.MEMBER,
            LedgerEntry.member_id == actor.member_id,
        )
    return false()


def may_see_account(actor: Actor, org: Organization, ref: AccountRef) -> bool:
    if sees_every_account(actor):
        return True
    return (
        ref.kind == AccountKind.MEMBER
        and ref.member_id == actor.member_id
        and actor.organization_id == org.id
    )


def _clean_types(types) -> list[EntryType]:
    cleaned = []
    for value in types or ():
        try:
            cleaned.append(EntryType(value))
        except ValueError as error:
            raise ValidationFailed(fields={"type": str(_l("Unknown movement type."))}) from error
    return cleaned


def _account_filter(actor: Actor, org: Organization, account):
    if account in (None, ""):
        return None
    ref = account if isinstance(account, AccountRef) else _parse_any_account(org, account)
    if not may_see_account(actor, org, ref):
        raise Forbidden()
    return and_(LedgerEntry.account_kind == ref.kind, LedgerEntry.member_id == ref.member_id)


def _parse_any_account(org: Organization, value) -> AccountRef:
    """Like credits.parse_account, but also the accounts of members removed since."""
    if isinstance(value, str) and value.startswith("member:"):
        return AccountRef(AccountKind.MEMBER, value.split(":", 1)[1][:40])
    return parse_account(org, value)


def _common_filters(query: Select, *, types, since, until, q) -> Select:
    types = _clean_types(types)
    if types:
        query = query.where(LedgerEntry.type.in_(types))
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    if q:
        needle = str(q).strip()[:100].lower()
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(LedgerEntry.reference).like(f"%{escaped}%", escape="\\"))
    return query


def movements_query(
    actor: Actor,
    org: Organization,
    *,
    types=None,
    account=None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
) -> Select:
    """Movements of the organization's holding accounts the actor may manage, newest first."""
    org = scoping.get_organization(actor, org.id, include_deleted=True)
    query = select(LedgerEntry).where(
        LedgerEntry.organization_id == org.id,
        LedgerEntry.reseller_id == org.reseller_id,
        _visible_accounts(actor, org),
    )
    account_clause = _account_filter(actor, org, account)
    if account_clause is not None:
        query = query.where(account_clause)
    query = _common_filters(query, types=types, since=since, until=until, q=q)
    return query.order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())


def reseller_movements_query(
    actor: Actor,
    *,
    types=None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
) -> Select:
    """Movements of every customer of the actor's reseller (reseller staff only)."""
    if not actor.is_reseller_staff or not actor.reseller_id:
        raise Forbidden()
    customers = scoping.organizations_query(actor, include_deleted=True).with_only_columns(
        Organization.id
    )
    query = select(LedgerEntry).where(
        LedgerEntry.reseller_id == actor.reseller_id,
        LedgerEntry.organization_id.in_(customers),
        LedgerEntry.balance_after.is_not(None),
    )
    query = _common_filters(query, types=types, since=since, until=until, q=q)
    return query.order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())


def last_days(days: int = LOG_DAYS) -> datetime:
    return utcnow() - timedelta(days=days)


# -- keyset pagination ----------------------------------------------------------------------


@dataclass(frozen=True)
class MovementPage:
    entries: list[LedgerEntry]
    older_cursor: str | None
    newer_cursor: str | None


def _encode_cursor(direction: str, entry: LedgerEntry) -> str:
    raw = json.dumps([direction, entry.created_at.isoformat(), entry.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        direction, when, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = datetime.fromisoformat(when)
        if direction not in ("older", "newer") or not isinstance(ident, str) or not moment.tzinfo:
            raise ValueError(direction)
    except (ValueError, TypeError, binascii.Error, UnicodeError) as error:
        raise ValidationFailed(fields={"cursor": str(_l("Invalid page link."))}) from error
    return direction, moment, ident[:40]


def page_of(query: Select, *, limit: int = 50, cursor: str | None = None) -> MovementPage:
    """One page of a newest-first movements query, keyset on (created_at, id)."""
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    if not cursor:
        rows = list(db.session.scalars(query.limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return MovementPage(rows, _encode_cursor("older", rows[-1]) if more else None, None)
    direction, moment, ident = _decode_cursor(cursor)
    if direction == "older":
        rows = list(
            db.session.scalars(
                query.where(
                    or_(
                        LedgerEntry.created_at < moment,
                        and_(LedgerEntry.created_at == moment, LedgerEntry.id < ident),
                    )
                ).limit(limit + 1)
            )
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return MovementPage(
            rows,
            _encode_cursor("older", rows[-1]) if more and rows else None,
            _encode_cursor("newer", rows[0]) if rows else None,
        )
    ascending = query.order_by(None).order_by(LedgerEntry.created_at.asc(), LedgerEntry.id.asc())
    rows = list(
        db.session.scalars(
            ascending.where(
                or_(
                    LedgerEntry.created_at > moment,
                    and_(LedgerEntry.created_at == moment, LedgerEntry.id > ident),
                )
            ).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    return MovementPage(
        rows,
        _encode_cursor("older", rows[-1]) if rows else None,
        _encode_cursor("newer", rows[0]) if more and rows else None,
    )


def list_movements(
    actor: Actor, org: Organization, *, limit: int = 50, cursor: str | None = None, **filters
) -> tuple[list[LedgerEntry], str | None]:
    """A page of movements and the cursor of the next (older) page, or None at the end."""
    page = page_of(movements_query(actor, org, **filters), limit=limit, cursor=cursor)
    return page.entries, page.older_cursor


# -- names shown next to movements ----------------------------------------------------------


def member_names(org: Organization) -> dict[str, str]:
    """Every member's name, removed members included (their movements stay in history)."""
    rows = db.session.execute(
        select(Member.id, User.name)
        .join(User, User.id == Member.user_id)
        .where(Member.organization_id == org.id, Member.reseller_id == org.reseller_id)
    )
    return dict(rows.all())


def user_names(user_ids) -> dict[str, str]:
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def account_label(kind, member_id: str | None, names: dict[str, str]) -> str:
    if kind == AccountKind.SYSTEM:
        return str(_l("System Credits"))
    return str(_l("User Credits: %(name)s", name=names.get(member_id or "", member_id or "")))


# -- CSV rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MovementRow:
    created_at: datetime
    type: EntryType
    account_kind: AccountKind
    member_id: str
    credits: int
    balance_after: int | None
    amount: object
    currency: str | None
    reference: str | None
    actor_name: str | None
    real_user_name: str | None
    api_key_id: str | None
    member_name: str | None
    organization_name: str | None
    organization_timezone: str | None


def _row_query(query: Select) -> Select:
    """The movements query as plain columns with the names joined in (no ORM objects)."""
    movements = query.subquery()
    entry = aliased(LedgerEntry, movements)
    doer = aliased(User)
    real = aliased(User)
    member_user = aliased(User)
    return (
        select(
            entry.created_at,
            entry.type,
            entry.account_kind,
            entry.member_id,
            entry.credits,
            entry.balance_after,
            entry.amount,
            entry.currency,
            entry.reference,
            doer.name,
            real.name,
            entry.api_key_id,
            member_user.name,
            Organization.name,
            Organization.timezone,
        )
        .join(Organization, Organization.id == entry.organization_id)
        .outerjoin(doer, doer.id == entry.actor_user_id)
        .outerjoin(real, real.id == entry.real_user_id)
        .outerjoin(Member, and_(Member.id == entry.member_id, entry.member_id != ""))
        .outerjoin(member_user, member_user.id == Member.user_id)
        .order_by(entry.created_at.desc(), entry.id.desc())
    )


def iter_movement_rows(query: Select) -> Iterator[MovementRow]:
    """Stream a movements query in batches (server-side cursor on PostgreSQL): any size,
    constant memory."""
    result = db.session.execute(
        _row_query(query).execution_options(yield_per=CSV_BATCH, stream_results=True)
    )
    try:
        for row in result:
            yield MovementRow(*row)
    finally:
        result.close()


def iter_organization_rows(
    actor: Actor, org: Organization, *, since: datetime | None = None, **filters
) -> Iterator[MovementRow]:
    return iter_movement_rows(movements_query(actor, org, since=since, **filters))


def iter_reseller_rows(
    actor: Actor, *, since: datetime | None = None, **filters
) -> Iterator[MovementRow]:
    return iter_movement_rows(reseller_movements_query(actor, since=since, **filters))


# -- the 30-day chart -----------------------------------------------------------------------


@dataclass(frozen=True)
class DayPoint:
    day: date
    balance: int  # the system pool at the end of the day
    usage: int  # credits used that day, every account


def daily_series(org: Organization, days: int = LOG_DAYS) -> list[DayPoint]:
    """Per local day (organization's timezone): the system pool's closing balance and usage.

    One grouped query over the window: each posting falls into the day it happened
    (``occurred_at``: a late-reported SMS counts on the day it was sent); the closing
    balance of a day is today's balance minus what the pool moved after that day.
    """
    days = max(1, min(int(days), 366))
    zone = ZoneInfo(org.timezone)
    today = utcnow().astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    starts = [datetime.combine(first + timedelta(days=i), time(), tzinfo=zone) for i in range(days)]
    bucket = case(
        *[(LedgerEntry.occurred_at < start, i - 1) for i, start in enumerate(starts[1:], 1)],
        else_=days - 1,
    )
    is_system = LedgerEntry.account_kind == AccountKind.SYSTEM
    is_usage = LedgerEntry.type == EntryType.USAGE
    # Bucket in a subquery, group outside: PostgreSQL would not match two copies of the
    # CASE with their own bound parameters between SELECT and GROUP BY.
    postings = (
        select(
            bucket.label("bucket"),
            case((is_system, LedgerEntry.credits), else_=0).label("pool"),
            case((is_usage, -LedgerEntry.credits), else_=0).label("used"),
        )
        .where(
            LedgerEntry.organization_id == org.id,
            LedgerEntry.reseller_id == org.reseller_id,
            LedgerEntry.balance_after.is_not(None),
            LedgerEntry.occurred_at >= starts[0],
        )
        .subquery()
    )
    rows = db.session.execute(
        select(postings.c.bucket, func.sum(postings.c.pool), func.sum(postings.c.used)).group_by(
            postings.c.bucket
        )
    ).all()
    moved = [0] * days
    used = [0] * days
    for index, pool_delta, usage in rows:
        moved[int(index)] = int(pool_delta or 0)
        used[int(index)] = int(usage or 0)
    current = db.session.scalar(
        select(func.coalesce(func.sum(CreditAccount.balance), 0)).where(
            CreditAccount.organization_id == org.id,
            CreditAccount.kind == AccountKind.SYSTEM,
        )
    )
    closing = int(current or 0)
    points = []
    for i in reversed(range(days)):
        points.append(DayPoint(first + timedelta(days=i), closing, used[i]))
        closing -= moved[i]
    return list(reversed(points))
