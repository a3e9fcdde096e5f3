"""A batch's accounts (tenants.credits.batch_accounts): their ids remembered by the process
from the commit that read or created them, and the holding accounts debited in one UPDATE
when every one covers its net debit, else locked and walked event by event."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import current_app

from tenants.access.actors import SYSTEM
from tenants.billing.usage import UsageEvent, record_usage_batch
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import CreditAccount, LedgerEntry
from tenants.models.ledger import AccountKind, EntryType
from tests.api.test_usage_round_trips import recorded
from tests.credits.conftest import fund, system_credits


def _remembered() -> dict:
    return current_app.extensions.get("portal_credit_account_ids", {})


def _usage_account(org) -> str | None:
    return db.session.scalar(
        sa.select(CreditAccount.id).where(
            CreditAccount.organization_id == org.id, CreditAccount.kind == AccountKind.USAGE
        )
    )


def _statuses(results) -> list[str]:
    return [result.status.value for result in results]


def test_account_ids_are_remembered_from_their_commit_only(create_organization):
    """A batch rolled back forgets the usage account it created (its id names nothing once
    undone): the next batch creates it again and charges; a committed one is remembered."""
    org = create_organization()
    fund(org, 10)
    results = record_usage_batch(SYSTEM, [UsageEvent(org.id, 1, "undone")])
    assert _statuses(results) == ["accepted"]
    created = _usage_account(org)
    assert created is not None
    db.session.rollback()
    assert _usage_account(org) is None
    assert created not in _remembered().values()

    results = record_usage_batch(SYSTEM, [UsageEvent(org.id, 2, "kept")])
    commit()
    assert _statuses(results) == ["accepted"]
    usage_account = _usage_account(org)
    assert usage_account not in (None, created)
    assert _remembered()[(org.id, "usage", "")] == usage_account
    posted = db.session.scalars(
        sa.select(LedgerEntry.account_id).where(LedgerEntry.type == EntryType.USAGE)
    ).all()
    system_account = db.session.scalar(
        sa.select(CreditAccount.id).where(
            CreditAccount.organization_id == org.id, CreditAccount.kind == AccountKind.SYSTEM
        )
    )
    assert sorted(posted) == sorted([usage_account, system_account])
    assert system_credits(org) == 8


@pytest.mark.postgres_only
def test_accounts_that_cover_their_debits_are_debited_in_one_statement(app, create_organization):
    """Every account covering its net debit: no account read (their ids remembered from
    the first batch); they are locked in id order and one UPDATE debits them all."""
    orgs = [create_organization(name=f"Covered {n}") for n in range(3)]
    for org in orgs:
        fund(org, 10)
    record_usage_batch(SYSTEM, [UsageEvent(org.id, 1, f"first-{org.id}") for org in orgs])
    commit()
    events = [UsageEvent(org.id, 2, f"second-{org.id}-{n}") for org in orgs for n in range(2)]
    with recorded(app) as (statements, _commits):
        results = record_usage_batch(SYSTEM, events)
        commit()
    assert _statuses(results) == ["accepted"] * 6
    accounts = [s for s in statements if "credit_accounts" in s]
    assert len(accounts) == 2, accounts
    assert (
        accounts[0].startswith("SELECT SELECT id FROM") and "ORDER BY id FOR NO KEY" in accounts[0]
    )
    assert accounts[1].startswith("UPDATE UPDATE credit_accounts") and "RETURNING" in accounts[1]
    assert not [s for s in statements if "ROLLBACK" in s]
    assert [system_credits(org) for org in orgs] == [5, 5, 5]


@pytest.mark.postgres_only
def test_an_account_short_of_its_debit_undoes_the_one_statement_and_walks(app, create_organization):
    """One account short of its net debit: the UPDATE of all is undone (to its savepoint,
    nothing debited twice), the accounts are locked in id order and each event decided in
    array order: the other accounts charged in full, the short one up to its balance."""
    rich, short = create_organization(name="Rich"), create_organization(name="Short")
    fund(rich, 10)
    fund(short, 4)
    events = [
        UsageEvent(rich.id, 3, "rich-a"),
        UsageEvent(short.id, 3, "short-a"),
        UsageEvent(short.id, 3, "short-b"),  # 1 left: refused
        UsageEvent(rich.id, 3, "rich-b"),
        UsageEvent(short.id, 1, "short-c"),
    ]
    with recorded(app) as (statements, _commits):
        results = record_usage_batch(SYSTEM, events)
        commit()
    assert _statuses(results) == ["accepted", "accepted", "refused", "accepted", "accepted"]
    assert results[2].error.code == "insufficient_credits"
    assert [s for s in statements if "ROLLBACK TO SAVEPOINT" in s]
    assert [s for s in statements if "credit_accounts.balance" in s and "FOR NO KEY" in s]
    assert (system_credits(rich), system_credits(short)) == (4, 0)
    used = db.session.scalar(
        sa.select(sa.func.sum(LedgerEntry.credits)).where(
            LedgerEntry.type == EntryType.USAGE, LedgerEntry.account_kind == AccountKind.USAGE
        )
    )
    assert used == 6 + 4
