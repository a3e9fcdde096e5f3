"""The ledger's batch posting: many balanced transactions at once (batch usage), with the
rules of tenants.credits.ledger (its statements and checks reused, not restated): holding
accounts locked in id order and never below zero, the organizations' totals moved in the
same transaction, alerts and top-ups asked on a crossing, every transaction balanced.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from tenants.access.actors import Actor
from tenants.core.bulk import pg_array
from tenants.core.errors import DomainError, InsufficientCredits, OrganizationClosed
from tenants.core.extensions import db
from tenants.core.types import new_id, utcnow
from tenants.credits import alerts, batch_accounts, forecast_many, ledger_rows
from tenants.credits.ledger import (
    _CHANGE_BALANCE,
    _MOVE_TOTAL,
    POSTPAID_BALANCE,
)
from tenants.credits.ledger_rows import Movement
from tenants.models import Organization
from tenants.models.ledger import (
    HOLDING_KINDS,
    SYSTEM_ACCOUNT,
    AccountKind,
    AccountRef,
)


@dataclass
class Planned:
    """What ``post_many`` needs that takes no lock, made by ``plan`` before a batch's turn
    (queue_batch) for the case of every movement accepted: the counter-accounts, the
    postings' rows (the holding accounts and balances after left to fill under the locks)
    and, on PostgreSQL, the usage grouped for the forecast."""

    counters: dict[tuple[str, AccountKind], str]
    rows: list[list]
    holding_rows: list[tuple[list, AccountRef]]
    grouped: forecast_many.Grouped | None
    nets: dict[str, int]  # what each organization's total moves
    # PostgreSQL, every holding account known: each one's id and its net debit
    holding: dict[tuple[str, AccountRef], str] | None = None
    debits: dict[str, int] | None = None
    orgs: dict[str, Organization] | None = None  # the movements' organizations, in id order
    # PostgreSQL, no forecast window to re-read: the totals' UPDATE's parameters, built
    totals: dict | None = None
    watched: set[str] | None = None  # the organizations whose alerts are asked (alerts.watched)


def plan(actor: Actor, movements: list[Movement]) -> Planned:
    """Prepare ``post_many`` of the prepaid ``movements`` (none refused yet): it reads and
    locks nothing but the counter-accounts, found or created. A movement with no entry id
    or moment gets them now, so the postings and the forecast agree on both."""
    _check(movements)
    orgs = _organizations(movements)
    kinds = {p.ref.kind for m in movements for p in m.postings} - set(HOLDING_KINDS)
    counters = batch_accounts.counter_accounts(orgs, kinds)
    now = utcnow()
    for movement in movements:
        movement.entry_id = movement.entry_id or new_id("ent")
        movement.occurred_at = movement.occurred_at or now
    accepted: list[str | DomainError] = [m.entry_id for m in movements]
    rows, holding_rows = ledger_rows.posting_rows(actor, movements, accepted, counters)
    nets = _nets(movements, accepted)
    grouped = (
        forecast_many.group(forecast_many.usage_of(movements, accepted, nets), in_place=True)
        if _postgresql()
        else None
    )
    holding, debits = _debits(movements) if _postgresql() else (None, None)
    if holding is not None:
        ledger_rows.name_accounts(holding_rows, holding)
    totals = None
    if grouped is not None and not grouped.reread:
        totals = _totals_params(nets, grouped)
    watched = {org_id for org_id, org in orgs.items() if alerts.watched(org)}
    return Planned(
        counters, rows, holding_rows, grouped, nets, holding, debits, orgs, totals, watched
    )


def _organizations(movements: list[Movement]) -> dict[str, Organization]:
    """The movements' organizations by id, in id order (the order their rows are locked)."""
    orgs = {m.org.id: m.org for m in movements}
    return {org_id: orgs[org_id] for org_id in sorted(orgs)}


def _debits(
    movements: list[Movement],
) -> tuple[dict[tuple[str, AccountRef], str] | None, dict[str, int] | None]:
    """The holding accounts the movements name (their ids, none locked) and each one's net
    debit when all apply; (None, None) when one does not exist."""
    refs = {(m.org.id, p.ref) for m in movements for p in m.postings if p.ref.kind in HOLDING_KINDS}
    holding = batch_accounts.holding_ids(refs)
    if holding is None:
        return None, None
    debits = dict.fromkeys(holding.values(), 0)
    for movement in movements:
        for posting in movement.postings:
            if posting.ref.kind in HOLDING_KINDS:
                debits[holding[(movement.org.id, posting.ref)]] += posting.credits
    return holding, debits


