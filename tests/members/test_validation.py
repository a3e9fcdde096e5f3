"""Bad input to the member forms: a localized error next to the field, nothing stored."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from tenants.core.extensions import db
from tenants.models import AuditEntry, Member, User
from tests.members.conftest import members_url

GOOD = {
    "name": "Valid Name",
    "email": "valid@example.com",
    "mobile": "+34 600 000 003",
    "portal_access": "yes",
    "role": "member",
}

CASES = [
    ("email", "not-an-email", "Not a valid email address."),
    ("email", "", "This field is required."),
    ("mobile", "12345", "Enter the number in international format, e.g. +34 600 000 000."),
    ("mobile", "+34 000", "Not a valid phone number."),
    ("name", "", "This field is required."),
    ("name", "   ", "This field is required."),
    ("name", "x" * 10_000, "Use at most 200 characters."),
    ("name", "Bad\x00Name", "Contains characters that are not allowed."),
]


def _counts() -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(User)),
        db.session.scalar(select(func.count()).select_from(Member)),
        db.session.scalar(select(func.count()).select_from(AuditEntry)),
    )


@pytest.mark.parametrize(("field", "value", "message"), CASES)
def test_add_member_refuses_bad_input_next_to_the_field(client, auth, acme, field, value, message):
    auth.login(acme.staff.email)
    before = _counts()

    response = client.post(members_url(acme.org, "new"), data={**GOOD, field: value})

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page
    error = page.split(f'id="{field}-error"', 1)[1].split("</div>", 1)[0]
    assert message in error
    assert f'aria-describedby="{field}-error"' in page
    assert _counts() == before


@pytest.mark.parametrize(("field", "value", "message"), CASES)
def test_edit_member_refuses_bad_input_and_changes_nothing(
    client, auth, acme, field, value, message
):
    auth.login(acme.admin.user.email)
    user = acme.member.user
    saved = (user.name, user.email, user.mobile)

    response = client.post(
        members_url(acme.org, acme.member.id, "edit"), data={**GOOD, field: value}
    )

    page = response.get_data(as_text=True)
    assert message in page.split(f'id="{field}-error"', 1)[1].split("</div>", 1)[0]
    db.session.refresh(user)
    assert (user.name, user.email, user.mobile) == saved


def test_errors_are_shown_in_the_users_language(client, auth, acme, create_reseller_staff):
    staff = create_reseller_staff(acme.reseller, language="es")
    auth.login(staff.email)
    response = client.post(members_url(acme.org, "new"), data={**GOOD, "email": "nope"})
    page = response.get_data(as_text=True)
    assert '<html lang="es">' in page
    with force_locale("es"):
        assert _("Not a valid email address.") in page


def test_a_forged_role_or_choice_is_an_error_not_a_crash(client, auth, acme):
    auth.login(acme.staff.email)
    before = _counts()
    for data in ({**GOOD, "role": "owner"}, {**GOOD, "portal_access": "maybe"}):
        response = client.post(members_url(acme.org, "new"), data=data)
        assert response.status_code == 422
        assert "invalid-feedback" in response.get_data(as_text=True)
    assert _counts() == before


def test_email_of_another_account_is_refused_on_the_email(client, auth, acme, create_user):
    taken = create_user(email="taken@example.com")
    auth.login(acme.staff.email)
    response = client.post(
        members_url(acme.org, acme.member.id, "edit"), data={**GOOD, "email": taken.email}
    )
    page = response.get_data(as_text=True)
    assert (
        "Another account already uses this email address." in page.split('id="email-error"', 1)[1]
    )


def test_odd_ids_are_not_found(client, auth, acme):
    auth.login(acme.staff.email)
    for url in (
        members_url(acme.org, "x" * 5000, ""),
        members_url(acme.org, "nope", "edit"),
        f"/organizations/{'y' * 5000}/members/",
    ):
        assert client.get(url).status_code == 404


def test_forms_are_protected_against_cross_site_posts(app, client, auth, acme):
    auth.login(acme.staff.email)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        before = _counts()
        for url, data in (
            (members_url(acme.org, "new"), GOOD),
            (members_url(acme.org, acme.member.id, "edit"), GOOD),
            (members_url(acme.org, acme.member.id, "remove"), {}),
            (members_url(acme.org, acme.member.id, "invitation"), {}),
            (members_url(acme.org, "ownership"), {"member": acme.admin.id}),
            ("/profile/", {"name": "Hacked"}),
            ("/profile/password", {"current_password": "x", "password": "y", "confirm": "y"}),
        ):
            assert client.post(url, data=data).status_code == 400, url
        assert _counts() == before
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_every_member_page_renders_in_spanish(client, auth, acme, create_reseller_staff):
    staff = create_reseller_staff(acme.reseller, language="es")
    auth.login(staff.email)
    for url in (
        members_url(acme.org, ""),
        members_url(acme.org, "new"),
        members_url(acme.org, acme.member.id, ""),
        members_url(acme.org, acme.member.id, "edit"),
        members_url(acme.org, acme.owner.id, "edit"),
        members_url(acme.org, acme.member.id, "remove"),
        members_url(acme.org, "ownership"),
        "/profile/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="es">' in response.get_data(as_text=True)
