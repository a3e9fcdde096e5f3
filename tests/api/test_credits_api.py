"""Credits over the API (SPEC §7): balance, purchases, transfers, withdrawals, usage and
movements (JSON and CSV), each with its status codes, tenant isolation and garbage input."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import (
    CreditAccount,
    Invoice,
    LedgerEntry,
    Organization,
    Purchase,
    PurchaseStatus,
)
from tenants.organizations.operations import suspend_organization
from tests.api.test_auth_and_errors import assert_error
from tests.credits.conftest import count, fund, set_credit_prices, system_credits

ENTRY_FIELDS = {
    "id",
    "created_at",
    "occurred_at",
    "type",
    "account",
    "credits",
    "balance_after",
    "amount",
    "reference",
    "actor",
}
DECLINED_CARD = "4000 0000 0000 0002"


def path(org, *parts: str) -> str:
    return "/".join([f"/organizations/{org.id}", *parts])


def individual(org) -> None:
    org.individual_user_credits = True
    commit()


# ---------------------------------------------------------------------------
# Balance


def test_balance_shows_the_pool_member_accounts_total_debt_and_limit(api, tenants):
    individual(tenants.acme)
    fund(tenants.acme, 500)
    fund(tenants.acme, 20, f"member:{tenants.acme_member.id}")
    for key in (tenants.key_a, tenants.key_acme):
        response = api.get(path(tenants.acme, "balance"), key)
        assert response.status_code == 200
        assert response.json == {
            "system_credits": 500,
            "users": [{"member_id": tenants.acme_member.id, "credits": 20}],
            "total_credits": 520,
            "reserved_credits": 0,
            "available_credits": 520,
            "unbilled": "0.00",
            "unbilled_tax": "0.00",
            "open_invoices": "0.00",
            "credit_on_account": "0.00",
            "debt": "0.00",
            "credit_limit": "0.00",
            "currency": "EUR",
        }


# ---------------------------------------------------------------------------
# Purchases


def test_offline_purchase_by_a_reseller_key_credits_at_once_with_a_receipt(api, tenants):
    set_credit_prices(tenants.a)
    response = api.post(
        path(tenants.acme, "purchases"),
        tenants.key_a,
        {"credits": 1000, "account": "system", "payment_method": "offline"},
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "paid"
    assert body["credits"] == 1000
    assert body["account"] == "system"
    assert body["payment_method"] == "offline"
    assert body["payment_url"] is None
    assert body["amounts"] == {
        "currency": "EUR",
        "unit_price": "0.045",
        "subtotal": "45.00",
        "tax_percent": "21",
        "tax": "9.45",
        "total": "54.45",
    }
    assert system_credits(tenants.acme) == 1000
    receipt = api.get(f"/invoices/{body['receipt_id']}", tenants.key_a).json
    assert (receipt["kind"], receipt["status"], receipt["total"]) == ("receipt", "paid", "54.45")
    assert receipt["lines"][0]["quantity"] == 1000
    assert receipt["lines"][0]["unit_price"] == "0.045"


def test_an_organization_key_may_not_pay_offline(api, tenants):
    set_credit_prices(tenants.a)
    response = api.post(
        path(tenants.acme, "purchases"),
        tenants.key_acme,
        {"credits": 100, "account": "system", "payment_method": "offline"},
    )
    assert "payment_method" in assert_error(response, 422, "validation_error")["fields"]
    assert count(Purchase) == 0
    assert system_credits(tenants.acme) == 0


def test_sandbox_card_pays_at_once(api, tenants):
    set_credit_prices(tenants.a)
    response = api.post(
        path(tenants.acme, "purchases"),
        tenants.key_acme,
        {
            "credits": 200,
            "account": "system",
            "payment_method": "sandbox",
            "card_number": "4242 4242 4242 4242",
        },
    )
    assert response.status_code == 201
    assert response.json["status"] == "paid"
    assert response.json["receipt_id"]
    assert system_credits(tenants.acme) == 200


def test_declined_card_is_402_and_credits_nothing(api, tenants):
    set_credit_prices(tenants.a)
    body = {
        "credits": 200,
        "account": "system",
        "payment_method": "sandbox",
        "card_number": DECLINED_CARD,
    }
    headers = {"Idempotency-Key": "declined-1"}
    response = api.post(path(tenants.acme, "purchases"), tenants.key_acme, body, headers=headers)
    assert_error(response, 402, "payment_declined")
    assert system_credits(tenants.acme) == 0
    assert count(LedgerEntry) == 0
    assert count(Invoice) == 0
    # The attempt stays on record as declined; the key is free to retry with another card.
    assert db.session.scalar(db.select(Purchase.status)) == PurchaseStatus.DECLINED
    body["card_number"] = "4242424242424242"
    retry = api.post(path(tenants.acme, "purchases"), tenants.key_acme, body, headers=headers)
    assert retry.status_code == 201
    assert system_credits(tenants.acme) == 200


def test_sandbox_without_card_is_pending_with_the_portal_payment_page(api, tenants):
    set_credit_prices(tenants.a)
    response = api.post(
        path(tenants.acme, "purchases"),
        tenants.key_acme,
        {"credits": 200, "account": "system", "payment_method": "sandbox"},
    )
    assert response.status_code == 201
    body = response.json
    assert body["status"] == "pending"
    assert body["receipt_id"] is None
    assert body["payment_url"] == (
        f"http://portal.test/organizations/{tenants.acme.id}/credits/purchases/{body['id']}/pay"
    )
    assert system_credits(tenants.acme) == 0


def test_a_card_number_is_refused_for_payments_without_a_card(api, tenants):
    set_credit_prices(tenants.a)
    response = api.post(
        path(tenants.acme, "purchases"),
        tenants.key_a,
        {
            "credits": 10,
            "account": "system",
            "payment_method": "offline",
            "card_number": "4242424242424242",
        },
    )
    assert set(assert_error(response, 422, "validation_error")["fields"]) == {"card_number"}


def test_no_price_for_the_currency_is_409(api, tenants):
    response = api.post(
        path(tenants.acme, "purchases"),
        tenants.key_a,
        {"credits": 10, "account": "system", "payment_method": "offline"},
    )
    assert_error(response, 409, "price_not_set")
    assert count(Purchase) == 0


def test_a_member_account_needs_individual_credits(api, tenants):
    set_credit_prices(tenants.a)
    response = api.post(
        path(tenants.acme, "purchases"),
        tenants.key_a,
        {
            "credits": 10,
            "account": f"member:{tenants.acme_member.id}",
            "payment_method": "offline",
        },
    )
    assert set(assert_error(response, 422, "validation_error")["fields"]) == {"account"}


def test_a_repeated_purchase_with_the_same_key_credits_once(api, tenants):
    set_credit_prices(tenants.a)
    body = {"credits": 1000, "account": "system", "payment_method": "offline"}
    headers = {"Idempotency-Key": "buy-1000"}
    first = api.post(path(tenants.acme, "purchases"), tenants.key_a, body, headers=headers)
    second = api.post(path(tenants.acme, "purchases"), tenants.key_a, body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.get_data() == first.get_data()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert system_credits(tenants.acme) == 1000
    assert count(Purchase) == 1
    assert count(Invoice) == 1


# ---------------------------------------------------------------------------
# Transfers and withdrawals


def test_transfer_answers_both_ledger_entries(api, tenants):
    individual(tenants.acme)
    fund(tenants.acme, 100)
    member = f"member:{tenants.acme_member.id}"
    response = api.post(
        path(tenants.acme, "transfers"),
        tenants.key_acme,
        {"from": "system", "to": member, "credits": 30},
    )
    assert response.status_code == 201
    out, into = response.json["from"], response.json["to"]
    assert set(out) == set(into) == ENTRY_FIELDS
    assert (out["type"], out["account"], out["credits"], out["balance_after"]) == (
        "transfer_out",
        "system",
        -30,
        70,
    )
    assert (into["type"], into["account"], into["credits"], into["balance_after"]) == (
        "transfer_in",
        member,
        30,
        30,
    )
    assert out["actor"]["type"] == "api_key"
    assert out["actor"]["id"]
    back = api.post(
        path(tenants.acme, "transfers"),
        tenants.key_a,
        {"from": member, "to": "system", "credits": 30},
    )
    assert back.status_code == 201
    assert system_credits(tenants.acme) == 100


def test_transfer_refusals(api, tenants):
    individual(tenants.acme)
    fund(tenants.acme, 10)
    member = f"member:{tenants.acme_member.id}"
    url = path(tenants.acme, "transfers")
    short = api.post(url, tenants.key_a, {"from": "system", "to": member, "credits": 11})
    assert_error(short, 402, "insufficient_credits")
    same = api.post(url, tenants.key_a, {"from": "system", "to": "system", "credits": 1})
    assert set(assert_error(same, 422, "validation_error")["fields"]) == {"to"}
    unknown = api.post(url, tenants.key_a, {"from": "system", "to": "member:mem_x", "credits": 1})
    assert set(assert_error(unknown, 422, "validation_error")["fields"]) == {"to"}
    assert system_credits(tenants.acme) == 10
    assert count(LedgerEntry) == 2  # the funding only


def test_withdrawal_by_a_reseller_key(api, tenants):
    fund(tenants.acme, 100)
    url = path(tenants.acme, "withdrawals")
    response = api.post(
        url, tenants.key_a, {"credits": 40, "account": "system", "reason": "Closing"}
    )
    assert response.status_code == 201
    entry = response.json
    assert (entry["type"], entry["credits"], entry["balance_after"], entry["reference"]) == (
        "withdrawal",
        -40,
        60,
        "Closing",
    )
    plain = api.post(url, tenants.key_a, {"credits": 10, "account": "system"})
    assert plain.json["reference"] == "API withdrawal"
    assert_error(
        api.post(url, tenants.key_a, {"credits": 51, "account": "system"}),
        402,
        "insufficient_credits",
    )
    assert system_credits(tenants.acme) == 50


def test_an_organization_key_may_not_withdraw(api, tenants):
    fund(tenants.acme, 100)
    response = api.post(
        path(tenants.acme, "withdrawals"), tenants.key_acme, {"credits": 40, "account": "system"}
    )
    assert_error(response, 403, "forbidden")
    assert system_credits(tenants.acme) == 100


# ---------------------------------------------------------------------------
# Usage


def test_usage_debits_and_keeps_occurred_at_and_reference(api, tenants):
    fund(tenants.acme, 100)
    sent = (utcnow() - timedelta(days=34)).replace(microsecond=0)
    response = api.post(
        path(tenants.acme, "usage"),
        tenants.key_acme,
        {"credits": 10, "reference": "batch-7", "occurred_at": sent.isoformat()},
    )
    assert response.status_code == 201
    entry = response.json
    assert set(entry) == ENTRY_FIELDS
    assert (entry["type"], entry["account"], entry["credits"], entry["balance_after"]) == (
        "usage",
        "system",
        -10,
        90,
    )
    assert entry["reference"] == "batch-7"
    assert entry["occurred_at"] == sent.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert entry["amount"] is None


def test_usage_beyond_the_balance_is_402_and_untouched(api, tenants):
    fund(tenants.acme, 5)
    response = api.post(
        path(tenants.acme, "usage"), tenants.key_a, {"credits": 6, "reference": "too-much"}
    )
    assert_error(response, 402, "insufficient_credits")
    assert system_credits(tenants.acme) == 5
    assert count(LedgerEntry) == 2


def test_usage_of_a_suspended_organization_is_409(api, tenants):
    fund(tenants.acme, 50)
    suspend_organization(SYSTEM, tenants.acme, "unpaid")
    commit()
    response = api.post(
        path(tenants.acme, "usage"), tenants.key_a, {"credits": 1, "reference": "x"}
    )
    assert_error(response, 409, "organization_suspended")
    assert system_credits(tenants.acme) == 50


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2026-01-01T10:00:00",  # no time zone
        "yesterday",
        "2026-13-01T10:00:00Z",
        "0001-01-01T00:00:00+01:00",
        timedelta(days=-36),  # too late
        timedelta(days=1),  # in the future
    ],
    ids=["no-zone", "words", "bad-month", "year-one", "too-late", "future"],
)
def test_usage_occurred_at_must_be_a_recent_zoned_time(api, tenants, occurred_at):
    if isinstance(occurred_at, timedelta):  # relative to now, so ids stay stable for xdist
        occurred_at = (utcnow() + occurred_at).isoformat()
    fund(tenants.acme, 50)
    response = api.post(
        path(tenants.acme, "usage"),
        tenants.key_a,
        {"credits": 1, "reference": "late", "occurred_at": occurred_at},
    )
    assert set(assert_error(response, 422, "validation_error")["fields"]) == {"occurred_at"}
    assert system_credits(tenants.acme) == 50


def test_usage_with_individual_credits_charges_the_given_member(api, tenants):
    individual(tenants.acme)
    member = f"member:{tenants.acme_member.id}"
    fund(tenants.acme, 20, member)
    url = path(tenants.acme, "usage")
    missing = api.post(url, tenants.key_a, {"credits": 1, "reference": "r"})
    assert set(assert_error(missing, 422, "validation_error")["fields"]) == {"account"}
    response = api.post(url, tenants.key_a, {"credits": 5, "reference": "r", "account": member})
    assert (response.status_code, response.json["balance_after"]) == (201, 15)


@pytest.mark.parametrize(
    "body",
    [
        {"credits": 0, "reference": "r"},
        {"credits": -5, "reference": "r"},
        {"credits": 1.5, "reference": "r"},
        {"credits": "10", "reference": "r"},
        {"credits": True, "reference": "r"},
        {"credits": 10**10, "reference": "r"},
        {"credits": 1},
        {"credits": 1, "reference": "r", "extra": 1},
        {"credits": 1, "reference": "r", "account": "pool"},
    ],
)
def test_usage_refuses_bad_fields_with_422(api, tenants, body):
    fund(tenants.acme, 50)
    response = api.post(path(tenants.acme, "usage"), tenants.key_a, body)
    assert assert_error(response, 422, "validation_error")["fields"]
    assert system_credits(tenants.acme) == 50


@pytest.mark.postgres_only
def test_concurrent_usage_through_the_api_never_overdraws(app, tenants):
    """16 threads, 400 requests of 10 credits over HTTP against 2,000: exactly 200 pass."""
    fund(tenants.acme, 2000)
    url = f"/api/v1{path(tenants.acme, 'usage')}"
    headers = {"Authorization": f"Bearer {tenants.key_acme}"}
    db.session.rollback()
    barrier = threading.Barrier(16)

    def work(index: int) -> list[int]:
        client = FlaskClient(app, app.response_class)  # its own client, no shared context
        barrier.wait()
        return [
            client.post(
                url, json={"credits": 10, "reference": f"t{index}-{n}"}, headers=headers
            ).status_code
            for n in range(25)
        ]

    results: list[list[int]] = [[] for _ in range(16)]
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, work(i))) for i in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = [status for result in results for status in result]
    assert statuses.count(201) == 200
    assert statuses.count(402) == 200
    assert system_credits(tenants.acme) == 0
    assert min(db.session.scalars(db.select(CreditAccount.balance))) >= 0


# ---------------------------------------------------------------------------
# Movements


@pytest.fixture
def history(tenants):
    """Acme: funded 100, a transfer to a member, two usages, one with a formula reference."""
    individual(tenants.acme)
    member = f"member:{tenants.acme_member.id}"
    fund(tenants.acme, 100, reference='=HYPERLINK("http://evil")')
    credits.transfer_credits(SYSTEM, tenants.acme, "system", member, 30, agreed=True)
    credits.record_usage(SYSTEM, tenants.acme, credits=5, reference="+cmd", account=member)
    credits.record_usage(SYSTEM, tenants.acme, credits=7, reference="@sum", account=member)
    commit()
    return member


def test_movements_pages_newest_first_with_every_field(api, tenants, history):
    url = path(tenants.acme, "movements")
    first = api.get(url, tenants.key_acme, query={"limit": "3"})
    assert first.status_code == 200
    page = first.json
    assert len(page["data"]) == 3
    assert all(set(e) == ENTRY_FIELDS for e in page["data"])
    assert page["data"][0]["credits"] == -7
    assert page["data"][0]["actor"] == {
        "type": "system",
        "id": None,
        "email": None,
        "support_agent_email": None,
    }
    rest = api.get(url, tenants.key_acme, query={"limit": "3", "cursor": page["next_cursor"]})
    assert rest.json["next_cursor"] is None
    types = [e["type"] for e in page["data"] + rest.json["data"]]
    # A transfer's two postings share their time; either may come first.
    assert types[:2] == ["usage", "usage"]
    assert set(types[2:4]) == {"transfer_in", "transfer_out"}
    assert types[4] == "purchase"


def test_movements_filters(api, tenants, history):
    url = path(tenants.acme, "movements")

    def types(**query):
        response = api.get(url, tenants.key_a, query=query)
        assert response.status_code == 200, response.json
        return [e["type"] for e in response.json["data"]]

    assert types(type="usage") == ["usage", "usage"]
    assert types(type="purchase,transfer_out") == ["transfer_out", "purchase"]
    assert types(account="system") == ["transfer_out", "purchase"]
    assert types(account=history) == ["usage", "usage", "transfer_in"]
    future = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    past = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert types(since=future) == []
    assert types(until=past) == []
    assert len(types(since=past, until=future)) == 5


@pytest.mark.parametrize(
    "query",
    [
        {"type": "rebate"},
        {"type": "usage,"},
        {"account": "pool"},
        {"since": "yesterday"},
        {"since": "2026-01-01T00:00:00"},
        {"until": "9999-12-31T23:59:59-01:00"},
        {"cursor": "!!!"},
        {"cursor": "WyJvbGRlciIsICJ4IiwgMV0"},
        {"limit": "0"},
        {"limit": "101"},
        {"page": "2"},
    ],
)
def test_movement_filters_refuse_garbage_with_422(api, tenants, history, query):
    for suffix in ("movements", "movements.csv"):
        response = api.get(path(tenants.acme, suffix), tenants.key_a, query=query)
        assert assert_error(response, 422, "validation_error")["fields"], (suffix, query)


def read_csv(response) -> list[list[str]]:
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text)))


def test_movements_csv_streams_localized_and_escapes_formulas(api, tenants, history):
    url = path(tenants.acme, "movements.csv")
    response = api.get(url, tenants.key_a, headers={"Accept-Language": "es"})
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0][0] == "Fecha"
    assert len(rows) == 6
    references = [row[7] for row in rows[1:]]
    assert "'@sum" in references
    assert "'+cmd" in references
    assert '\'=HYPERLINK("http://evil")' in references
    english = read_csv(api.get(url, tenants.key_a, query={"type": "usage"}))
    assert english[0][0] == "Date"
    assert len(english) == 3


# ---------------------------------------------------------------------------
# Isolation


def state(tenants) -> str:
    db.session.expire_all()
    return json.dumps(
        [
            count(LedgerEntry),
            count(Purchase),
            count(Invoice),
            sorted(db.session.execute(db.select(CreditAccount.id, CreditAccount.balance)).all()),
            sorted(db.session.execute(db.select(Organization.id, Organization.status)).all()),
        ],
        default=str,
    )


def credit_requests(org, member_id: str):
    member = f"member:{member_id}"
    return [
        ("GET", path(org, "balance"), None),
        (
            "POST",
            path(org, "purchases"),
            {"credits": 5, "account": "system", "payment_method": "offline"},
        ),
        ("POST", path(org, "transfers"), {"from": "system", "to": member, "credits": 5}),
        ("POST", path(org, "withdrawals"), {"credits": 5, "account": "system"}),
        ("POST", path(org, "usage"), {"credits": 5, "reference": "x"}),
        ("GET", path(org, "movements"), None),
        ("GET", path(org, "movements.csv"), None),
        ("GET", path(org, "invoices"), None),
    ]


def test_another_resellers_key_gets_404_on_credits_and_changes_nothing(api, tenants):
    set_credit_prices(tenants.a)
    individual(tenants.acme)
    fund(tenants.acme, 100)
    before = state(tenants)
    for org in (tenants.acme, tenants.beta):
        for method, url, body in credit_requests(org, tenants.acme_member.id):
            response = api.call(
                method, url, tenants.key_b, body, headers={"Idempotency-Key": f"{method}{url}"}
            )
            assert_error(response, 404, "not_found")
    assert state(tenants) == before


def test_an_organization_key_sees_only_its_organization(api, tenants, create_api_key):
    set_credit_prices(tenants.b)
    fund(tenants.zeta, 100)
    before = state(tenants)
    for org in (tenants.beta, tenants.zeta):
        for method, url, body in credit_requests(org, tenants.acme_member.id):
            assert_error(api.call(method, url, tenants.key_acme, body), 404, "not_found")
    assert state(tenants) == before
    assert api.get(path(tenants.acme, "balance"), tenants.key_acme).status_code == 200
    zeta_key = create_api_key(organization=tenants.zeta)
    assert api.get(path(tenants.zeta, "balance"), zeta_key).json["system_credits"] == 100


# ---------------------------------------------------------------------------
# The OpenAPI document


def test_the_document_describes_the_credit_endpoints_with_their_schemas(client):
    from reseller.api import schemas_credits as schemas
    from reseller.api.openapi import json_schema

    document = client.get("/api/v1/openapi.json").json
    components = document["components"]["schemas"]
    for model in (
        schemas.PurchaseCreate,
        schemas.Purchase,
        schemas.UsageCreate,
        schemas.LedgerEntry,
        schemas.Balance,
        schemas.Invoice,
    ):
        own = {key: value for key, value in json_schema(model).items() if key != "$defs"}
        assert components[model.__name__] == own
    org = "/api/v1/organizations/{org_id}"
    usage = document["paths"][f"{org}/usage"]["post"]
    assert {"201", "402", "409", "422"} <= set(usage["responses"])
    purchase = document["paths"][f"{org}/purchases"]["post"]
    assert "4000 0000 0000 0002" in purchase["description"]
    assert "payment_url" in purchase["description"]
    csv_answer = document["paths"][f"{org}/movements.csv"]["get"]["responses"]["200"]
    assert list(csv_answer["content"]) == ["text/csv"]
    pdf_answer = document["paths"]["/api/v1/invoices/{invoice_id}.pdf"]["get"]["responses"]
    assert list(pdf_answer["200"]["content"]) == ["application/pdf"]
    withdrawal = document["paths"][f"{org}/withdrawals"]["post"]
    assert "Reseller keys only" in withdrawal["description"]