def _check(movements: list[Movement]) -> None:
    """Refuse (ValueError) movements post_many does not take: unbalanced, or adding credits
    to a holding account."""
    for movement in movements:
        if sum(p.credits for p in movement.postings) != 0:
            raise ValueError("a ledger transaction must balance")
        if any(p.ref.kind in HOLDING_KINDS and p.credits > 0 for p in movement.postings):
            raise ValueError("post_many takes credits out of holding accounts only")


def post_many(
    actor: Actor,
    movements: list[Movement],
    *,
    postpaid: bool = False,
    planned: Planned | None = None,
) -> list[str | DomainError]:
    """Write many balanced transactions of prepaid organizations set-based, each standing
    alone: the id of its first posting, or why it was refused (InsufficientCredits,
    OrganizationClosed) — a refused one writes nothing and refuses no other.

    The rules of ``post_transaction``, for movements that take credits OUT of holding
    accounts (usage; credits into a member's account: post_transaction, one at a time).
    Set-based: on PostgreSQL, when every holding account named covers its net debit (each
    movement then applies in any order), they are locked in id order and one UPDATE debits
    them all. Otherwise (and on SQLite) the holding accounts of every organization named are
    locked in id order and read (SELECT … FOR NO KEY UPDATE, the lock a balance UPDATE
    takes: batches and single movements never deadlock); each account's movements are
    decided in memory in the order given (one that would take an account below zero is
    refused, the next ones still apply), and one UPDATE moves the balances (still never
    below zero). Then one UPDATE of the organizations' totals and the postings in one
    binary COPY (PostgreSQL) or one executemany (SQLite). Alerts and top-ups are asked once
    per organization and account.
    ``planned``: plan(actor, movements), when a batch made it before its turn.

    ``postpaid``: the movements of postpaid organizations, already decided (their money is
    kept by tenants.billing.postpaid): as post_transaction(postpaid=True) they touch no
    balance, total or alert, and the balance after is ``POSTPAID_BALANCE``; all are written.
    """
    if planned is None:
        _check(movements)  # else checked by plan
    if not movements:
        return []
    if postpaid:
        return _post_postpaid(actor, movements, _organizations(movements))
    # What needs no lock first: the locks are held until the commit (other batches wait).
    planned = planned or plan(actor, movements)
    orgs = planned.orgs
    holding, before, balances, results, floors = _decide(movements, planned, list(orgs))
    stored = before if floors is not None else dict(balances)  # what the database holds now
    as_planned = all(isinstance(result, str) for result in results)
    # PostgreSQL: the forecast's day totals and windows read now, their sums stored by the
    # totals' UPDATE (each organization's row written once); elsewhere counted after it.
    prepared = None
    if _postgresql():
        usage = planned.grouped if as_planned else forecast_many.usage_of(movements, results)
        prepared = forecast_many.prepare(usage, in_place=True)
    closed = _move_totals(movements, results, orgs, prepared, planned if as_planned else None)
    if closed:  # organizations deleted meanwhile: their movements are refused, undone here
        balances, results = _refuse_closed(
            movements, closed, results, (holding, before, balances, floors)
        )
        as_planned = False
        if prepared is not None:
            forecast_many.take_back(prepared, closed)
    if floors is not None or closed:  # else the database holds the balances after already
        _change_balances({acc: balances[acc] - stored[acc] for acc in balances})
    for (org_id, ref), (acc, _balance) in holding.items():
        if org_id in planned.watched and balances[acc] != before[acc]:
            alerts.balance_changed(orgs[org_id], ref, before[acc], balances[acc])
    rows, holding_rows = (
        (planned.rows, planned.holding_rows)
        if as_planned
        else ledger_rows.posting_rows(actor, movements, results, planned.counters)
    )
    ledger_rows.insert_postings(rows, holding_rows, holding, before)
    if prepared is None:
        forecast_many.count_usage_many(forecast_many.usage_of(movements, results))
    return results


