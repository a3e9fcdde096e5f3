"""The forecast in the portal: the Customer app's "Days left" column, its order (soonest to
run out first, no usage last) and its "runs out within N days" filter; the overview's daily
usage and days left; the Settings form's "warn me N days before I run out" — in English and
Spanish, bad input a clear 422, never a 500."""

from __future__ import annotations

import re

import pytest

from tenants.core.extensions import db
from tenants.credits.forecast import forecast_of
from tenants.models import Organization


def reread(org) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, org.id)


def speak(user, language: str) -> None:
    user.language = language
    db.session.commit()


def set_forecast(org, *, credits: int, used_7d: int, reserved: int = 0) -> None:
    """The stored forecast the list reads (the usage paths keep it: tests/credits)."""
    org.total_credits = credits
    org.reserved_credits = reserved
    org.forecast_usage_7d = used_7d
    db.session.add(org)
    db.session.commit()


@pytest.fixture
def three(reseller, create_organization):
    """Soon (3 days left), Later (50 days), Quiet (no usage)."""
    soon = create_organization(reseller, name="Soon")
    later = create_organization(reseller, name="Later")
    quiet = create_organization(reseller, name="Quiet")
    set_forecast(soon, credits=300, used_7d=700)  # 100.0 a day: 3 days
    set_forecast(later, credits=5_000, used_7d=700)  # 50 days
    return soon, later, quiet


def names_listed(html: str) -> list[str]:
    rows = re.findall(r'<tr data-organization="[^"]+">\s*<td>([^<]+)', html)
    return [name.strip() for name in rows]


def days_cells(html: str) -> list[str]:
    return [c.strip() for c in re.findall(r'data-field="days-left">([^<]*)</td>', html)]


def test_the_list_shows_days_left_and_sorts_soonest_first(agent_client, three):
    html = agent_client.get("/customers/").get_data(as_text=True)
    assert names_listed(html) == ["Later", "Quiet", "Soon"]  # by name
    assert days_cells(html) == ["50 days", "—", "3 days"]
    assert 'href="/customers/?sort=days_left"' in html
    by_days = agent_client.get("/customers/?sort=days_left").get_data(as_text=True)
    assert names_listed(by_days) == ["Soon", "Later", "Quiet"]  # no usage last
    assert 'aria-sort="ascending"' in by_days


def test_the_forecast_order_pages_with_its_cursor(agent_client, three):
    html = agent_client.get("/customers/?sort=days_left").get_data(as_text=True)
    assert 'rel="next"' not in html  # 3 rows, a page of 50
    bad = agent_client.get("/customers/?sort=days_left&cursor=W1sxXV0")
    assert bad.status_code == 422


def test_runs_out_within_n_days_filters(agent_client, three):
    html = agent_client.get("/customers/?runs_out_within=10").get_data(as_text=True)
    assert names_listed(html) == ["Soon"]
    html = agent_client.get("/customers/?runs_out_within=50").get_data(as_text=True)
    assert names_listed(html) == ["Later", "Soon"]
    html = agent_client.get("/customers/?runs_out_within=60&sort=days_left&q=o").get_data(
        as_text=True
    )
    assert names_listed(html) == ["Soon", "Later"]


@pytest.mark.parametrize("typed", ["0", "abc", "3651", "-1", "1.5", "9" * 40])
def test_a_bad_number_of_days_is_a_clear_422(agent_client, three, typed):
    response = agent_client.get("/customers/", query_string={"runs_out_within": typed})
    assert response.status_code == 422
    assert "Enter a number of days from 1 to 3,650." in response.get_data(as_text=True)


def test_a_nul_in_the_days_is_refused_too(agent_client, three):
    response = agent_client.get("/customers/", query_string={"runs_out_within": "7\x00"})
    assert response.status_code in (400, 422)


def test_an_unknown_sort_is_a_422(agent_client, three):
    response = agent_client.get("/customers/?sort=debt")
    assert response.status_code == 422


