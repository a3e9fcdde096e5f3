"""The ledger's invariants: balanced, never negative, immutable, exact under concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError, IntegrityError

from tenants.access.actors import SYSTEM
from tenants.core.errors import (
    InsufficientCredits,
    NotPrepaid,
    OrganizationClosed,
    OrganizationSuspended,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.credits import ledger
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import CreditAccount, EntryType, LedgerEntry, Organization, OrganizationStatus
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountKind, AccountRef


@pytest.fixture
def prepaid_org(create_organization):
    return create_organization(pricing_model="prepaid")


def fund(org, amount, ref=credits.SYSTEM_ACCOUNT):
    credits.add_credits(SYSTEM, org, ref, amount, entry_type=EntryType.PURCHASE)
    commit()


def ledger_sums(org_id: str) -> dict[str, int]:
    rows = db.session.execute(
        sa.select(LedgerEntry.type, sa.func.sum(LedgerEntry.credits))
        .where(LedgerEntry.organization_id == org_id, LedgerEntry.balance_after.is_not(None))
        .group_by(LedgerEntry.type)
    ).all()
    return {str(t): int(s) for t, s in rows}


def assert_invariants(org: Organization) -> None:
    db.session.expire_all()
    balances = db.session.scalars(
        sa.select(CreditAccount.balance).where(CreditAccount.organization_id == org.id)
    ).all()
    assert all(b >= 0 for b in balances)
    # Every transaction balances to zero.
    unbalanced = db.session.execute(
        sa.select(LedgerEntry.transaction_id)
        .where(LedgerEntry.organization_id == org.id)
        .group_by(LedgerEntry.transaction_id)
        .having(sa.func.sum(LedgerEntry.credits) != 0)
    ).all()
    assert unbalanced == []
    # Sum of holding balances = purchases + top-ups - usage - withdrawals.
    sums = ledger_sums(org.id)
    expected = (
        sums.get("purchase", 0)
        + sums.get("auto_top_up", 0)
        + sums.get("usage", 0)
        + sums.get("withdrawal", 0)
        + sums.get("adjustment", 0)
    )
    assert ledger.total_credits(org) == expected
    assert sums.get("transfer_in", 0) + sums.get("transfer_out", 0) == 0


def test_purchase_then_usage_moves_the_balance(prepaid_org):
    fund(prepaid_org, 100)
    entry = credits.record_usage(SYSTEM, prepaid_org, credits=30, reference="sms-1").entry
    commit()
    assert entry.balance_after == 70
    assert entry.credits == -30
    assert ledger.balance(prepaid_org).system_credits == 70
    assert_invariants(prepaid_org)


def test_usage_refused_when_credits_are_short_and_balance_untouched(prepaid_org):
    fund(prepaid_org, 5)
    with pytest.raises(InsufficientCredits):
        credits.record_usage(SYSTEM, prepaid_org, credits=6, reference="too-much")
    db.session.rollback()
    assert ledger.balance(prepaid_org).system_credits == 5
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(LedgerEntry).where(LedgerEntry.type == "usage")
        )
        == 0
    )


@pytest.mark.parametrize("bad", [0, -1, 1.5, "10", True, None, 10**12])
def test_credits_must_be_whole_and_positive(prepaid_org, bad):
    with pytest.raises(ValidationFailed) as info:
        credits.record_usage(SYSTEM, prepaid_org, credits=bad, reference="x")
    assert "credits" in info.value.fields


def test_ledger_entries_cannot_be_updated_or_deleted(prepaid_org):
    fund(prepaid_org, 10)
    entry_id = db.session.scalar(
        sa.select(LedgerEntry.id).where(LedgerEntry.credits == 10).limit(1)
    )
    with pytest.raises(DatabaseError):
        db.session.execute(
            sa.update(LedgerEntry).where(LedgerEntry.id == entry_id).values(credits=999)
        )
        db.session.flush()
    db.session.rollback()
    with pytest.raises(DatabaseError):
        db.session.execute(sa.delete(LedgerEntry).where(LedgerEntry.id == entry_id))
        db.session.flush()
    db.session.rollback()
    assert db.session.get(LedgerEntry, entry_id).credits == 10


def test_an_entry_repeats_its_accounts_organization_and_reseller_or_is_refused(
    prepaid_org, create_organization
):
    """The database ties an entry to its account and to that account's organization and
    reseller: an entry naming another organization (of the same reseller), another reseller
    or no account is refused -- alone, or as one row of a multi-row statement, whose other
    rows are then refused with it."""
    fund(prepaid_org, 10)
    other = create_organization(pricing_model="prepaid")
    entry = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.credits == 10).limit(1))
    values = {
        column.key: getattr(entry, column.key)
        for column in LedgerEntry.__table__.columns
        if column.key != "id"
    }
    wrongs = ({"organization_id": other.id}, {"reseller_id": "rsl_none"}, {"account_id": "acc_x"})
    for wrong in wrongs:
        with pytest.raises(IntegrityError):
            db.session.execute(sa.insert(LedgerEntry).values({**values, **wrong, "id": "ent_x"}))
            db.session.flush()
        db.session.rollback()
        rows = [{**values, "id": f"ent_ok{n}"} for n in range(3)]
        with pytest.raises(IntegrityError):
            db.session.execute(sa.insert(LedgerEntry).values([*rows, {**values, **wrong}]))
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 2
    db.session.execute(sa.insert(LedgerEntry).values({**values, "id": "ent_same_owner"}))
    db.session.rollback()


@pytest.mark.postgres_only
def test_a_copy_of_postings_with_one_stranger_is_refused_whole(prepaid_org, create_organization):
    """Batch usage COPYs its postings: the check runs once over the statement's rows."""
    from tenants.models.ledger import ENTRY_COLUMNS

    fund(prepaid_org, 10)
    other = create_organization(pricing_model="prepaid")
    table = LedgerEntry.__table__
    entry = dict(db.session.execute(sa.select(table).limit(1)).mappings().one())
    rows = [{**entry, "id": f"ent_copy{n}"} for n in range(500)]
    rows[250]["organization_id"] = other.id
    cursor = db.session.connection().connection.dbapi_connection.cursor()
    columns = ", ".join(ENTRY_COLUMNS)
    refused = pytest.raises(psycopg.errors.ForeignKeyViolation)
    with refused, cursor.copy(f"COPY ledger_entries ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[name] for name in ENTRY_COLUMNS])
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 2


def test_credit_accounts_are_never_deleted_nor_re_keyed(prepaid_org, create_organization):
    """What the ledger's entries name stays: no account is deleted or moves to another id,
    organization or reseller (used or not); its balance moves as before."""
    fund(prepaid_org, 10)
    other = create_organization(pricing_model="prepaid")
    used = ledger.account_id(prepaid_org, SYSTEM_ACCOUNT)
    unused = ledger.account_id(other, AccountRef(AccountKind.ADJUSTMENTS))
    db.session.commit()
    changes = (
        sa.delete(CreditAccount).where(CreditAccount.id == unused),
        sa.delete(CreditAccount).where(CreditAccount.id == used),
        sa.update(CreditAccount).where(CreditAccount.id == unused).values(id="acc_other"),
        sa.update(CreditAccount)
        .where(CreditAccount.id == unused)
        .values(organization_id=prepaid_org.id),
        sa.update(CreditAccount).where(CreditAccount.id == used).values(reseller_id="rsl_x"),
    )
    for change in changes:
        with pytest.raises(DatabaseError, match="never deleted nor re-keyed"):
            db.session.execute(change)
        db.session.rollback()
    db.session.execute(
        sa.update(CreditAccount)
        .where(CreditAccount.id == used)
        .values(balance=CreditAccount.balance + 1, organization_id=prepaid_org.id)
    )
    db.session.rollback()
    assert db.session.get(CreditAccount, used).balance == 10


def test_balance_check_constraint_is_the_last_guard(prepaid_org):
    fund(prepaid_org, 10)
    with pytest.raises(DatabaseError):
        db.session.execute(
            sa.update(CreditAccount)
            .where(CreditAccount.organization_id == prepaid_org.id)
            .values(balance=-1)
        )
        db.session.flush()
    db.session.rollback()


def test_transfers_need_agreement_and_distinct_accounts(prepaid_org, create_member):
    prepaid_org.individual_user_credits = True
    commit()
    member = create_member(prepaid_org)
    fund(prepaid_org, 50)
    with pytest.raises(ValidationFailed) as info:
        credits.transfer_credits(SYSTEM, prepaid_org, "system", "system", 5, agreed=False)
    assert set(info.value.fields) == {"agree"}
    with pytest.raises(ValidationFailed) as info:
        credits.transfer_credits(SYSTEM, prepaid_org, "system", "system", 5, agreed=True)
    assert set(info.value.fields) == {"to"}
    credits.transfer_credits(SYSTEM, prepaid_org, "system", f"member:{member.id}", 20, agreed=True)
    commit()
    balance = ledger.balance(prepaid_org)
    assert balance.system_credits == 30
    assert balance.users == [(member.id, 20)]
    assert_invariants(prepaid_org)


def _in_threads(app, count: int, work) -> list:
    # End this thread's transaction first: on SQLite every transaction holds the write lock.
    db.session.rollback()
    barrier = threading.Barrier(count)

    def run(index: int):
        with app.app_context():
            barrier.wait()
            try:
                return work(index)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.postgres_only
def test_concurrent_usage_never_overdraws(app, prepaid_org):
    """16 threads, 400 requests of 10 credits against 2,000: exactly 200 succeed."""
    assert_concurrent_usage_is_exact(app, prepaid_org, threads=16, per_thread=25)


def test_concurrent_usage_on_sqlite_waits_instead_of_failing(app, prepaid_org):
    """SQLite's BEGIN IMMEDIATE makes concurrent writers queue for the lock."""
    assert_concurrent_usage_is_exact(app, prepaid_org, threads=4, per_thread=20)


def assert_concurrent_usage_is_exact(app, prepaid_org, *, threads: int, per_thread: int):
    requests = threads * per_thread
    fund(prepaid_org, requests * 10 // 2)
    org_id = prepaid_org.id

    def work(index: int) -> tuple[int, int]:
        ok = refused = 0
        for n in range(per_thread):
            org = db.session.get(Organization, org_id)
            try:
                credits.record_usage(SYSTEM, org, credits=10, reference=f"t{index}-{n}")
                commit()
                ok += 1
            except InsufficientCredits:
                db.session.rollback()
                refused += 1
        return ok, refused

    results = _in_threads(app, threads, work)
    assert sum(ok for ok, _ in results) == requests // 2
    assert sum(refused for _, refused in results) == requests // 2
    db.session.expire_all()
    assert ledger.balance(prepaid_org).system_credits == 0
    assert_invariants(prepaid_org)


def test_concurrent_transfers_conserve_the_total(app, prepaid_org, create_member):
    prepaid_org.individual_user_credits = True
    commit()
    members = [create_member(prepaid_org), create_member(prepaid_org)]
    fund(prepaid_org, 1000)
    org_id = prepaid_org.id
    accounts = ["system"] + [f"member:{m.id}" for m in members]

    def work(index: int) -> int:
        done = 0
        for n in range(20):
            source = accounts[(index + n) % 3]
            target = accounts[(index + n + 1) % 3]
            org = db.session.get(Organization, org_id)
            try:
                credits.transfer_credits(SYSTEM, org, source, target, 7, agreed=True)
                commit()
                done += 1
            except InsufficientCredits:
                db.session.rollback()
        return done

    _in_threads(app, 8, work)
    db.session.expire_all()
    assert ledger.total_credits(prepaid_org) == 1000
    assert_invariants(prepaid_org)


def test_organization_total_credits_follows_the_ledger(prepaid_org, create_member):
    prepaid_org.individual_user_credits = True
    commit()
    member = create_member(prepaid_org)
    fund(prepaid_org, 100)
    credits.transfer_credits(SYSTEM, prepaid_org, "system", f"member:{member.id}", 40, agreed=True)
    credits.record_usage(
        SYSTEM, prepaid_org, credits=15, reference="sms", account=f"member:{member.id}"
    )
    commit()
    db.session.refresh(prepaid_org)
    assert prepaid_org.total_credits == 85 == ledger.total_credits(prepaid_org)


def test_individual_credits_switch_off_only_when_member_accounts_are_empty(
    prepaid_org, create_member
):
    from tenants.core.errors import MemberCreditsRemain
    from tenants.organizations.operations import update_organization

    update_organization(SYSTEM, prepaid_org, {"individual_user_credits": True})
    commit()
    member = create_member(prepaid_org)
    fund(prepaid_org, 10, ledger.parse_account(prepaid_org, f"member:{member.id}"))
    with pytest.raises(MemberCreditsRemain):
        update_organization(SYSTEM, prepaid_org, {"individual_user_credits": False})
    db.session.rollback()
    credits.transfer_credits(SYSTEM, prepaid_org, f"member:{member.id}", "system", 10, agreed=True)
    update_organization(SYSTEM, prepaid_org, {"individual_user_credits": False})
    commit()
    assert prepaid_org.individual_user_credits is False
    assert ledger.balance(prepaid_org).system_credits == 10


def test_deleted_organization_takes_no_more_credits(prepaid_org):
    from tenants.core.errors import OrganizationClosed
    from tenants.organizations.operations import delete_organization

    delete_organization(SYSTEM, prepaid_org)
    commit()
    with pytest.raises(OrganizationClosed):
        credits.add_credits(SYSTEM, prepaid_org, credits.SYSTEM_ACCOUNT, 5)
    db.session.rollback()
    assert ledger.total_credits(prepaid_org) == 0


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (None, SYSTEM_ACCOUNT),
        ("", SYSTEM_ACCOUNT),
        ("system", SYSTEM_ACCOUNT),
        ("member:mem_1", AccountRef(AccountKind.MEMBER, "mem_1")),
        ("member:", AccountRef(AccountKind.MEMBER, "")),
        ("System", None),
        ("usage", None),
        (42, None),
    ],
)
def test_the_account_notation_is_read_in_one_place(value, parsed):
    assert AccountRef.parse(value) == parsed
    if parsed is not None:
        assert AccountRef.parse(parsed.label) == parsed


