"""Every credits form refuses a POST without its CSRF token, and changes nothing."""

from __future__ import annotations

import re

import pytest

from tenants.core.extensions import db
from tenants.credits import ledger
from tests.conftest import PASSWORD
from tests.credits.conftest import credits_url, fund, member_account


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


def test_credits_forms_need_the_csrf_token(client, shop):
    fund(shop.org, 50)
    login = client.get("/login")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', login.data)
    token = token or re.search(rb'name="csrf_token" value="([^"]+)"', login.data)
    client.post(
        "/login",
        data={"email": shop.owner.user.email, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert client.get(credits_url(shop.org, "")).status_code == 200
    posts = {
        "purchase": {"account": "system", "credits": "10"},
        "purchase/confirm": {"account": "system", "credits": "10", "payment_method": "sandbox"},
        "transfer": {
            "source": "system",
            "target": member_account(shop.member),
            "credits": "5",
            "agree": "y",
        },
    }
    for part, data in posts.items():
        response = client.post(credits_url(shop.org, part), data=data)
        assert response.status_code == 400, part
        assert b"Your form expired" in response.data
    db.session.expire_all()
    assert ledger.balance(shop.org).system_credits == 50