def _decide(movements: list[Movement], planned: Planned, org_ids: list[str]) -> tuple:
    """Each movement applied or refused: (holding, before, balances after, results, floors).
    When every account covers its net debit (the common case), all are debited and locked
    at once and every movement applies: floors is None, the database holds the balances
    after. Else the accounts are locked in id order and read, and each account's movements
    walked in order: the database still holds the balances before."""
    debited = batch_accounts.debit_all(planned.debits) if planned.debits is not None else None
    if debited is None:
        holding, floors = batch_accounts.lock_holding(org_ids)
        before = dict(holding.values())
        return (holding, before, *_walk(movements, holding, before, floors), floors)
    before = {acc: after - planned.debits[acc] for acc, after in debited.items()}
    holding = {key: (acc, before[acc]) for key, acc in planned.holding.items()}
    return holding, before, debited, [m.entry_id for m in movements], None


def _refuse_closed(
    movements: list[Movement], closed: set[str], results: list, decided: tuple
) -> tuple[dict[str, int], list[str | DomainError]]:
    """The balances after and results once the movements of the ``closed`` organizations are
    refused (``decided``: _decide's holding, before, balances and floors)."""
    holding, before, balances, floors = decided
    for index, movement in enumerate(movements):
        if movement.org.id in closed:
            results[index] = OrganizationClosed()
    if floors is not None:
        return _walk(movements, holding, before, floors, results)
    for (org_id, _ref), (acc, _balance) in holding.items():
        if org_id in closed:  # given back what was debited
            balances[acc] = before[acc]
    return balances, results


def _post_postpaid(
    actor: Actor, movements: list[Movement], orgs: dict[str, Organization]
) -> list[str | DomainError]:
    kinds = {p.ref.kind for m in movements for p in m.postings}
    if any(
        p.ref != SYSTEM_ACCOUNT
        for m in movements
        for p in m.postings
        if p.ref.kind in HOLDING_KINDS
    ):
        raise ValueError("postpaid movements post to the system account")
    accounts = batch_accounts.counter_accounts(orgs, kinds)  # the system account too: not locked
    holding = {
        (org_id, SYSTEM_ACCOUNT): (acc, POSTPAID_BALANCE)
        for (org_id, kind), acc in accounts.items()
        if kind == AccountKind.SYSTEM
    }
    results: list[str | DomainError] = [m.entry_id or new_id("ent") for m in movements]
    before = {acc: POSTPAID_BALANCE for acc, _ in holding.values()}
    rows, holding_rows = ledger_rows.posting_rows(actor, movements, results, accounts)
    ledger_rows.insert_postings(rows, holding_rows, holding, before, postpaid=True)
    return results


def _walk(
    movements: list[Movement],
    holding: dict[tuple[str, AccountRef], tuple[str, int]],
    before: dict[str, int],
    floors: dict[str, int],
    refused: list[str | DomainError] | None = None,
) -> tuple[dict[str, int], list[str | DomainError]]:
    """Each account's movements in order, in memory: one that would take a holding account
    below its ``floors`` (credits reserved for campaigns) is refused (InsufficientCredits),
    the next ones still apply. ``refused``: results already decided (kept). The balances
    after, and each movement's entry id or refusal."""
    balances = dict(before)
    results: list[str | DomainError] = []
    for index, movement in enumerate(movements):
        if refused is not None and isinstance(refused[index], DomainError):
            results.append(refused[index])
            continue
        changes: list[tuple[str, int]] | None = []
        for posting in movement.postings:
            if posting.ref.kind not in HOLDING_KINDS:
                continue
            found = holding.get((movement.org.id, posting.ref))
            if found is None or balances[found[0]] + posting.credits < floors[found[0]]:
                changes = None
                break
            changes.append((found[0], posting.credits))
        if changes is None:
            results.append(InsufficientCredits())
            continue
        for acc, credits in changes:
            balances[acc] += credits
        previous = refused[index] if refused is not None else None
        results.append(previous or movement.entry_id or new_id("ent"))
    return balances, results


_QUEUE = text("SELECT pg_advisory_xact_lock(hashtext(:key))")


def queue_batch(reseller_ids: set[str]) -> None:
    """Before a batch locks any account, wait for the turn of its resellers (PostgreSQL: a
    transaction advisory lock each, in id order): concurrent batches of one reseller name
    mostly the same accounts, and convoyed through their row locks (bench/README.md, B6).
    Single movements never take it; SQLite writes one transaction at a time anyway."""
    if _postgresql():
        for reseller_id in sorted(reseller_ids):
            db.session.execute(_QUEUE, {"key": f"usage-batch:{reseller_id}"})


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