def test_more_than_ten_years_is_listed_as_such_after_every_shorter_forecast(
    agent_client, agent, reseller, create_organization, three
):
    """Days left are ordered and filtered up to ten years: beyond, the list says so and
    orders those organizations after the shorter forecasts, by id; the API and the overview
    keep the exact number."""
    rich = create_organization(reseller, name="Rich")
    richer = create_organization(reseller, name="Richer")
    set_forecast(rich, credits=10**9, used_7d=700)  # 10,000,000 days
    set_forecast(richer, credits=4_000_000, used_7d=700)  # 40,000 days
    assert reread(rich).forecast_days_left == reread(richer).forecast_days_left == 3_651
    by_days = agent_client.get("/customers/?sort=days_left").get_data(as_text=True)
    tail = sorted([("Rich", rich.id), ("Richer", richer.id)], key=lambda pair: pair[1])
    assert names_listed(by_days) == ["Soon", "Later", *(name for name, _ in tail), "Quiet"]
    assert days_cells(by_days) == [
        "3 days",
        "50 days",
        "More than 10 years",
        "More than 10 years",
        "—",
    ]
    html = agent_client.get("/customers/?runs_out_within=3650").get_data(as_text=True)
    assert names_listed(html) == ["Later", "Soon"]
    overview = agent_client.get(f"/organizations/{richer.id}/").get_data(as_text=True)
    assert re.search(r'data-field="days-left">40,000 days', overview)
    assert forecast_of(reread(rich)).days_left == 10_000_000
    speak(agent, "es")
    html = agent_client.get("/customers/?sort=days_left").get_data(as_text=True)
    assert days_cells(html)[2:4] == ["Más de 10 años", "Más de 10 años"]


def test_the_list_speaks_spanish(agent_client, agent, three):
    speak(agent, "es")
    html = agent_client.get("/customers/?sort=days_left").get_data(as_text=True)
    assert days_cells(html) == ["3 días", "50 días", "—"]
    assert "Días restantes" in html and "Se agota en (días)" in html


def test_the_overview_shows_daily_usage_and_days_left(agent_client, agent, three):
    soon, _later, quiet = three
    html = agent_client.get(f"/organizations/{soon.id}/").get_data(as_text=True)
    assert 'data-field="daily-usage">100.0 credits a day<' in html
    assert re.search(r'data-field="days-left">3 days', html)
    html = agent_client.get(f"/organizations/{quiet.id}/").get_data(as_text=True)
    assert 'data-field="daily-usage">—<' in html and 'data-field="days-left">—<' in html
    speak(agent, "es")
    html = agent_client.get(f"/organizations/{soon.id}/").get_data(as_text=True)
    assert 'data-field="daily-usage">100,0 créditos al día<' in html
    assert re.search(r'data-field="days-left">3 días', html)
    assert "Días de crédito restantes" in html


def _configuration(days: str) -> dict[str, str]:
    return {
        "configuration-sender_name": "ACME",
        "configuration-low_balance_alert": "no",
        "configuration-low_balance_threshold": "0",
        "configuration-forecast_alert_days": days,
    }


def test_the_settings_form_sets_and_clears_the_forecast_alert(agent_client, three):
    soon = three[0]
    url = f"/organizations/{soon.id}/settings/configuration"
    assert agent_client.post(url, data=_configuration("7")).status_code == 302
    assert reread(soon).forecast_alert_days == 7
    page = agent_client.get(f"/organizations/{soon.id}/settings").get_data(as_text=True)
    assert 'name="configuration-forecast_alert_days"' in page and 'value="7"' in page
    assert agent_client.post(url, data=_configuration("")).status_code == 302
    assert reread(soon).forecast_alert_days is None


@pytest.mark.parametrize("typed", ["0", "91", "abc", "7.5", "-3", "9" * 30])
def test_the_settings_form_refuses_a_bad_number_of_days(agent_client, agent, three, typed):
    soon = three[0]
    url = f"/organizations/{soon.id}/settings/configuration"
    response = agent_client.post(url, data=_configuration(typed))
    assert response.status_code == 422
    assert "Enter a whole number of days from 1 to 90, or leave it empty." in response.get_data(
        as_text=True
    )
    assert reread(soon).forecast_alert_days is None
    speak(agent, "es")
    response = agent_client.post(url, data=_configuration(typed))
    assert "Ingresa un número entero de días de 1 a 90, o déjalo vacío." in response.get_data(
        as_text=True
    )


def test_days_left_count_the_credits_available_in_the_list_its_order_filter_and_overview(
    agent_client, three
):
    """Credits reserved for campaign runs are not there to spend: Later's 5,000 held with
    4,800 reserved last 2 days at 100.0 a day, sooner than Soon's 3."""
    _soon, later, _quiet = three
    set_forecast(later, credits=5_000, used_7d=700, reserved=4_800)
    html = agent_client.get("/customers/").get_data(as_text=True)
    assert days_cells(html) == ["2 days", "—", "3 days"]
    by_days = agent_client.get("/customers/?sort=days_left").get_data(as_text=True)
    assert names_listed(by_days) == ["Later", "Soon", "Quiet"]
    html = agent_client.get("/customers/?runs_out_within=2").get_data(as_text=True)
    assert names_listed(html) == ["Later"]
    overview = agent_client.get(f"/organizations/{later.id}/").get_data(as_text=True)
    assert re.search(r'data-field="days-left">2 days', overview)
