"""Reading the ledger: movements of the accounts an actor may manage, in pages, and their names.

Only holding-account postings are movements (``balance_after`` is set on them); the
counter-account side of each transaction is bookkeeping nobody reads. Every query starts
from an organization reached through tenants.access.scoping, or from the reseller's organizations
as scoping lists them, so another tenant's entries never appear.

Movements are dated by ``occurred_at`` (SPEC §4: when the usage happened, which a sending
platform may report up to 35 days late; for every other movement the moment it was recorded):
lists are ordered by it, date filters bound it, and the recording time (``created_at``) is
shown beside it when the two are apart (``recorded_apart``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import format_decimal, get_translations, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, func, or_, select

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.core import paging
from tenants.core.errors import Forbidden, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits.ledger import parse_account
from tenants.models import (
    AccountKind,
    EntryType,
    LedgerEntry,
    Member,
    Organization,
    User,
)
from tenants.models.ledger import AccountRef
from tenants.people.users import users_by_id

LOG_DAYS = 30
# Usage may be reported this late (SPEC §4): a movement happened at most this long before it
# was recorded (tenants.credits.operations.clean_occurred_at refuses older usage).
LATE_USAGE_DAYS = 35
MAX_PAGE_SIZE = 200
# A movement recorded this long before or after it happened shows its recording time too.
RECORDED_APART = timedelta(minutes=1)

ENTRY_TYPE_LABELS = {
    EntryType.PURCHASE: _l("Purchase"),
    EntryType.AUTO_TOP_UP: _l("Automatic top-up"),
    EntryType.TRANSFER_IN: _l("Transfer in"),
    EntryType.TRANSFER_OUT: _l("Transfer out"),
    EntryType.USAGE: _l("Usage"),
    EntryType.WITHDRAWAL: _l("Withdrawal"),
    EntryType.ADJUSTMENT: _l("Adjustment"),
    EntryType.PAYMENT: _l("Payment"),
    EntryType.PAYMENT_VOID: _l("Payment voided"),
    EntryType.INVOICE: _l("Invoice"),
    EntryType.MESSAGE: _l("SMS sent"),
    EntryType.REFUND: _l("Refund"),
}


def entry_type_label(value) -> str:
    try:
        return str(ENTRY_TYPE_LABELS[EntryType(value)])
    except ValueError:
        return str(value)


def recorded_apart(occurred_at: datetime | None, created_at: datetime | None) -> bool:
    """Whether a movement was recorded apart from when it happened (late usage): then its
    recording time is shown beside its date (pages, print report and CSV alike)."""
    if occurred_at is None or created_at is None:
        return False
    return abs(created_at - occurred_at) >= RECORDED_APART


def credits_phrase(credits: int) -> str:
    """ "1 credit", "1,000 credits": the templates' ngettext phrase, the number formatted."""
    plural = get_translations().ungettext("%(num)s credit", "%(num)s credits", credits)
    return plural % {"num": format_decimal(credits)}


def clean_types(types) -> list[EntryType]:
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
    if not scoping.may_see_account(actor, org, ref):
        raise Forbidden()
    return and_(LedgerEntry.account_kind == ref.kind, LedgerEntry.member_id == ref.member_id)


def _parse_any_account(org: Organization, value) -> AccountRef:
    """Like ledger.parse_account, but also the accounts of members removed since."""
    ref = AccountRef.parse(value)
    if ref is not None and ref.kind == AccountKind.MEMBER:
        return AccountRef(AccountKind.MEMBER, ref.member_id[:40])
    return parse_account(org, value)


def _common_filters(query: Select, *, types, since, until, q) -> Select:
    types = clean_types(types)
    if types:
        query = query.where(LedgerEntry.type.in_(types))
    if since is not None:
        query = query.where(LedgerEntry.occurred_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.occurred_at < until)
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
    """Movements of the organization's holding accounts the actor may manage, the latest to
    happen first."""
    org = scoping.get_organization(actor, org.id, include_deleted=True)
    query = select(LedgerEntry).where(
        LedgerEntry.organization_id == org.id,
        LedgerEntry.reseller_id == org.reseller_id,
        scoping.visible_accounts(actor, org),
    )
    account_clause = _account_filter(actor, org, account)
    if account_clause is not None:
        query = query.where(account_clause)
    query = _common_filters(query, types=types, since=since, until=until, q=q)
    return query.order_by(LedgerEntry.occurred_at.desc(), LedgerEntry.id.desc())


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
    return query.order_by(LedgerEntry.occurred_at.desc(), LedgerEntry.id.desc())


def last_days(days: int = LOG_DAYS) -> datetime:
    return utcnow() - timedelta(days=days)


# -- keyset pagination ----------------------------------------------------------------------


@dataclass(frozen=True)
class MovementPage:
    entries: list[LedgerEntry]
    older_cursor: str | None
    newer_cursor: str | None


MOVEMENT_CURSOR = paging.Cursor((paging.choice("older", "newer"), paging.MOMENT, paging.TEXT))


def _encode_cursor(direction: str, entry: LedgerEntry) -> str:
    return MOVEMENT_CURSOR.encode(direction, entry.occurred_at, entry.id)


def page_of(query: Select, *, limit: int = 50, cursor: str | None = None) -> MovementPage:
    """One page of a latest-first movements query, keyset on (occurred_at, id)."""
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    if not cursor:
        rows = list(db.session.scalars(query.limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return MovementPage(rows, _encode_cursor("older", rows[-1]) if more else None, None)
    direction, moment, ident = MOVEMENT_CURSOR.decode(cursor)
    if direction == "older":
        rows = list(
            db.session.scalars(
                query.where(
                    or_(
                        LedgerEntry.occurred_at < moment,
                        and_(LedgerEntry.occurred_at == moment, LedgerEntry.id < ident),
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
    ascending = query.order_by(None).order_by(LedgerEntry.occurred_at.asc(), LedgerEntry.id.asc())
    rows = list(
        db.session.scalars(
            ascending.where(
                or_(
                    LedgerEntry.occurred_at > moment,
                    and_(LedgerEntry.occurred_at == moment, LedgerEntry.id > ident),
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


def account_label(kind: AccountKind, name: str | None = None) -> str:
    """How people read a holding account: the system pool, or a member's credits by name."""
    if kind == AccountKind.SYSTEM:
        return gettext("System Credits")
    return gettext("User Credits: %(name)s", name=name)


def entry_names(entries, org: Organization | None = None) -> dict:
    """Who and what the entries of a page name: members, users, organizations and timezones."""
    member_ids = {e.member_id for e in entries if e.member_id}
    org_ids = {e.organization_id for e in entries}
    members = {}
    if member_ids:
        members = dict(
            db.session.execute(
                select(Member.id, User.name)
                .join(User, User.id == Member.user_id)
                .where(Member.id.in_(member_ids))
            ).all()
        )
    orgs, zones = {}, {}
    if org is None and org_ids:
        rows = db.session.execute(
            select(Organization.id, Organization.name, Organization.timezone).where(
                Organization.id.in_(org_ids)
            )
        ).all()
        orgs = {org_id: name for org_id, name, _zone in rows}
        zones = {org_id: zone for org_id, _name, zone in rows}
    people = users_by_id(
        itertools.chain.from_iterable((e.actor_user_id, e.real_user_id) for e in entries)
    )
    users = {user_id: user.name for user_id, user in people.items()}
    return {"members": members, "users": users, "orgs": orgs, "zones": zones}
