"""Dashboard figures: customers by status and pricing model, credits sold and used per day,
and the organizations closest to running out -- for a reseller's staff (its organizations) or
the platform (every reseller).

Every query starts from tenants.access.scoping (organizations_query, resellers_query), so another
reseller's organizations and ledger entries never count; each figure is one grouped query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date

from sqlalchemy import Float, case, cast, func

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.core import day_buckets
from tenants.core.extensions import db
from tenants.models import (
    EntryType,
    LedgerEntry,
    Organization,
    OrganizationStatus,
    PricingModel,
    Reseller,
)
from tenants.models.ledger import USED_TYPES

DAYS = 30
RUNNING_OUT = 5
SOLD_TYPES = (EntryType.PURCHASE, EntryType.AUTO_TOP_UP)


@dataclass(frozen=True)
class CustomerCounts:
    active: int = 0
    suspended: int = 0
    prepaid: int = 0
    postpaid: int = 0

    @property
    def total(self) -> int:
        return self.active + self.suspended


@dataclass(frozen=True)
class DayCredits:
    day: date  # UTC day
    sold: int  # purchases and automatic top-ups
    used: int  # usage (sent SMS), prepaid and postpaid


@dataclass(frozen=True)
class RunningOut:
    id: str
    name: str
    reseller_id: str
    credits: int
    threshold: int


def customer_counts(actor: Actor) -> CustomerCounts:
    """Organizations (deleted ones left out) by status and by pricing model."""
    rows = db.session.execute(
        scoping.organizations_query(actor)
        .with_only_columns(Organization.status, Organization.pricing_model, func.count())
        .group_by(Organization.status, Organization.pricing_model)
    ).all()
    counts = {"active": 0, "suspended": 0, "prepaid": 0, "postpaid": 0}
    for status, model, count in rows:
        if status in (OrganizationStatus.ACTIVE, OrganizationStatus.SUSPENDED):
            counts[str(status)] += count
        counts[str(model)] += count
    return CustomerCounts(**counts)


def daily_credits(actor: Actor, days: int = DAYS) -> list[DayCredits]:
    """Per UTC day over the last ``days`` days (today included): credits sold (holding-side
    postings of purchases and automatic top-ups) and credits used (usage, messages less
    their refunds, prepaid and postpaid: counted on the holding side, minus the credits
    there, as each moves credits between a holding account and the usage counter-account
    only), each on the day it happened (``occurred_at``: SMS reported late count on the day
    they were sent, SPEC §4).

    One grouped query of movements (``balance_after`` set) over the window: ``reseller_id
    IN (the resellers in scope) AND occurred_at >= start`` reads the movements' (reseller_id,
    occurred_at) index, for one reseller or for all of them.
    """
    starts = day_buckets.day_starts(days, UTC)
    is_sold = LedgerEntry.type.in_(SOLD_TYPES)
    in_scope = scoping.resellers_query(actor).with_only_columns(Reseller.id)
    totals = day_buckets.sums_by_day(
        LedgerEntry.occurred_at,
        starts,
        {
            "sold": case((is_sold, LedgerEntry.credits), else_=0),
            "used": case((is_sold, 0), else_=-LedgerEntry.credits),
        },
        LedgerEntry.reseller_id.in_(in_scope),
        LedgerEntry.balance_after.is_not(None),
        LedgerEntry.occurred_at >= starts[0],
        LedgerEntry.type.in_((*SOLD_TYPES, *USED_TYPES)),
    )
    sold, used = totals["sold"], totals["used"]
    return [DayCredits(start.date(), sold[i], used[i]) for i, start in enumerate(starts)]


def running_out(actor: Actor, limit: int = RUNNING_OUT) -> list[RunningOut]:
    """Active prepaid organizations with the lowest balance relative to their low-balance
    threshold (balance / threshold; a threshold of 0 counts as 1), lowest first."""
    threshold = case(
        (Organization.low_balance_threshold > 0, Organization.low_balance_threshold), else_=1
    )
    ratio = cast(Organization.total_credits, Float) / cast(threshold, Float)
    rows = db.session.execute(
        scoping.organizations_query(actor)
        .where(
            Organization.status == OrganizationStatus.ACTIVE,
            Organization.pricing_model == PricingModel.PREPAID,
        )
        .with_only_columns(
            Organization.id,
            Organization.name,
            Organization.reseller_id,
            Organization.total_credits,
            Organization.low_balance_threshold,
        )
        .order_by(ratio, Organization.total_credits, Organization.search_name, Organization.id)
        .limit(limit)
    ).all()
    return [RunningOut(*row) for row in rows]


@dataclass(frozen=True)
class Dashboard:
    customers: CustomerCounts
    days: list[DayCredits]
    running_out: list[RunningOut]

    @property
    def sold_total(self) -> int:
        return sum(day.sold for day in self.days)

    @property
    def used_total(self) -> int:
        return sum(day.used for day in self.days)


def dashboard(actor: Actor) -> Dashboard:
    return Dashboard(customer_counts(actor), daily_credits(actor), running_out(actor))
