"""Batch usage, set-based (SPEC §7 ``POST /api/v1/usage``, issue 17 item 1): every event
decided in memory in array order per account, the ledger written in bulk, alerts and
top-ups asked once per account per batch; never negative, conserved, once per reference —
also with 8 batches on one account at once (PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import ledger
from tenants.jobs.outbox import commit
from tenants.models import Charge, LedgerEntry, Organization, QueuedJob, UsageDay
from tenants.organizations.operations import suspend_organization
from tests.api.test_usage_references import batch, debt, postpaid, usage, usage_entries
from tests.api.test_usage_round_trips import recorded
from tests.billing.test_concurrency import in_threads
from tests.credits.conftest import fund, system_credits

__all__ = ["postpaid"]  # the fixture, shared with test_usage_references


def jobs_named(name: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(QueuedJob).where(QueuedJob.name == name)
    )


def assert_conserved(org) -> None:
    """Every transaction balances, and each holding account's balance is its postings' sum;
    the organization's stored total is its accounts' sum."""
    db.session.expire_all()
    unbalanced = db.session.execute(
        sa.select(LedgerEntry.transaction_id)
        .where(LedgerEntry.organization_id == org.id)
        .group_by(LedgerEntry.transaction_id)
        .having(sa.func.sum(LedgerEntry.credits) != 0)
    ).all()
    assert unbalanced == []
    posted = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.credits), 0)).where(
            LedgerEntry.organization_id == org.id,
            LedgerEntry.account_kind.in_(("system", "member")),
        )
    )
    held = ledger.balance(db.session.get(Organization, org.id)).total_credits
    assert posted == held
    assert db.session.get(Organization, org.id).total_credits == held


def test_events_of_one_account_apply_in_array_order_interleaved_with_others(
    api, tenants, create_organization
):
    sibling = create_organization(tenants.a, name="Sibling")
    fund(tenants.acme, 10)
    fund(sibling, 5)
    body = batch(
        api,
        tenants.key_a,
        (tenants.acme, 4, "a1"),
        (sibling, 5, "s1"),
        (tenants.acme, 4, "a2"),
        (sibling, 1, "s2"),  # sibling is empty now: refused
        (tenants.acme, 4, "a3"),  # 2 left: refused
        (tenants.acme, 2, "a4"),  # exactly what is left: accepted
    ).json
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "accepted",
        "accepted",
        "refused",
        "refused",
        "accepted",
    ]
    assert {body["results"][i]["error"]["code"] for i in (3, 4)} == {"insufficient_credits"}
    # The ledger's running balance follows the array, each charge its own transaction.
    entries = {e.id: e for e in usage_entries(tenants.acme)}
    ids = [body["results"][i]["entry_id"] for i in (0, 2, 5)]
    assert [(entries[i].credits, entries[i].balance_after, entries[i].reference) for i in ids] == [
        (-4, 6, "a1"),
        (-4, 2, "a2"),
        (-2, 0, "a4"),
    ]
    assert len({entries[i].transaction_id for i in ids}) == 3
    assert (system_credits(tenants.acme), system_credits(sibling)) == (0, 0)
    assert_conserved(tenants.acme)
    assert_conserved(sibling)


def test_each_refusal_carries_the_single_endpoints_code(
    api, tenants, postpaid, create_organization
):
    suspended = create_organization(tenants.a, name="Paused")
    fund(suspended, 50)
    suspend_organization(SYSTEM, db.session.get(Organization, suspended.id), "unpaid")
    fund(tenants.acme, 50)
    postpaid.credit_limit = Decimal("1")  # 100 SMS at €0.05 + 21 % pass it
    commit()
    future = (utcnow() + timedelta(days=2)).isoformat()
    events = [
        {"organization_id": suspended.id, "credits": 1, "reference": "r1"},
        {
            "organization_id": tenants.acme.id,
            "credits": 1,
            "reference": "r2",
            "occurred_at": future,
        },
        {
            "organization_id": tenants.acme.id,
            "credits": 1,
            "reference": "r3",
            "account": "member:x",
        },
        {"organization_id": postpaid.id, "credits": 100, "reference": "r5"},
        {"organization_id": postpaid.id, "credits": 10, "reference": "r6"},
        {"organization_id": tenants.acme.id, "credits": 60, "reference": "r7"},
        {"organization_id": tenants.acme.id, "credits": 50, "reference": "r8"},
    ]
    response = api.post("/usage", tenants.key_a, {"events": events})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    answers = [(r["status"], r.get("error", {}).get("code")) for r in body["results"]]
    assert answers == [
        ("refused", "organization_suspended"),
        ("refused", "validation_error"),
        ("refused", "validation_error"),
        ("refused", "insufficient_credits"),  # the postpaid credit limit
        ("accepted", None),
        ("refused", "insufficient_credits"),
        ("accepted", None),
    ]
    assert "occurred_at" in body["results"][1]["error"]["message"]
    assert "account" in body["results"][2]["error"]["message"]
    assert (body["accepted"], body["duplicates"], body["refused"]) == (2, 0, 5)
    assert system_credits(tenants.acme) == 0
    assert debt(postpaid) == Decimal("0.605")  # 10 x €0.05 + 21 %
    # Every refused reference stays free: sent again with room, it is charged.
    fund(tenants.acme, 60)
    again = batch(api, tenants.key_a, (tenants.acme, 60, "r7"), (tenants.acme, 1, "r8")).json
    assert [r["status"] for r in again["results"]] == ["accepted", "duplicate"]
    assert_conserved(tenants.acme)


def test_a_member_account_named_by_many_events_is_charged_in_order(api, tenants):
    acme = db.session.get(Organization, tenants.acme.id)
    acme.individual_user_credits = True
    commit()
    member = f"member:{tenants.acme_member.id}"
    fund(tenants.acme, 7, account=member)
    events = [
        {"organization_id": tenants.acme.id, "credits": 3, "reference": f"m{i}", "account": member}
        for i in range(4)
    ]
    body = api.post("/usage", tenants.key_a, {"events": events}).json
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted", "refused", "refused"]
    entries = sorted(usage_entries(tenants.acme), key=lambda e: e.balance_after, reverse=True)
    member_id = tenants.acme_member.id
    assert [(e.member_id, e.balance_after) for e in entries] == [(member_id, 4), (member_id, 1)]
    assert_conserved(tenants.acme)


def test_duplicates_across_the_single_and_batch_endpoints_both_ways(api, tenants, postpaid):
    fund(tenants.acme, 100)
    single = usage(api, tenants.acme, tenants.key_a, "one").json["id"]
    first = batch(
        api,
        tenants.key_a,
        (tenants.acme, 10, "one"),
        (tenants.acme, 10, "two"),
        (postpaid, 10, "p"),
    ).json["results"]
    assert [(r["status"], r["entry_id"]) for r in first[:1]] == [("duplicate", single)]
    assert first[1]["status"] == first[2]["status"] == "accepted"
    for org, reference, entry in ((tenants.acme, "two", first[1]), (postpaid, "p", first[2])):
        again = usage(api, org, tenants.key_a, reference)
        assert (again.status_code, again.json["id"]) == (200, entry["entry_id"])
    assert system_credits(tenants.acme) == 80
    assert debt(postpaid) == Decimal("0.605")


def test_a_batch_is_a_fixed_number_of_statements_whatever_its_size(app, api, tenants):
    """Set-based: 10 or 300 events of 3 organizations, the same statements."""
    app.config["API_RATE_LIMIT"] = ""
    fund(tenants.acme, 10_000)
    fund(tenants.zeta, 10)
    batch(api, tenants.key_a, (tenants.acme, 1, "warm-up"))  # the key's last use, written once
    counts = []
    for size in (10, 300):
        events = [(tenants.acme, 1, f"{size}-{i}") for i in range(size)]
        with recorded(app) as (statements, commits):
            response = batch(api, tenants.key_a, *events)
        assert response.status_code == 200 and response.json["accepted"] == size
        counts.append(len(statements))
        assert len(commits) == 1
    assert counts[0] == counts[1], [s[:100] for s in statements]
    assert system_credits(tenants.acme) == 10_000 - 311
    assert_conserved(tenants.acme)


def test_a_batch_is_a_fixed_number_of_statements_whatever_its_organizations(
    app, api, tenants, create_organization
):
    """The forecast counts a batch's organizations together: 2 or 8 organizations, the same
    forecast writes (one count_usage each made 1,000 events over 630 organizations
    1,280 statements), and on PostgreSQL the same statements in all, each organization's
    row written once, its 7-day sums with its total (SQLite moves each organization's total
    and balance by its own UPDATE); each organization's day total and 7-day sum hold its
    own usage."""
    app.config["API_RATE_LIMIT"] = ""
    orgs = [create_organization(tenants.a, name=f"Batch {n}") for n in range(8)]
    for org in orgs:
        fund(org, 100)
    # Each organization's first usage creates its usage account: out of the counted batches.
    batch(api, tenants.key_a, *((org, 1, f"warm-up-{n}") for n, org in enumerate(orgs)))
    counts = []
    for size in (2, 8):
        events = [(org, n + 1, f"{size}-{n}") for n, org in enumerate(orgs[:size])]
        for org in orgs:
            assert org.id  # loaded now: the test's own objects, not the request's statements
        with recorded(app) as (statements, _commits):
            response = batch(api, tenants.key_a, *events)
        assert response.json["accepted"] == size
        forecast = [s for s in statements if "usage_days" in s or "SET forecast_" in s]
        counts.append((len(forecast), len(statements)))
    if db.engine.dialect.name == "postgresql":
        # The day totals' upsert; no window read (each organization's stored window is
        # today's since its warm-up: the sums gain the batch's usage in place, in the totals'
        # UPDATE) (and the batch's turn, ledger_many.queue_batch, one statement; the
        # accounts' ids remembered, none read; their debit: a savepoint, their lock in id
        # order, one UPDATE, the savepoint released).
        assert counts[0][0] == counts[1][0] == 1, counts
        assert counts[0][1] == counts[1][1] == 10, counts
    else:  # … and the sums' own UPDATE
        assert counts[0][0] == counts[1][0] == 3, counts
    db.session.expire_all()
    for n, org in enumerate(orgs):
        used = 1 + (n + 1) * (2 if n < 2 else 1)  # the warm-up, then one or two batches
        stored = db.session.get(Organization, org.id)
        day = db.session.scalar(
            sa.select(UsageDay.credits).where(UsageDay.organization_id == org.id)
        )
        assert (day, stored.forecast_usage_7d, stored.total_credits) == (used, used, 100 - used)


def test_alerts_and_top_ups_are_asked_once_per_batch(api, tenants):
    acme = db.session.get(Organization, tenants.acme.id)
    acme.low_balance_alert, acme.low_balance_threshold = True, 50
    acme.auto_top_up_enabled, acme.auto_top_up_below, acme.auto_top_up_credits = True, 40, 100
    commit()
    fund(tenants.acme, 100)
    # 100 → 0 in ten steps: the threshold (50) and the top-up level (40) are crossed once.
    body = batch(api, tenants.key_a, *[(tenants.acme, 10, f"x{i}") for i in range(10)]).json
    assert body["accepted"] == 10
    assert (jobs_named("send_low_balance_email"), jobs_named("auto_top_up")) == (1, 1)
    # Already below: the next batch asks for neither again.
    fund(tenants.acme, 10)
    batch(api, tenants.key_a, (tenants.acme, 5, "y1"), (tenants.acme, 5, "y2"))
    assert (jobs_named("send_low_balance_email"), jobs_named("auto_top_up")) == (1, 1)
    assert system_credits(tenants.acme) == 0
    assert_conserved(tenants.acme)


@pytest.mark.parametrize(
    ("alert", "top_up", "expected"), [(True, False, (1, 0)), (False, True, (0, 1))]
)
def test_an_organization_with_one_alert_on_among_others_is_asked_it(
    api, tenants, create_organization, alert, top_up, expected
):
    """A batch asks alerts only of the organizations that watch their total or pool
    (ledger_many's ``watched``): either one alone is enough."""
    acme = db.session.get(Organization, tenants.acme.id)
    acme.low_balance_alert, acme.low_balance_threshold = alert, 50
    acme.auto_top_up_enabled, acme.auto_top_up_below, acme.auto_top_up_credits = top_up, 40, 100
    commit()
    quiet = create_organization(tenants.a, name="Quiet")  # watches nothing
    fund(tenants.acme, 100)
    fund(quiet, 100)
    events = [(org, 30, f"w{i}-{org.id}") for i in range(3) for org in (quiet, tenants.acme)]
    assert batch(api, tenants.key_a, *events).json["accepted"] == 6
    assert (jobs_named("send_low_balance_email"), jobs_named("auto_top_up")) == expected


@pytest.mark.postgres_only
def test_8_batches_at_once_on_one_account_never_overdraw_and_conserve_credits(app, tenants):
    fund(tenants.acme, 1000)
    headers = {"Authorization": f"Bearer {tenants.key_acme}"}
    acme = tenants.acme.id
    answers: list[dict] = []

    def post(index):
        # 8 x 100 events of 3 credits (2,400 asked of 1,000), plus one reference all share.
        events = [
            {"organization_id": acme, "credits": 3, "reference": f"b{index}-{i}"}
            for i in range(100)
        ] + [{"organization_id": acme, "credits": 3, "reference": "shared"}]
        client = FlaskClient(app, app.response_class)
        response = client.post("/api/v1/usage", json={"events": events}, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        answers.append(response.get_json())

    assert in_threads(app, 8, post) == []
    accepted = sum(answer["accepted"] for answer in answers)
    shared = sorted(answer["results"][100]["status"] for answer in answers)
    # 333 charges of 3 fit in 1,000; the shared reference is charged at most once.
    assert accepted == 333
    assert shared.count("accepted") <= 1 and shared.count("duplicate") <= 7
    assert system_credits(tenants.acme) == 1000 - 3 * accepted == 1
    assert len(usage_entries(tenants.acme)) == accepted
    balances = sorted(e.balance_after for e in usage_entries(tenants.acme))
    assert balances == list(range(1, 1000, 3))  # every balance after, once: no overdraw
    assert_conserved(tenants.acme)


@pytest.mark.postgres_only
def test_batches_take_turns_beside_single_charges_without_deadlock(app, tenants, postpaid):
    """Batches of one reseller queue for their turn (ledger_many.queue_batch) after their
    claims and before any account lock; single charges never take it. Six batches naming a
    prepaid and a postpaid organization in either order, and six single charges of each, at
    once: every request answers, nothing is charged twice, and the credits add up."""
    fund(tenants.acme, 1000)
    headers = {"Authorization": f"Bearer {tenants.key_a}"}
    acme, beta = tenants.acme.id, postpaid.id
    statuses: list[int] = []

    def post(index):
        client = FlaskClient(app, app.response_class)
        if index % 2:
            org = acme if index % 4 == 1 else beta
            response = client.post(
                f"/api/v1/organizations/{org}/usage",
                json={"credits": 1, "reference": f"single-{index}"},
                headers=headers,
            )
        else:
            pair = [acme, beta] if index % 4 == 0 else [beta, acme]
            events = [
                {"organization_id": pair[i % 2], "credits": 1, "reference": f"b{index}-{i}"}
                for i in range(40)
            ]
            response = client.post("/api/v1/usage", json={"events": events}, headers=headers)
        statuses.append(response.status_code)

    assert in_threads(app, 12, post) == []
    assert sorted(statuses) == [200] * 6 + [201] * 6
    # 6 batches x 20 events + 3 single charges on each organization.
    assert system_credits(tenants.acme) == 1000 - 123
    assert len(usage_entries(tenants.acme)) == 123
    charged = db.session.scalar(
        sa.select(sa.func.sum(Charge.credits)).where(Charge.organization_id == beta)
    )
    assert charged == 123
    assert_conserved(tenants.acme)


def test_postpaid_events_accrue_in_array_order_up_to_the_credit_limit(api, tenants, postpaid):
    postpaid.credit_limit = Decimal("1")
    commit()
    # 5 SMS at €0.05 + 21 % = €0.3025: three fit under €1, a fourth does not, one SMS does.
    body = batch(
        api,
        tenants.key_a,
        *[(postpaid, 5, f"p{i}") for i in range(4)],
        (postpaid, 1, "small"),
        (postpaid, 5, "p3"),  # the refused one again: refused alike
    ).json
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "accepted",
        "accepted",
        "refused",
        "accepted",
        "refused",
    ]
    assert body["results"][3]["error"]["code"] == "insufficient_credits"
    assert debt(postpaid) == Decimal("0.968")  # 3 x 0.3025 + 0.0605
    charges = db.session.scalars(
        sa.select(Charge).where(Charge.organization_id == postpaid.id).order_by(Charge.reference)
    ).all()
    assert sorted(c.reference for c in charges) == ["p0", "p1", "p2", "small"]
    assert sum(c.amount + c.tax for c in charges) == Decimal("0.968")
    entries = usage_entries(postpaid)
    assert sorted(e.id for e in entries) == sorted(
        body["results"][i]["entry_id"] for i in (0, 1, 2, 4)
    )
    assert {(e.balance_after, e.currency) for e in entries} == {(0, "EUR")}
    assert sum(e.amount for e in entries) == sum(c.amount for c in charges)
    # The refused reference is free again once the limit allows it.
    db.session.get(Organization, postpaid.id).credit_limit = Decimal("100")
    commit()
    again = batch(api, tenants.key_a, (postpaid, 5, "p3")).json
    assert again["results"][0]["status"] == "accepted"


def test_a_mixed_batch_is_a_fixed_number_of_statements_whatever_its_size(
    app, api, tenants, postpaid
):
    app.config["API_RATE_LIMIT"] = ""
    fund(tenants.acme, 10_000)
    batch(api, tenants.key_a, (tenants.acme, 1, "warm-up"), (postpaid, 1, "warm-up"))
    counts = []
    for size in (10, 200):
        events = [(org, 1, f"{size}-{i}") for i in range(size) for org in (tenants.acme, postpaid)]
        with recorded(app) as (statements, _commits):
            response = batch(api, tenants.key_a, *events)
        assert response.json["accepted"] == 2 * size
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert len(usage_entries(postpaid)) == 211


def test_a_batch_sent_again_with_its_idempotency_key_is_answered_as_before(api, tenants):
    """The answer of a batch with an Idempotency-Key is stored with its transaction (built
    before the commit, where a batch without one builds it after): sent again, the same
    answer is replayed and nothing is charged twice, the events' entries unchanged."""
    fund(tenants.acme, 10)
    events = [
        {"organization_id": tenants.acme.id, "credits": 4, "reference": "idem-1"},
        {"organization_id": tenants.acme.id, "credits": 9, "reference": "idem-2"},  # refused
        {"organization_id": tenants.acme.id, "credits": 3, "reference": "idem-1"},
    ]
    headers = {"Idempotency-Key": "batch-once"}
    first = api.post("/usage", tenants.key_a, {"events": events}, headers=headers)
    assert first.status_code == 200, first.json
    assert [r["status"] for r in first.json["results"]] == ["accepted", "refused", "duplicate"]
    again = api.post("/usage", tenants.key_a, {"events": events}, headers=headers)
    assert again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json == first.json
    assert system_credits(tenants.acme) == 6
    assert_conserved(tenants.acme)


def test_the_events_of_a_batch_that_name_no_moment_share_the_batch_s(api, tenants, postpaid):
    """One request, one clock: each prepaid and postpaid event without ``occurred_at``
    happened when the batch came (each used to read the clock again, a moment apiece)."""
    fund(tenants.acme, 100)
    before = utcnow()
    events = [(tenants.acme, 1, f"m{i}") for i in range(3)]
    events += [(tenants.beta, 1, f"p{i}") for i in range(3)]
    assert batch(api, tenants.key_a, *events).json["accepted"] == 6
    moments = {e.occurred_at for e in usage_entries(tenants.acme)}
    moments |= {e.occurred_at for e in usage_entries(tenants.beta)}
    assert len(moments) == 1
    assert before <= moments.pop() <= utcnow()
