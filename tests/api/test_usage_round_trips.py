"""B1's hot path stays short: ``POST …/usage`` in one transaction and few statements.

The usage charge is the platform's busiest write (bench/b1_usage.py measures it against a
bare psycopg floor). These tests count what it sends to the database, so a change that
adds a round trip, a second transaction or an ORM flush shows here, on any machine.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event, func, select

from tenants.core.extensions import db
from tenants.models import ApiKey, CreditAccount, LedgerEntry, Organization, UsageDay
from tests.credits.conftest import fund


@contextmanager
def recorded(app):
    """Every statement and every commit the app's engine runs inside the block."""
    statements: list[str] = []
    commits: list[int] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split()[0].upper() + " " + statement)

    def on_commit(conn):
        commits.append(1)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        yield statements, commits
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)


def usage(api, org_id: str, key: str, reference: str, credits: int = 1):
    return api.post(
        f"/organizations/{org_id}/usage", key, {"credits": credits, "reference": reference}
    )


def test_usage_is_one_transaction_of_few_statements(app, api, tenants):
    app.config["API_RATE_LIMIT"] = ""  # the counter lives in Redis in production
    fund(tenants.acme, 10)
    acme = tenants.acme.id  # read now: the test's own objects are expired after commits
    assert usage(api, acme, tenants.key_a, "warm-up").status_code == 201
    with recorded(app) as (statements, commits):
        response = usage(api, acme, tenants.key_a, "sms-1")
    assert response.status_code == 201, response.get_data(as_text=True)
    statements = [s for s in statements if s.split()[0] not in ("BEGIN", "PRAGMA")]
    verbs = [s.split()[0] for s in statements]
    # key + reseller (+ organization of an organization key) in one SELECT (a process with
    # Redis remembers it: tests/api/test_key_cache.py); then on PostgreSQL two statements:
    # the organization of the path read with the reference's claim (charged once), and the
    # ledger's posting (accounts' ids, balance, organization's total, both postings and the
    # forecast's day total and 7-day sum in one data-modifying CTE); on SQLite one statement
    # per step, then the forecast's two (tenants/credits/forecast.py): the day's usage total,
    # the 7-day window on the organization.
    if db.engine.dialect.name == "postgresql":
        assert verbs == ["SELECT", "WITH", "WITH"], [s[:160] for s in statements]
        claim, posting = statements[1], statements[2]
        assert "INSERT INTO usage_references" in claim and "FROM organizations" in claim
        assert "INSERT INTO usage_days" in posting and "forecast_usage_7d" in posting
        # psycopg parses a statement's placeholders again every time unless it is short
        # enough for its cache: the posting's CTE was 4,287 characters, a tenth of B1's CPU.
        from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

        assert max(len(s) - len(s.split()[0]) - 1 for s in statements) <= (
            MAX_CACHED_STATEMENT_LENGTH
        )
    else:
        forecast = ["INSERT", "UPDATE"]
        expected = ["SELECT", "SELECT", "INSERT", "SELECT", "UPDATE", "UPDATE", "INSERT", *forecast]
        assert verbs == expected, [s[:160] for s in statements]
        claim, posting = statements[2], statements[6]
        assert "usage_references" in claim
        assert "INSERT INTO usage_days" in statements[-2]
        assert "forecast_usage_7d" in statements[-1]
    assert "INSERT INTO ledger_entries" in posting
    assert len(commits) == 1
    db.session.rollback()
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.reference == "sms-1").order_by(LedgerEntry.credits)
    ).all()
    assert [(e.account_kind.value, e.credits, e.balance_after) for e in entries] == [
        ("system", -1, 8),
        ("usage", 1, None),
    ]
    assert entries[0].transaction_id == entries[1].transaction_id
    org = db.session.get(Organization, tenants.acme.id)
    assert org.total_credits == 8
    # The forecast counted both charges: the warm-up re-read the window (none stored yet),
    # sms-1 added to the stored sum in place (PostgreSQL) or re-read it (SQLite).
    days = db.session.execute(select(UsageDay.day, UsageDay.credits)).all()
    assert [credits for _day, credits in days] == [2]
    assert (org.forecast_usage_7d, org.forecast_window_start) == (2, days[0].day - timedelta(6))


def test_last_use_is_written_once_a_minute_and_committed_at_once(app, api, tenants):
    app.config["API_RATE_LIMIT"] = ""
    fund(tenants.acme, 10)
    acme = tenants.acme.id
    key = db.session.scalar(select(ApiKey).where(ApiKey.organization_id == tenants.acme.id))
    assert key.last_used_at is None
    # A refused request (402) still counts as a use of the key.
    response = api.post(
        f"/organizations/{tenants.acme.id}/usage",
        tenants.key_acme,
        {"credits": 11, "reference": "too-much"},
    )
    assert response.status_code == 402
    db.session.rollback()
    first = db.session.get(ApiKey, key.id).last_used_at
    assert first is not None
    with recorded(app) as (statements, commits):
        assert usage(api, acme, tenants.key_acme, "sms-2").status_code == 201
    assert not [s for s in statements if "api_keys" in s and s.startswith("UPDATE")]
    assert len(commits) == 1
    # An hour later the next request writes it again.
    db.session.rollback()
    db.session.get(ApiKey, key.id).last_used_at = first - timedelta(hours=1)
    db.session.commit()
    with recorded(app) as (statements, commits):
        assert usage(api, acme, tenants.key_acme, "sms-3").status_code == 201
    assert len([s for s in statements if "api_keys" in s and s.startswith("UPDATE")]) == 1
    db.session.rollback()
    assert db.session.get(ApiKey, key.id).last_used_at > first - timedelta(minutes=1)


