"""GET /api/v1/reseller/balance (SPEC §7) and the 402 ``reseller_credits_exhausted`` the
credit endpoints answer when the reseller's wholesale pool cannot cover them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import ledger
from tenants.jobs.outbox import commit
from tenants.models import LedgerEntry, WholesaleDay
from tenants.wholesale import operations as wholesale
from tests.api.conftest import Api
from tests.conftest import new_reference
from tests.wholesale.conftest import add_lot, assert_balanced, pool_credits


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture
def world(create_priced_reseller, create_organization, create_api_key):
    small = create_priced_reseller(name="Small Telecom", pool=0)
    add_lot(small, 1000, "0.020")
    other = create_priced_reseller(name="Other Telecom", pool=0)
    prepaid = create_organization(small, name="Acme", owner_password=None)
    postpaid = create_organization(
        small, name="Beta", pricing_model="postpaid", owner_password=None
    )
    postpaid.credit_limit = 1000
    commit()
    return {
        "small": small,
        "other": other,
        "prepaid": prepaid,
        "postpaid": postpaid,
        "key": create_api_key(small),
        "other_key": create_api_key(other),
        "org_key": create_api_key(organization=prepaid),
    }


def test_balance_reads_the_pool_threshold_and_forecast(api, world):
    wholesale.set_low_pool_threshold(SYSTEM, world["small"], 200)
    commit()
    answer = api.get("/reseller/balance", world["key"])
    assert answer.status_code == 200
    assert answer.json == {"credits": 1000, "low_balance_threshold": 200, "forecast": None}
    purchase = api.post(
        f"/organizations/{world['prepaid'].id}/purchases",
        world["key"],
        {"credits": 700, "account": "system", "payment_method": "offline"},
    )
    assert purchase.status_code == 201
    # 700 drawn today: 100.0 a day; 300 left last 3 days.
    assert api.get("/reseller/balance", world["key"]).json == {
        "credits": 300,
        "low_balance_threshold": 200,
        "forecast": {"daily_usage": "100.0", "days_left": 3},
    }


def test_the_forecast_counts_only_the_last_seven_days(api, world):
    today = utcnow().date()
    db.session.add_all(
        [
            WholesaleDay(reseller_id=world["small"].id, day=today - timedelta(days=7), credits=700),
            WholesaleDay(reseller_id=world["small"].id, day=today - timedelta(days=6), credits=70),
        ]
    )
    commit()
    assert api.get("/reseller/balance", world["key"]).json["forecast"] == {
        "daily_usage": "10.0",
        "days_left": 100,
    }


def test_organization_keys_may_not_read_the_pool_and_resellers_see_only_theirs(api, world):
    assert api.get("/reseller/balance", world["org_key"]).status_code == 403
    assert api.get("/reseller/balance", world["other_key"]).json["credits"] == 0
    assert api.get("/reseller/balance", None).status_code == 401


def test_a_purchase_past_the_pool_is_402_and_nothing_is_applied(api, world):
    answer = api.post(
        f"/organizations/{world['prepaid'].id}/purchases",
        world["key"],
        {"credits": 1001, "account": "system", "payment_method": "offline"},
    )
    assert answer.status_code == 402
    assert answer.json["error"]["code"] == "reseller_credits_exhausted"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 0
    assert ledger.balance(world["prepaid"]).system_credits == 0
    assert pool_credits(world["small"]) == 1000


def test_postpaid_usage_past_the_pool_is_402_and_a_withdrawal_gives_back(api, world):
    org = world["postpaid"].id
    usage = {"credits": 900, "reference": new_reference()}
    assert api.post(f"/organizations/{org}/usage", world["key"], usage).status_code == 201
    refused = api.post(
        f"/organizations/{org}/usage", world["key"], {"credits": 101, "reference": new_reference()}
    )
    assert refused.status_code == 402
    assert refused.json["error"]["code"] == "reseller_credits_exhausted"
    buy = {"credits": 100, "account": "system", "payment_method": "offline"}
    prepaid = world["prepaid"].id
    assert api.post(f"/organizations/{prepaid}/purchases", world["key"], buy).status_code == 201
    back = {"credits": 60, "account": "system"}
    assert api.post(f"/organizations/{prepaid}/withdrawals", world["key"], back).status_code in (
        200,
        201,
    )
    assert pool_credits(world["small"]) == 60
    assert_balanced(world["small"])
