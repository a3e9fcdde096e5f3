"""The wholesale pool's verbs: the platform adds a lot, a ledger transaction draws from the
pool (or gives back to it) in its own transaction, the reseller sets its low-pool alert.

The pool's row (``wholesale_pools``) is changed only by a conditional ``UPDATE … SET credits
= credits + :delta WHERE credits + :delta >= 0``: its row lock serializes the reseller's
draws, the WHERE refuses to go below zero (ResellerCreditsExhausted, 402, and the caller's
whole transaction is undone), a CHECK constraint is the last guard. Every change of the lots
(``remaining``) happens under that lock, so the lots need no lock of their own and the pool
always equals the sum of its lots' ``remaining``.

Lock order: the pool is locked last, after the customer's accounts and organization rows
(tenants.credits.ledger) and postpaid rows (tenants.billing), so concurrent movements of one
reseller's customers wait for each other instead of deadlocking.

Which credits draw (``pool_change``): what a customer receives from outside its own accounts
(a purchase by any method, an automatic top-up, a grant) and, postpaid, every credit used
(usage, messages sent). A withdrawal, and a postpaid refund, give back. Prepaid usage and
refunds, transfers and reservations move credits the customer already holds: the pool is
not touched. So, for each reseller: pool + held + used == given (SPEC §10).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update

from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.audit import log as audit
from tenants.core.bulk import dialect_insert
from tenants.core.checks import collect_field_errors
from tenants.core.errors import ResellerCreditsExhausted, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import MONEY_SCALE, new_id, utcnow
from tenants.core.validation import clean_credits, clean_currency, read_decimal
from tenants.models import Reseller
from tenants.models.ledger import HOLDING_KINDS, USED_TYPES, AccountKind
from tenants.models.wholesale import (
    MarginRate,
    WholesaleDraw,
    WholesaleLot,
    WholesalePool,
)
from tenants.wholesale import lots
from tenants.wholesale.alerts import pool_changed
from tenants.wholesale.margin import clean_period, cost_currency

# Counter-accounts whose postings bring credits in from outside a customer or take them out.
OUTSIDE_KINDS = (AccountKind.PURCHASES, AccountKind.WITHDRAWALS, AccountKind.ADJUSTMENTS)
MAX_UNIT_COST = Decimal("1000")


def pool_change(postings: Iterable, *, postpaid: bool) -> int:
    """How a ledger transaction's postings (anything with ``ref``, ``credits``, ``type``)
    move its reseller's pool: negative draws, positive gives back, 0 leaves it alone.

    Prepaid: the credits a customer receives from outside (a purchase, a top-up, a grant:
    their counter-account posts minus) or gives back (a withdrawal: plus). Postpaid, whose
    accounts hold nothing: the credits it uses (usage, messages) and gets back (refunds)."""
    if postpaid:
        return sum(
            p.credits for p in postings if p.ref.kind in HOLDING_KINDS and p.type in USED_TYPES
        )
    return sum(p.credits for p in postings if p.ref.kind in OUTSIDE_KINDS)


def draw_for_transaction(org, postings: Iterable, *, postpaid: bool, transaction_id: str) -> None:
    """Move ``org``'s reseller's pool by what the ledger transaction ``transaction_id`` gives
    or takes back (``pool_change``), in the caller's transaction; ResellerCreditsExhausted
    when the pool cannot cover it."""
    change = pool_change(postings, postpaid=postpaid)
    if change:
        move_pool(org.reseller_id, [(org.id, change)], transaction_id=transaction_id)


_POOLS = WholesalePool.__table__
_MOVE = (
    update(_POOLS)
    .where(
        _POOLS.c.reseller_id == bindparam("reseller"),
        _POOLS.c.credits + bindparam("delta") >= 0,
    )
    .values(credits=_POOLS.c.credits + bindparam("delta"), updated_at=bindparam("now"))
    .returning(_POOLS.c.credits, _POOLS.c.low_balance_threshold)
)


def _ensure_pool(reseller_id: str) -> None:
    """The reseller's pool row, created empty on first use (race-safe)."""
    db.session.execute(
        dialect_insert(_POOLS)
        .values(reseller_id=reseller_id, credits=0, low_balance_threshold=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["reseller_id"])
    )


def _update_pool(reseller_id: str, delta: int) -> tuple[int, int] | None:
    params = {"reseller": reseller_id, "delta": delta, "now": utcnow()}
    row = db.session.execute(_MOVE, params).first()
    if row is None and delta >= 0:
        _ensure_pool(reseller_id)
        row = db.session.execute(_MOVE, params).first()
    return None if row is None else (row[0], row[1])