def test_organization_key_of_a_suspended_or_deleted_organization(app, api, tenants):
    """The one-query key lookup keeps the refusals of the organization's status."""
    from tenants.models import OrganizationStatus

    db.session.get(Organization, tenants.acme.id).status = OrganizationStatus.SUSPENDED
    db.session.commit()
    response = api.get(f"/organizations/{tenants.acme.id}/balance", tenants.key_acme)
    assert (response.status_code, response.json["error"]["code"]) == (
        403,
        "organization_suspended",
    )
    db.session.get(Organization, tenants.acme.id).status = OrganizationStatus.DELETED
    db.session.commit()
    response = api.get(f"/organizations/{tenants.acme.id}/balance", tenants.key_acme)
    assert (response.status_code, response.json["error"]["code"]) == (401, "invalid_api_key")


def test_postings_create_a_missing_counter_account(app, api, tenants):
    """The one-query account lookup still creates a counter-account on first use."""
    from tenants.models import AccountKind

    fund(tenants.acme, 10)
    acme = tenants.acme.id

    def kinds() -> set:
        db.session.rollback()
        return set(
            db.session.scalars(
                select(CreditAccount.kind).where(CreditAccount.organization_id == tenants.acme.id)
            )
        )

    assert AccountKind.USAGE not in kinds()
    assert usage(api, acme, tenants.key_a, "first-usage").status_code == 201
    assert AccountKind.USAGE in kinds()


def test_usage_through_the_api_alerts_and_asks_a_top_up_once_per_crossing(app, api, tenants):
    """The API's charge (organization read as a row, posting in one statement on
    PostgreSQL) still asks for the low-balance alert and the automatic top-up exactly when
    the total and the system pool cross their levels."""
    from tenants.models import QueuedJob

    app.config["API_RATE_LIMIT"] = ""
    org = tenants.acme
    org.low_balance_alert = True
    org.low_balance_threshold = 100
    org.notification_mobile = "+34600000001"
    org.auto_top_up_enabled = True
    org.auto_top_up_below = 50
    org.auto_top_up_credits = 1000
    db.session.commit()
    fund(org, 300)
    acme = org.id

    def jobs() -> dict[str, int]:
        db.session.rollback()
        rows = db.session.execute(
            select(QueuedJob.name, func.count())
            .where(
                QueuedJob.name.in_(
                    ["send_low_balance_email", "send_low_balance_sms", "auto_top_up"]
                )
            )
            .group_by(QueuedJob.name)
        ).all()
        return dict(rows)

    before = jobs()
    assert usage(api, acme, tenants.key_a, "a", 150).status_code == 201  # 150: above 100
    assert jobs() == before
    assert usage(api, acme, tenants.key_a, "b", 60).status_code == 201  # 90: crosses 100
    crossed = {**before, "send_low_balance_email": 1, "send_low_balance_sms": 1}
    assert jobs() == crossed
    assert usage(api, acme, tenants.key_a, "c", 30).status_code == 201  # 60: no new alert
    assert jobs() == crossed
    assert usage(api, acme, tenants.key_a, "d", 20).status_code == 201  # 40: pool below 50
    assert jobs() == {**crossed, "auto_top_up": 1}
    assert usage(api, acme, tenants.key_a, "e", 41).status_code == 402  # short: nothing moves
    assert usage(api, acme, tenants.key_a, "f", 10).status_code == 201  # 30: already below
    assert jobs() == {**crossed, "auto_top_up": 1}
    db.session.rollback()
    assert db.session.get(Organization, acme).total_credits == 30


def test_a_batch_turn_holds_only_what_needs_its_locks(app, api, tenants, monkeypatch):
    """B6: concurrent batches of one reseller take turns (ledger_many.queue_batch), so what
    a batch does in its turn bounds every batch's rate. The accounts' ids are found before
    it (PostgreSQL: before the turn's advisory lock; here read, as by a process that has
    not seen them: each process remembers those it read), and the answer of its results is
    built after its commit: nothing of either between its first lock and its commit."""
    import reseller.api.usage as usage_api

    app.config["API_RATE_LIMIT"] = ""
    fund(tenants.acme, 100)
    acme = tenants.acme.id
    built_in_transaction: list[bool] = []
    result = usage_api._result

    def watched(index, outcome):
        built_in_transaction.append(db.session().in_transaction())
        return result(index, outcome)

    warm_up = [{"organization_id": acme, "credits": 1, "reference": "warm-up"}]
    assert api.post("/usage", tenants.key_a, {"events": warm_up}).status_code == 200
    monkeypatch.setattr(usage_api, "_result", watched)
    events = [{"organization_id": acme, "credits": 1, "reference": f"t-{i}"} for i in range(3)]
    app.extensions.pop("portal_credit_account_ids", None)  # forgotten: read again
    with recorded(app) as (statements, commits):
        response = api.post("/usage", tenants.key_a, {"events": events})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["accepted"] == 3 and len(commits) == 1
    assert built_in_transaction == [False, False, False]
    # The first lock: the turn's advisory lock, else the accounts' (locked, or debited).
    locks = [
        i
        for i, s in enumerate(statements)
        if "pg_advisory_xact_lock" in s or " FOR " in s or s.startswith("UPDATE UPDATE credit_")
    ]
    turn = locks[0] if db.engine.dialect.name == "postgresql" else None
    counters = [
        i
        for i, s in enumerate(statements)
        if s.startswith("SELECT") and "credit_accounts.kind IN" in s and " FOR " not in s
    ]
    assert counters, statements
    if turn is not None:
        assert max(counters) < turn