def test_member_accounts_resolve_only_for_current_members(prepaid_org, create_member):
    member = create_member(prepaid_org)
    label = f"member:{member.id}"
    with pytest.raises(ValidationFailed) as off:
        ledger.parse_account(prepaid_org, label)
    assert off.value.fields == {"account": "Individual user credits are not enabled."}
    prepaid_org.individual_user_credits = True
    commit()
    assert ledger.parse_account(prepaid_org, label) == AccountRef(AccountKind.MEMBER, member.id)
    for unknown in ("member:nobody", "members:x", 7):
        with pytest.raises(ValidationFailed) as refused:
            ledger.parse_account(prepaid_org, unknown, "from")
        assert refused.value.fields == {"from": "Unknown account."}
    assert ledger.is_current_member(prepaid_org, member.id)


def test_only_an_active_organization_is_usable(prepaid_org, create_organization):
    credits.require_prepaid_and_usable(prepaid_org)
    postpaid = create_organization(pricing_model="postpaid")
    credits.require_usable(postpaid)
    with pytest.raises(NotPrepaid):
        credits.require_prepaid_and_usable(postpaid)
    for status, refusal in (
        (OrganizationStatus.SUSPENDED, OrganizationSuspended),
        (OrganizationStatus.DELETED, OrganizationClosed),
    ):
        for org in (prepaid_org, postpaid):
            org.status = status
            with pytest.raises(refusal):
                credits.require_usable(org)
            with pytest.raises(refusal):
                credits.require_prepaid_and_usable(org)