_MOVE_TOTALS = text(
    "UPDATE organizations AS o SET total_credits = o.total_credits + v.net, "
    + forecast_many.IN_PLACE_SUMS_COLUMNS
    + " FROM unnest(CAST(:ids AS text[]), CAST(:nets AS bigint[]), "
    + forecast_many.IN_PLACE_SUMS_ARRAYS
    + ") AS v(id, net, usage, charge, start, gained, gained_charge)"
    " WHERE o.id = v.id AND o.status != 'deleted'"
    " RETURNING " + forecast_many.RETURNING_STATE
)


def _nets(movements: list[Movement], results: list[str | DomainError]) -> dict[str, int]:
    """What the accepted movements take from each organization's total, in id order (none
    where they move nothing)."""
    nets: dict[str, int] = {}
    for movement, result in zip(movements, results, strict=True):
        if isinstance(result, str):
            net = sum(p.credits for p in movement.postings if p.ref.kind in HOLDING_KINDS)
            nets[movement.org.id] = nets.get(movement.org.id, 0) + net
    return {org_id: net for org_id, net in sorted(nets.items()) if net}


def _move_totals(
    movements: list[Movement],
    results: list[str | DomainError],
    orgs: dict[str, Organization],
    prepared: forecast_many.Prepared | None = None,
    planned: Planned | None = None,
) -> set[str]:
    """Move each organization's total by its accepted movements, alerting once per
    organization (``planned.watched``, when planned); the organizations found deleted
    (nothing moved). PostgreSQL: one UPDATE, which also stores the forecast's sums
    ``prepared`` (then its alerts). ``planned``: every movement accepted as planned, the nets
    and (no window re-read) the UPDATE's parameters made before the batch's turn."""
    nets = _nets(movements, results) if planned is None else planned.nets
    watched = None if planned is None else planned.watched
    if not nets:
        return set()
    if _postgresql():
        params = (planned and planned.totals) or _totals_params(nets, prepared)
        rows = {row.id: row for row in db.session.execute(_MOVE_TOTALS, params).all()}
        totals = {org_id: row.total_credits for org_id, row in rows.items()}
        if prepared is not None:
            forecast_many.finish(prepared, rows)
    else:
        totals = {}
        for org_id, net in nets.items():
            state = db.session.execute(
                _MOVE_TOTAL, {"organization": org_id, "net": net}
            ).one_or_none()
            if state is not None:
                totals[org_id] = state.total_credits
    for org_id, total in totals.items():
        if watched is None or org_id in watched:
            alerts.total_changed(orgs[org_id], total - nets[org_id], total)
    return set(nets) - set(totals)


def _totals_params(
    nets: dict[str, int], forecast: forecast_many.Prepared | forecast_many.Grouped | None
) -> dict:
    """The parameters of _MOVE_TOTALS: each organization's net and its forecast's sums."""
    ids = list(nets)
    return {
        "ids": pg_array(ids),
        "nets": pg_array(nets.values()),
        **forecast_many.in_place_params(forecast, ids),
    }


_CHANGE_BALANCES = text(
    "UPDATE credit_accounts AS a SET balance = a.balance + v.delta, updated_at = :now"
    " FROM unnest(CAST(:ids AS text[]), CAST(:deltas AS bigint[])) AS v(id, delta)"
    " WHERE a.id = v.id AND a.balance + v.delta >= a.reserved"
)


def _change_balances(deltas: dict[str, int]) -> None:
    """Apply each locked account's net change: one conditional UPDATE on PostgreSQL."""
    deltas = {acc: delta for acc, delta in sorted(deltas.items()) if delta}
    if not deltas:
        return
    now = utcnow()
    if _postgresql():
        params = {"ids": pg_array(deltas), "deltas": pg_array(deltas.values()), "now": now}
        changed = db.session.execute(_CHANGE_BALANCES, params).rowcount
    else:
        changed = 0
        for acc, delta in deltas.items():
            params = {"account": acc, "delta": delta, "now": now}
            changed += db.session.execute(_CHANGE_BALANCE, params).scalar() is not None
    if changed != len(deltas):  # the accounts are locked and were read: cannot happen
        raise RuntimeError("a locked balance changed under its lock")
