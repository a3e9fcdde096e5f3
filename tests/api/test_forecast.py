"""The API's forecast (SPEC §7): the organization's ``forecast`` ({"daily_usage", "days_left"},
null without usage), ``settings.forecast_alert_days`` (1 to 90, null: off; anything else a
422 on that field), and the list's ``sort=days_left`` and ``runs_out_within``."""

from __future__ import annotations

import pytest

from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import Organization
from tests.api.test_auth_and_errors import assert_error


def set_forecast(org, *, credits: int, used_7d: int, reserved: int = 0) -> None:
    """The stored forecast (the usage paths keep it: tests/credits/test_forecast.py)."""
    org.total_credits = credits
    org.reserved_credits = reserved
    org.forecast_usage_7d = used_7d
    db.session.add(org)
    commit()


def test_forecast_is_null_without_usage_then_daily_usage_and_days_left(api, tenants):
    url = f"/organizations/{tenants.acme.id}"
    assert api.get(url, tenants.key_a).json["forecast"] is None
    set_forecast(tenants.acme, credits=9_200, used_7d=700)
    assert api.get(url, tenants.key_a).json["forecast"] == {
        "daily_usage": "100.0",
        "days_left": 92,
    }
    assert api.get(url, tenants.key_acme).json["forecast"]["days_left"] == 92
    set_forecast(tenants.acme, credits=9_200, used_7d=3)
    assert api.get(url, tenants.key_a).json["forecast"] == {
        "daily_usage": "0.4",
        "days_left": 21466,
    }


def test_the_alert_setting_is_set_and_switched_off(api, tenants):
    url = f"/organizations/{tenants.acme.id}"
    response = api.patch(url, tenants.key_acme, {"settings": {"forecast_alert_days": 7}})
    assert response.status_code == 200, response.json
    assert response.json["settings"]["forecast_alert_days"] == 7
    db.session.expire_all()
    assert db.session.get(Organization, tenants.acme.id).forecast_alert_days == 7
    response = api.patch(url, tenants.key_a, {"settings": {"forecast_alert_days": None}})
    assert response.json["settings"]["forecast_alert_days"] is None


@pytest.mark.parametrize("value", [0, 91, -1, 7.5, "7", True, 10**30])
def test_a_bad_alert_setting_is_a_422_on_its_field(api, tenants, value):
    url = f"/organizations/{tenants.acme.id}"
    response = api.patch(url, tenants.key_a, {"settings": {"forecast_alert_days": value}})
    error = assert_error(response, 422, "validation_error")
    assert list(error["fields"]) == ["settings.forecast_alert_days"]


def test_the_list_sorts_by_days_left_and_filters_runs_out_within(api, tenants):
    set_forecast(tenants.acme, credits=300, used_7d=700)  # 3 days
    set_forecast(tenants.beta, credits=0, used_7d=0)  # no usage
    listed = api.get("/organizations", tenants.key_a, query={"sort": "days_left"}).json
    assert [o["name"] for o in listed["data"]] == ["Acme", "Beta"]
    soon = api.get("/organizations", tenants.key_a, query={"runs_out_within": "5"}).json
    assert [o["name"] for o in soon["data"]] == ["Acme"]
    first = api.get("/organizations", tenants.key_a, query={"sort": "days_left", "limit": "1"}).json
    assert [o["name"] for o in first["data"]] == ["Acme"]
    query = {"sort": "days_left", "limit": "1", "cursor": first["next_cursor"]}
    second = api.get("/organizations", tenants.key_a, query=query).json
    assert [o["name"] for o in second["data"]] == ["Beta"] and second["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"runs_out_within": "0"}, "runs_out_within"),
        ({"runs_out_within": "abc"}, "runs_out_within"),
        ({"runs_out_within": "3651"}, "runs_out_within"),
        ({"sort": "debt"}, "sort"),
        ({"sort": "days_left", "cursor": "W1sxXV0"}, "cursor"),
    ],
)
def test_bad_list_parameters_are_a_422(api, tenants, query, field):
    response = api.get("/organizations", tenants.key_a, query=query)
    error = assert_error(response, 422, "validation_error")
    assert field in error["fields"]


def test_days_left_count_the_credits_available(api, tenants):
    """(total_credits - reserved_credits) * 7 / the week's usage, never below 0."""
    url = f"/organizations/{tenants.acme.id}"
    set_forecast(tenants.acme, credits=9_200, used_7d=700, reserved=2_200)
    assert api.get(url, tenants.key_a).json["forecast"] == {
        "daily_usage": "100.0",
        "days_left": 70,
    }
    soon = api.get("/organizations", tenants.key_a, query={"runs_out_within": "5"}).json
    assert soon["data"] == []
    set_forecast(tenants.acme, credits=9_200, used_7d=700, reserved=9_000)  # 2 days
    soon = api.get("/organizations", tenants.key_a, query={"runs_out_within": "5"}).json
    assert [o["name"] for o in soon["data"]] == ["Acme"]
    set_forecast(tenants.acme, credits=100, used_7d=700, reserved=100)
    assert api.get(url, tenants.key_a).json["forecast"]["days_left"] == 0
