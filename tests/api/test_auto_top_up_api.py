"""Automatic top-up through the API (SPEC §4, §7): ``auto_top_up.monthly_limit`` beside the
level and the quantity, by the same operation and rules as the portal's Settings form; the
platform's AUTO_TOP_UP_MONTHLY_CAP is the ceiling."""

from __future__ import annotations

from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import Organization
from tests.api.test_auth_and_errors import assert_error


def path(org) -> str:
    return f"/organizations/{org.id}"


def test_an_organization_key_switches_it_on_with_its_monthly_limit(api, tenants):
    body = {"auto_top_up": {"enabled": True, "below": 200, "credits": 1000, "monthly_limit": 4}}
    response = api.patch(path(tenants.acme), tenants.key_acme, body)
    assert response.status_code == 200, response.json
    assert response.json["auto_top_up"] == {
        "enabled": True,
        "below": 200,
        "credits": 1000,
        "monthly_limit": 4,
    }
    db.session.expire_all()
    assert db.session.get(Organization, tenants.acme.id).auto_top_up_monthly_limit == 4


def test_switching_it_on_needs_a_level_above_zero(api, tenants):
    body = {"auto_top_up": {"enabled": True, "below": 0, "credits": 1000}}
    error = assert_error(
        api.patch(path(tenants.acme), tenants.key_a, body), 422, "validation_error"
    )
    assert error["fields"] == {
        "auto_top_up.below": "Enter the level: credits are bought when the pool drops below it."
    }
    assert api.get(path(tenants.acme), tenants.key_a).json["auto_top_up"]["enabled"] is False


def test_a_limit_above_the_platform_ceiling_is_refused_and_a_lowered_ceiling_applies(
    app, api, tenants
):
    app.config["AUTO_TOP_UP_MONTHLY_CAP"] = 3
    body = {"auto_top_up": {"monthly_limit": 4}}
    error = assert_error(
        api.patch(path(tenants.acme), tenants.key_a, body, headers={"Accept-Language": "es"}),
        422,
        "validation_error",
    )
    assert error["fields"] == {"auto_top_up.monthly_limit": "Ingresa un número entre 1 y 3."}
    # Set before the ceiling came down (10, the default): the lower ceiling is what applies.
    assert api.get(path(tenants.acme), tenants.key_a).json["auto_top_up"]["monthly_limit"] == 3
    tenants.acme.auto_top_up_monthly_limit = 2
    commit()
    assert api.get(path(tenants.acme), tenants.key_a).json["auto_top_up"]["monthly_limit"] == 2
