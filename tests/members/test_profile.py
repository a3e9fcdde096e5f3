"""Every user's profile: personal details and password."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tenants.core.extensions import db
from tenants.models import AuditEntry
from tests.conftest import PASSWORD

NEW_PASSWORD = "a different passphrase"


def _page(response) -> str:
    return response.get_data(as_text=True)


def test_profile_link_is_in_the_user_menu(client, auth, acme):
    auth.login(acme.member.user.email)
    page = _page(client.get(f"/organizations/{acme.org.id}/"))
    assert 'href="/profile/"' in page


@pytest.mark.parametrize("who", ["member", "staff"])
def test_every_user_edits_their_personal_details(client, auth, acme, who):
    user = acme.member.user if who == "member" else acme.staff
    auth.login(user.email)
    page = _page(client.get("/profile/"))
    assert "Personal Details" in page and "Save Changes" in page
    assert ">Spain<" in page  # the localized list of countries

    response = client.post(
        "/profile/",
        data={
            "name": "Renée Renamed",
            "mobile": "+34 600 000 009",
            "country": "MX",
            "company": "Renée SL",
            "language": "es",
        },
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert '<html lang="es">' in _page(response)
    db.session.refresh(user)
    assert (user.name, user.mobile, user.country, user.company, user.language) == (
        "Renée Renamed",
        "+34600000009",
        "MX",
        "Renée SL",
        "es",
    )
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.profile_updated"))
    assert entry.changes["name"][1] == "Renée Renamed"
    assert entry.actor_user_id == user.id


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required."),
        ("name", "n" * 10_000, "Use at most 200 characters."),
        ("mobile", "+34 000", "Not a valid phone number."),
        ("mobile", "600 000 000", "Enter the number in international format"),
        ("country", "XX", "Unknown country."),
        ("language", "fr", "Unknown language."),
        ("company", "c" * 10_000, "Use at most 200 characters."),
    ],
)
def test_bad_personal_details_are_refused_next_to_the_field(
    client, auth, acme, field, value, message
):
    user = acme.member.user
    auth.login(user.email)
    saved = (user.name, user.mobile, user.country, user.company, user.language)
    data = {"name": "Fine", "mobile": "", "country": "ES", "company": "", "language": "en"}

    response = client.post("/profile/", data={**data, field: value})

    page = _page(response)
    assert response.status_code == 422  # the form again, with its errors
    assert message in page.split(f'id="{field}-error"', 1)[1].split("</div>", 1)[0]
    db.session.refresh(user)
    assert (user.name, user.mobile, user.country, user.company, user.language) == saved


def test_password_change_keeps_this_session_and_ends_the_others(app, client, auth, acme):
    email = acme.member.user.email
    home = f"/organizations/{acme.org.id}/"
    other_device = app.test_client()
    other_device.post("/login", data={"email": email, "password": PASSWORD})
    assert other_device.get(home).status_code == 200
    auth.login(email)

    response = client.post(
        "/profile/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        follow_redirects=True,
    )

    assert "Your password has been changed." in _page(response)
    assert client.get(home).status_code == 200
    ended = other_device.get(home)
    assert ended.status_code == 302 and ended.headers["Location"].startswith("/login")
    auth.logout()
    assert auth.login(email, PASSWORD).status_code != 302
    assert auth.login(email, NEW_PASSWORD).status_code == 302
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.password_changed"))


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"current_password": "wrong password", "password": NEW_PASSWORD},
            "current_password",
            "The current password is not correct.",
        ),
        ({"current_password": PASSWORD, "password": "short"}, "password", "Use at least 10"),
        (
            {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": "other thing"},
            "confirm",
            "The passwords differ.",
        ),
    ],
)
def test_bad_password_change_is_refused(client, auth, acme, data, field, message):
    user = acme.member.user
    auth.login(user.email)
    data = {"confirm": data.get("password", ""), **data}
    response = client.post("/profile/password", data=data)
    page = _page(response)
    assert message in page.split(f'id="{field}-error"', 1)[1].split("</div>", 1)[0]
    db.session.refresh(user)
    assert user.check_password(PASSWORD)


def test_profile_needs_a_login(client):
    response = client.get("/profile/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