def move_pool(
    reseller_id: str, changes: list[tuple[str, int]], *, transaction_id: str | None = None
) -> int:
    """Apply each customer's ``(organization_id, change)`` to the reseller's pool in one
    conditional UPDATE (its row locked until the commit): draws come out of the lots first
    in, first out, give-backs go back into the lots most recently drawn from; each is
    recorded (``wholesale_draws``) for the margin report. The pool after; refused whole
    (ResellerCreditsExhausted) when it would go below zero."""
    delta = sum(change for _, change in changes)
    moved = _update_pool(reseller_id, delta)
    if moved is None:
        raise ResellerCreditsExhausted()
    after, threshold = moved
    now, draws = utcnow(), []
    for organization_id, change in changes:
        if change < 0:
            draws += lots.take(reseller_id, organization_id, -change)
        elif change > 0:
            draws += lots.give_back(reseller_id, organization_id, change)
    if draws:
        db.session.execute(
            WholesaleDraw.__table__.insert(),
            [
                {
                    "id": new_id("drw"),
                    "reseller_id": reseller_id,
                    "organization_id": organization_id,
                    "lot_id": lot_id,
                    "credits": credits,
                    "transaction_id": transaction_id,
                    "created_at": now,
                }
                for organization_id, lot_id, credits in draws
            ],
        )
    if delta:
        lots.count_day(reseller_id, -delta, now)
        pool_changed(reseller_id, after - delta, after, threshold)
    return after


# -- the platform adds a lot; the reseller sets its alert -----------------------------------


def clean_unit_cost(value, field: str = "unit_cost") -> Decimal:
    """A unit cost: a number from 0 to MAX_UNIT_COST with at most 4 decimals (Money)."""
    cost = read_decimal(value)
    if cost is None:
        raise ValidationFailed(fields={field: str(_l("Enter a number, e.g. 0.020."))})
    if cost < 0 or cost > MAX_UNIT_COST:
        raise ValidationFailed(fields={field: str(_l("Enter a cost from 0 to 1,000."))})
    if cost != cost.quantize(MONEY_SCALE):
        raise ValidationFailed(fields={field: str(_l("Use at most 4 decimals."))})
    return cost.quantize(MONEY_SCALE)


@dataclass(frozen=True)
class LotAdded:
    lot: WholesaleLot
    pool_credits: int


def add_lot(
    actor: Actor,
    reseller: Reseller,
    *,
    credits,
    unit_cost,
    currency,
    opening_balance: bool = False,
) -> LotAdded:
    """The platform sells the reseller ``credits`` at ``unit_cost`` each: a lot in its pool."""
    require(actor, Permission.MANAGE_PLATFORM)
    values = collect_field_errors(
        {
            "credits": lambda: clean_credits(credits),
            "unit_cost": lambda: clean_unit_cost(unit_cost),
            "currency": lambda: clean_currency(currency),
        }
    )
    moved = _update_pool(reseller.id, values["credits"])
    if moved is None:  # cannot happen: adding never goes below zero
        raise RuntimeError("the wholesale pool refused a lot")
    after, _threshold = moved
    lot = WholesaleLot(
        id=new_id("lot"),
        reseller_id=reseller.id,
        credits=values["credits"],
        remaining=values["credits"],
        unit_cost=values["unit_cost"],
        currency=values["currency"],
        opening_balance=opening_balance,
        created_at=utcnow(),
        created_by_user_id=actor.user_id,
    )
    db.session.add(lot)
    db.session.flush()
    audit.record(
        actor,
        "wholesale.lot_added",
        reseller_id=reseller.id,
        target_type="wholesale_lot",
        target_id=lot.id,
        changes={
            "credits": [None, lot.credits],
            "unit_cost": [None, audit.money(lot.unit_cost, lot.currency)],
            "opening_balance": [None, opening_balance],
        },
    )
    return LotAdded(lot, after)


def set_low_pool_threshold(actor: Actor, reseller: Reseller, threshold) -> int:
    """The reseller's low-pool alert level (0: no alert); audited when it changes."""
    require(actor, Permission.MANAGE_RESELLER_SETTINGS)
    threshold = clean_credits(threshold, "low_balance_threshold", minimum=0)
    _ensure_pool(reseller.id)
    pool = db.session.scalar(
        select(WholesalePool).where(WholesalePool.reseller_id == reseller.id).with_for_update()
    )
    before = pool.low_balance_threshold
    if before != threshold:
        pool.low_balance_threshold = threshold
        pool.updated_at = utcnow()
        db.session.flush()
        audit.record(
            actor,
            "wholesale.threshold_changed",
            reseller_id=reseller.id,
            target_type="reseller",
            target_id=reseller.id,
            changes={"low_pool_threshold": [before, threshold]},
        )
    return threshold


