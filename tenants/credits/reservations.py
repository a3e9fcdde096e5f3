"""Credits reserved for scheduled campaign runs: part of an account's balance no debit may take.

An account's ``reserved`` is moved only here, by one conditional UPDATE under the account's
row lock (the lock every balance change takes): a reservation succeeds only while the
account's available credits (balance - reserved) cover it, and every debit of the ledger
(usage, messages, transfers out, withdrawals: ``balance + delta >= reserved``) stops at it.
So reserved <= balance always (a CHECK is the last guard), and a reservation never changes
the ledger: the credits stay the account's until the run is charged, or come free again.

Days left count the credits available (tenants.credits.forecast): a reservation lowers them
like a usage does, and alerts once per crossing of the alert days by the forecast's rule,
under the organization's row lock its reserved_credits UPDATE takes; a release lifts them.
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, select, update

from tenants.core.errors import CreditsReserved, InsufficientCredits
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import forecast
from tenants.credits.ledger import account_id
from tenants.models import Organization
from tenants.models.ledger import HOLDING_KINDS, AccountKind, AccountRef, CreditAccount

_ACCOUNTS = CreditAccount.__table__
_RESERVE = (
    update(_ACCOUNTS)
    .where(
        _ACCOUNTS.c.id == bindparam("account"),
        _ACCOUNTS.c.balance - _ACCOUNTS.c.reserved >= bindparam("credits"),
    )
    .values(reserved=_ACCOUNTS.c.reserved + bindparam("credits"), updated_at=bindparam("now"))
    .returning(_ACCOUNTS.c.reserved)
)
_RELEASE = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("account"))
    .values(reserved=_ACCOUNTS.c.reserved - bindparam("credits"), updated_at=bindparam("now"))
    .returning(_ACCOUNTS.c.reserved)
)


_ORGANIZATIONS = Organization.__table__
_MOVE_RESERVED = (
    update(_ORGANIZATIONS)
    .where(_ORGANIZATIONS.c.id == bindparam("organization"))
    .values(reserved_credits=_ORGANIZATIONS.c.reserved_credits + bindparam("credits"))
    .returning(*forecast.FORECAST_STATE)
)


def _move_reserved(org: Organization, credits: int) -> None:
    """The organization's reserved_credits (the Customer app's list, and the days left its
    database computes), after the account's lock: the ledger's order, accounts then the
    organization's row. A reservation that takes days left across the alert days alerts."""
    state = db.session.execute(
        _MOVE_RESERVED, {"organization": org.id, "credits": credits}
    ).one_or_none()
    if state is None:
        return
    forecast.keep_in_step(org, state, ("reserved_credits", "forecast_days_left"))
    forecast.changed(state, reserved=credits)


def reserve_credits(org: Organization, ref: AccountRef, credits: int) -> None:
    """Hold ``credits`` of the account for a scheduled run; InsufficientCredits (402, nothing
    held) when its available credits are short."""
    if credits <= 0:
        return
    acc = account_id(org, ref)
    held = db.session.execute(
        _RESERVE, {"account": acc, "credits": credits, "now": utcnow()}
    ).scalar()
    if held is None:
        raise InsufficientCredits()
    _move_reserved(org, credits)


def available_credits(org: Organization, ref: AccountRef) -> int:
    """What the account may still reserve or spend: its balance less what is reserved."""
    acc = account_id(org, ref)
    row = db.session.execute(
        select(_ACCOUNTS.c.balance - _ACCOUNTS.c.reserved).where(_ACCOUNTS.c.id == acc)
    ).scalar()
    return max(int(row or 0), 0)


def release_credits(org: Organization, ref: AccountRef, credits: int) -> None:
    """Free ``credits`` held for a run (cancelled, or about to be charged for real)."""
    if credits <= 0:
        return
    acc = account_id(org, ref)
    db.session.execute(_RELEASE, {"account": acc, "credits": credits, "now": utcnow()})
    _move_reserved(org, -credits)


def refuse_while_reserved(org: Organization, refs: list[AccountRef]) -> None:
    """CreditsReserved (409) when scheduled campaign runs hold credits on one of the accounts
    (a member account about to be emptied and closed): their campaigns are cancelled first."""
    if not refs:
        return
    held = db.session.scalar(
        select(func.coalesce(func.sum(CreditAccount.reserved), 0)).where(
            CreditAccount.organization_id == org.id,
            CreditAccount.kind == AccountKind.MEMBER,
            CreditAccount.member_id.in_(sorted(ref.member_id for ref in refs)),
        )
    )
    if held:
        raise CreditsReserved()


def reserved_credits(org: Organization) -> int:
    """The credits the organization's accounts hold reserved for scheduled runs."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(CreditAccount.reserved), 0)).where(
                CreditAccount.organization_id == org.id,
                CreditAccount.kind.in_(HOLDING_KINDS),
            )
        )
    )
