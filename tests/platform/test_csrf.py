"""Every settings and platform form refuses a POST without its CSRF token."""

from __future__ import annotations

import pytest


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


@pytest.mark.parametrize(
    "path",
    [
        "/reseller/settings/prices/add",
        "/reseller/settings/taxes/add",
        "/reseller/settings/seller",
        "/reseller/settings/staff/invite",
    ],
)
def test_reseller_settings_forms_need_the_csrf_token(client, team, path):
    login = client.get("/login")
    assert login.status_code == 200
    from tests.conftest import PASSWORD

    with client.session_transaction():
        pass
    # Log in with a valid token, then post without one.
    import re

    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', login.data)
    token = token or re.search(rb'name="csrf_token" value="([^"]+)"', login.data)
    client.post(
        "/login",
        data={"email": team.admin.email, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert client.get("/reseller/settings/prices").status_code == 200
    response = client.post(path, data={"currency": "EUR", "country": "ES", "percent": "1"})
    assert response.status_code == 400
    assert b"Your form expired" in response.data


def test_platform_forms_need_the_csrf_token(client, platform_admin, create_reseller):
    import re

    from tests.conftest import PASSWORD

    login = client.get("/login")
    token = re.search(
        rb'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', login.data
    )
    token = token or re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', login.data)
    client.post(
        "/login",
        data={"email": platform_admin.email, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    reseller = create_reseller("Csrf Telecom")
    for path in (
        "/platform/resellers/new",
        f"/platform/resellers/{reseller.id}/suspend",
        "/platform/staff/invite",
    ):
        assert client.post(path, data={"reason": "x", "name": "x"}).status_code == 400
