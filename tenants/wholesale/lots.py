"""The wholesale pool's lots, first in, first out (tenants.wholesale.operations.move_pool
calls these under the pool's row lock): credits drawn come out of the oldest lots with some
left, credits given back go into the lots most recently drawn from, and each UTC day's net
draw is kept for the pool's forecast."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update

from tenants.core.bulk import dialect_insert
from tenants.core.extensions import db
from tenants.core.types import new_id, utcnow
from tenants.models import Organization
from tenants.models.wholesale import WholesaleDay, WholesaleLot

_LOTS_AT_ONCE = 16
_LOTS = WholesaleLot.__table__


def _change_lot(lot_id: str, credits: int, *, grow: bool = False) -> None:
    values = {"remaining": _LOTS.c.remaining + credits}
    if grow:
        values["credits"] = _LOTS.c.credits + credits
    db.session.execute(update(_LOTS).where(_LOTS.c.id == lot_id).values(**values))


def take(reseller_id: str, organization_id: str, credits: int) -> list[tuple]:
    """Take ``credits`` out of the oldest lots with some left (under the pool's lock)."""
    left, draws = credits, []
    while left:
        lots = db.session.execute(
            select(_LOTS.c.id, _LOTS.c.remaining)
            .where(_LOTS.c.reseller_id == reseller_id, _LOTS.c.remaining > 0)
            .order_by(_LOTS.c.created_at, _LOTS.c.id)
            .limit(_LOTS_AT_ONCE)
        ).all()
        if not lots:  # the pool's UPDATE passed: its lots hold as much
            raise RuntimeError("the wholesale pool and its lots disagree")
        for lot_id, remaining in lots:
            take = min(remaining, left)
            _change_lot(lot_id, -take)
            draws.append((organization_id, lot_id, take))
            left -= take
            if not left:
                break
    return draws


def give_back(reseller_id: str, organization_id: str, credits: int) -> list[tuple]:
    """Put ``credits`` back into the lots most recently drawn from (the newest first), so
    the lots still in the pool stay the oldest; credits that no lot gave (they were with
    the customers before pools began) join the reseller's opening-balance lot."""
    left, draws = credits, []
    while left:
        lots = db.session.execute(
            select(_LOTS.c.id, _LOTS.c.credits - _LOTS.c.remaining)
            .where(_LOTS.c.reseller_id == reseller_id, _LOTS.c.remaining < _LOTS.c.credits)
            .order_by(_LOTS.c.created_at.desc(), _LOTS.c.id.desc())
            .limit(_LOTS_AT_ONCE)
        ).all()
        if not lots:
            lot_id = _opening_lot(reseller_id, organization_id)
            _change_lot(lot_id, left, grow=True)
            draws.append((organization_id, lot_id, -left))
            break
        for lot_id, drawn in lots:
            back = min(drawn, left)
            _change_lot(lot_id, back)
            draws.append((organization_id, lot_id, -back))
            left -= back
            if not left:
                break
    return draws


def _opening_lot(reseller_id: str, organization_id: str) -> str:
    """The reseller's opening-balance lot, created empty (cost 0) when it has none."""
    found = db.session.scalar(
        select(_LOTS.c.id)
        .where(_LOTS.c.reseller_id == reseller_id, _LOTS.c.opening_balance.is_(True))
        .order_by(_LOTS.c.created_at)
        .limit(1)
    )
    if found:
        return found
    lots_currency = db.session.scalar(
        select(_LOTS.c.currency).where(_LOTS.c.reseller_id == reseller_id).limit(1)
    )
    lot = WholesaleLot(
        id=new_id("lot"),
        reseller_id=reseller_id,
        credits=0,
        remaining=0,
        unit_cost=Decimal(0),
        currency=lots_currency or _organization_currency(organization_id),
        opening_balance=True,
        created_at=utcnow(),
    )
    db.session.add(lot)
    db.session.flush()
    return lot.id


def _organization_currency(organization_id: str) -> str:
    return db.session.scalar(
        select(Organization.currency).where(Organization.id == organization_id)
    )


def count_day(reseller_id: str, drawn: int, now: datetime) -> None:
    """Add ``drawn`` (net) to the reseller's total of the UTC day: the forecast's input."""
    table = WholesaleDay.__table__
    statement = dialect_insert(table).values(reseller_id=reseller_id, day=now.date(), credits=drawn)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["reseller_id", "day"],
            set_={"credits": table.c.credits + statement.excluded.credits},
        )
    )
