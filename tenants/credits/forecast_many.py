"""The forecast of a batch's organizations (the batch usage paths: tenants.credits.ledger_many,
tenants.billing.postpaid_many), in a fixed number of statements whatever their number —
counted one by one, 1,000 events cost 1,280 statements. The rules are tenants.credits.forecast's.

Two ways: ``count_usage_many`` (after the batch's UPDATE of totals or debts locked the rows:
the day totals upserted, the windows read, the sums stored, the alerts), and, for prepaid
usage on PostgreSQL, ``prepare`` + ``finish``: the day totals and windows read before the
batch's UPDATE of the totals, which stores the sums in the same statement (``SUMS_COLUMNS``),
so each organization's row is written once, not twice (bench/README B6).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import bindparam, select, text, update

from tenants.core.bulk import pg_array
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits.forecast import (
    FORECAST_STATE,
    after_counting,
    counted_usage,
    in_window,
    may_alert,
    window_sums,
)
from tenants.credits.forecast_days import (
    Used,
    by_day,
    day_rows,
    days_upsert,
    upsert_days,
    window_start,
)
from tenants.models import Organization
from tenants.models.ledger import HOLDING_KINDS

# Each item: the organization (its row locked, or about to be, by the batch's UPDATE of
# totals or debts), what it used, and what the batch moved (as count_usage's ``moved``).
Counted = tuple[Organization, list[Used], int | Decimal]


@dataclass(frozen=True)
class Prepared:
    """A batch's usage in the day totals, and each organization's window sums after it."""

    items: list[Counted]
    added: dict[str, dict[date, tuple[int, Decimal]]]
    starts: dict[str, date]
    sums: dict[str, tuple[int, Decimal]]  # in_place: only the windows re-read
    gained: dict[str, tuple[int, Decimal]] | None = None  # in_place: what the sums gain


def usage_of(movements: list, results: list, nets: dict[str, int] | None = None) -> list[Counted]:
    """The accepted usage of each organization of a prepaid batch (tenants.credits
    .ledger_many's movements, and each one's result: a posting id when accepted): what it
    used and what its holding accounts moved (``nets``: that, already summed)."""
    now, used, moved = utcnow(), {}, {}
    for movement, result in zip(movements, results, strict=True):
        if isinstance(result, str):
            org_id = movement.org.id
            items = counted_usage(movement.postings, movement.occurred_at or now)
            used.setdefault(org_id, (movement.org, []))[1].extend(items)
            if nets is None:
                net = sum(p.credits for p in movement.postings if p.ref.kind in HOLDING_KINDS)
                moved[org_id] = moved.get(org_id, 0) + net
    moved = moved if nets is None else nets
    return [(org, items, moved.get(org_id, 0)) for org_id, (org, items) in used.items() if items]


@dataclass(frozen=True)
class Grouped:
    """A batch's usage by organization and day, the day totals' rows it adds and their
    upsert, built: what ``prepare`` writes, made before the batch's turn (it reads and locks
    nothing)."""

    items: list[Counted]
    added: dict[str, dict[date, tuple[int, Decimal]]]
    rows: list[dict]
    upsert: object  # days_upsert(rows)
    starts: dict[str, date]  # each organization's window, by one clock for the batch
    gained: dict[str, tuple[int, Decimal]] | None  # in_place: what its window gains
    reread: list[str]  # the organizations whose window sums prepare reads


def group(counted: Iterable[Counted], *, in_place: bool = False) -> Grouped:
    """The usage ``counted`` by organization (in id order) and day of its timezone, with
    what ``prepare`` then needs (``in_place``: as prepare's)."""
    items = sorted(counted, key=lambda item: item[0].id)
    added = {org.id: by_day(org, used) for org, used, _moved in items}
    rows = [row for org, _u, _m in items for row in day_rows(org, added[org.id])]
    zones = {org.timezone for org, _u, _m in items}
    first_days = {zone: window_start(zone) for zone in zones}  # one clock for the batch
    starts = {org.id: first_days[org.timezone] for org, _u, _m in items}
    gained = None
    if in_place:
        gained = {org_id: in_window(days, starts[org_id]) for org_id, days in added.items()}
    # Whose window sums prepare reads: all, or in place those whose stored window (as
    # loaded) is not the batch's.
    reread = [
        org.id
        for org, _u, _m in items
        if not in_place or org.forecast_window_start != starts[org.id]
    ]
    return Grouped(items, added, rows, days_upsert(rows), starts, gained, reread)


def prepare(counted: Iterable[Counted] | Grouped, *, in_place: bool = False) -> Prepared:
    """Add the batch's usage to the day totals (one upsert, in organization and day order)
    and read each organization's window sums (one SELECT), for the UPDATE that stores them.
    ``counted``: the usage, or it already grouped (``group``).

    ``in_place`` (the prepaid batch's UPDATE, IN_PLACE_SUMS_COLUMNS): a window is re-read
    only where the organization's stored window (as loaded) is not today's; the UPDATE adds
    what the batch used in the window to the stored sums where the row's window is today's
    when it is written (as tenants.credits.ledger_one does for one usage), else stores the
    sums re-read. In a steady stream of usage, no window is read at all."""
    grouped = counted if isinstance(counted, Grouped) else group(counted, in_place=in_place)
    if (grouped.gained is not None) != in_place:
        raise ValueError("grouped with another in_place than prepare's")
    items, added, starts = grouped.items, grouped.added, grouped.starts
    if grouped.upsert is not None:
        db.session.execute(grouped.upsert)
    sums = window_sums(grouped.reread, starts) if grouped.reread else {}
    return Prepared(items, added, starts, sums, grouped.gained)


def take_back(prepared: Prepared, organization_ids: set[str]) -> None:
    """Take out of the day totals what ``prepare`` added for these organizations (their
    movements were refused after all: the organization was deleted meanwhile)."""
    upsert_days(
        [
            row
            for org, _u, _m in prepared.items
            if org.id in organization_ids
            for row in day_rows(
                org,
                {day: (-c, -m) for day, (c, m) in prepared.added[org.id].items()},
            )
        ]
    )


def finish(prepared: Prepared, rows: dict) -> None:
    """After the UPDATE stored the sums: each organization's ORM object in step and its
    alert on a crossing; ``rows``: its FORECAST_STATE after, by id."""
    for org, _used, moved in prepared.items:
        row = rows.get(org.id)
        # after_counting changes nothing else for a read-only row that may not alert: a
        # batch's hundreds of organizations mostly (bench/README.md, B6).
        if row is not None and (isinstance(org, Organization) or may_alert(row)):
            after_counting(org, row, prepared.added[org.id], prepared.starts[org.id], moved)


def count_usage_many(counted: Iterable[Counted]) -> None:
    """count_usage for the organizations of a batch, under their row locks: their day
    totals in one upsert, their windows read in one SELECT, their sums stored and their
    rows read back for the alerts (``_store_sums``)."""
    prepared = prepare(counted)
    if prepared.items:
        finish(prepared, _store_sums(prepared))


# For an UPDATE of organizations AS o FROM unnest(…, :usages, :charges, :starts) AS v(…,
# usage, charge, start): the sums stored with the row's other change (a null leaves them).
SUMS_COLUMNS = (
    "forecast_usage_7d = COALESCE(v.usage, o.forecast_usage_7d),"
    " forecast_charge_7d = COALESCE(v.charge, o.forecast_charge_7d),"
    " forecast_window_start = COALESCE(v.start, o.forecast_window_start)"
)
SUMS_ARRAYS = "CAST(:usages AS bigint[]), CAST(:charges AS numeric[]), CAST(:starts AS date[])"
# The prepaid batch's UPDATE of totals (tenants.credits.ledger_many) FROM unnest(…) AS v(…,
# usage, charge, start, gained, gained_charge): where the row's window is the batch's (its
# lock held, so as written), the sums gain what the batch used in it; else the sums re-read
# are stored with their window (none re-read: the row is left to the next reader).
IN_PLACE_SUMS_COLUMNS = (
    "forecast_usage_7d = CASE WHEN v.start IS NULL THEN o.forecast_usage_7d"
    " WHEN o.forecast_window_start = v.start THEN o.forecast_usage_7d + v.gained"
    " ELSE COALESCE(v.usage, o.forecast_usage_7d) END,"
    " forecast_charge_7d = CASE WHEN v.start IS NULL THEN o.forecast_charge_7d"
    " WHEN o.forecast_window_start = v.start THEN o.forecast_charge_7d + v.gained_charge"
    " ELSE COALESCE(v.charge, o.forecast_charge_7d) END,"
    " forecast_window_start = CASE WHEN o.forecast_window_start = v.start"
    " OR v.usage IS NOT NULL THEN v.start ELSE o.forecast_window_start END"
)
IN_PLACE_SUMS_ARRAYS = (
    SUMS_ARRAYS + ", CAST(:gained AS bigint[]), CAST(:gained_charges AS numeric[])"
)
RETURNING_STATE = ", ".join(f"o.{column.key}" for column in FORECAST_STATE)
_STORE_SUMS = text(
    "UPDATE organizations AS o SET "
    + SUMS_COLUMNS
    + " FROM unnest(CAST(:ids AS text[]), "
    + SUMS_ARRAYS
    + ") AS v(id, usage, charge, start)"
    " WHERE o.id = v.id RETURNING " + RETURNING_STATE
)


def sums_params(prepared: Prepared | Grouped | None, ids: list[str]) -> dict:
    """The sums of ``ids`` as the arrays SUMS_ARRAYS names (null: the organization used
    nothing in the batch, or its window was not re-read: its sums stay as they are). A
    Grouped batch: before prepare, when it re-reads no window."""
    sums = prepared.sums if isinstance(prepared, Prepared) else {}
    starts = prepared.starts if prepared else {}
    return {
        "usages": pg_array(sums[i][0] if i in sums else None for i in ids),
        "charges": pg_array(sums[i][1] if i in sums else None for i in ids),
        "starts": pg_array(starts.get(i) for i in ids),
    }


def in_place_params(prepared: Prepared | Grouped | None, ids: list[str]) -> dict:
    """The arrays IN_PLACE_SUMS_ARRAYS names for ``ids`` (prepared, or grouped, with
    ``in_place``)."""
    gained = (prepared.gained or {}) if prepared else {}
    return {
        **sums_params(prepared, ids),
        "gained": pg_array(gained[i][0] if i in gained else None for i in ids),
        "gained_charges": pg_array(gained[i][1] if i in gained else None for i in ids),
    }


def _store_sums(prepared: Prepared) -> dict:
    """Store each organization's window sums and answer its FORECAST_STATE after, by id: on
    PostgreSQL one UPDATE … FROM unnest(…) RETURNING (an executemany of one UPDATE per
    organization was the batch's slowest statement, bench/README B6), elsewhere one UPDATE
    per organization and one SELECT."""
    sums, starts = prepared.sums, prepared.starts
    ids = sorted(sums)
    if db.session.get_bind().dialect.name == "postgresql":
        params = {"ids": pg_array(ids), **sums_params(prepared, ids)}
        return {row.id: row for row in db.session.execute(_STORE_SUMS, params)}
    columns = Organization.__table__.c
    db.session.execute(
        update(Organization.__table__)
        .where(columns.id == bindparam("b_id", type_=columns.id.type))
        .values(
            forecast_usage_7d=bindparam("b_usage", type_=columns.forecast_usage_7d.type),
            forecast_charge_7d=bindparam("b_charge", type_=columns.forecast_charge_7d.type),
            forecast_window_start=bindparam("b_start", type_=columns.forecast_window_start.type),
        ),
        [
            {
                "b_id": org_id,
                "b_usage": sums[org_id][0],
                "b_charge": sums[org_id][1],
                "b_start": starts[org_id],
            }
            for org_id in ids
        ],
    )
    fresh = select(*FORECAST_STATE).where(Organization.id.in_(ids))
    return {row.id: row for row in db.session.execute(fresh).all()}