def lock_pools(reseller_ids: Iterable[str]) -> dict[str, int]:
    """Lock the resellers' pools (in id order, created empty when missing) and read their
    credits, for a batch that decides its draws in memory and then calls ``move_pool``."""
    ids = sorted(set(reseller_ids))
    for reseller_id in ids:
        _ensure_pool(reseller_id)
    rows = db.session.execute(
        select(WholesalePool.reseller_id, WholesalePool.credits)
        .where(WholesalePool.reseller_id.in_(ids))
        .order_by(WholesalePool.reseller_id)
        .with_for_update()
    ).all()
    return dict(rows)


def require_available(reseller_id: str, credits: int) -> None:
    """Refuse early (a purchase being started) what the pool cannot cover now, without a
    lock; a payment holds the pool (``hold_for_payment``) and the draw applies it."""
    held = db.session.scalar(
        select(WholesalePool.credits).where(WholesalePool.reseller_id == reseller_id)
    )
    if (held or 0) < credits:
        raise ResellerCreditsExhausted()


# Locks the pool's row (PostgreSQL: as a draw does; SQLite: the database's write lock) when
# it covers the credits; changes nothing but the row's time.
_HOLD = (
    update(_POOLS)
    .where(
        _POOLS.c.reseller_id == bindparam("reseller"),
        _POOLS.c.credits >= bindparam("wanted"),
    )
    .values(updated_at=bindparam("now"))
)


def hold_for_payment(reseller_id: str, credits: int) -> None:
    """Before a card is charged for ``credits``: lock the reseller's pool when it covers
    them (ResellerCreditsExhausted, 402, when it does not). Until the caller's transaction
    ends nothing else can draw from the pool, so the draw applying the credits after the
    charge cannot be refused: a charged card always gets its credits. Take it where a draw
    takes it, last, after the customer's account and organization rows (the module's lock
    order; tenants.credits.purchases.pay)."""
    held = db.session.execute(
        _HOLD, {"reseller": reseller_id, "wanted": credits, "now": utcnow()}
    ).rowcount
    if not held:
        raise ResellerCreditsExhausted()


# -- the reseller's month rates for its margin report ----------------------------------------

MAX_MARGIN_RATE = Decimal("1000000")


def clean_margin_rate(value, field: str = "rate") -> Decimal:
    """A conversion rate: more than 0, at most 1,000,000, at most 4 decimals."""
    rate = read_decimal(value)
    if rate is None:
        raise ValidationFailed(fields={field: str(_l("Enter a number, e.g. 0.92."))})
    if rate <= 0 or rate > MAX_MARGIN_RATE:
        raise ValidationFailed(fields={field: str(_l("Enter a rate above 0."))})
    if rate != rate.quantize(MONEY_SCALE):
        raise ValidationFailed(fields={field: str(_l("Use at most 4 decimals."))})
    return rate.quantize(MONEY_SCALE)


def set_margin_rate(actor: Actor, reseller: Reseller, *, period, currency, rate) -> Decimal | None:
    """The month's rate converting the reseller's revenue in ``currency`` to its lots'
    currency (``rate`` None: cleared); audited when it changes. The rate after."""
    require(actor, Permission.MANAGE_RESELLER_SETTINGS)
    checks = {
        "period": lambda: clean_period(period),
        "currency": lambda: clean_currency(currency),
    }
    if rate is not None:
        checks["rate"] = lambda: clean_margin_rate(rate)
    values = collect_field_errors(checks)
    if values["currency"] == cost_currency(reseller.id):
        raise ValidationFailed(
            fields={"currency": str(_l("Revenue in the lots' currency needs no rate."))}
        )
    key = (reseller.id, values["period"], values["currency"])
    row = db.session.get(MarginRate, key, with_for_update=True)
    before = None if row is None else row.rate
    after = values.get("rate")
    if before == after:
        return after
    if after is None:
        db.session.delete(row)
    elif row is None:
        db.session.add(
            MarginRate(
                reseller_id=reseller.id,
                period=values["period"],
                currency=values["currency"],
                rate=after,
                updated_at=utcnow(),
            )
        )
    else:
        row.rate, row.updated_at = after, utcnow()
    db.session.flush()
    audit.record(
        actor,
        "wholesale.margin_rate_changed",
        reseller_id=reseller.id,
        target_type="margin_rate",
        target_id=f"{values['period']}/{values['currency']}",
        changes={
            "rate": [
                None if before is None else str(before),
                None if after is None else str(after),
            ],
        },
    )
    return after
