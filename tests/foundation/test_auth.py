"""Logging in and out, stolen cookies, throttling, remember me, password reset, refusals."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import commit
from tenants.models import OrganizationStatus, UserSession
from tenants.organizations.operations import suspend_organization
from tests.conftest import PASSWORD, link_in, text_of
from tests.foundation.conftest import client_with_cookies, copy_cookies, is_login_redirect

NEW_PASSWORD = "a brand new passphrase"


def home_of(member) -> str:
    return f"/organizations/{member.organization_id}/"


# -- logging in and out -----------------------------------------------------------------


def test_login_takes_the_owner_to_the_organization_and_logout_ends_it(client, auth, owner):
    response = auth.login(owner.user.email)
    assert response.status_code == 302
    assert response.headers["Location"] == home_of(owner)

    page = client.get(home_of(owner))
    assert page.status_code == 200
    assert "Acme Ibérica SL" in page.text
    assert owner.user.email in page.text

    response = client.post("/logout", follow_redirects=True)
    assert response.request.path == "/login"
    assert "You have been logged out." in response.text
    assert is_login_redirect(client.get(home_of(owner)))


def test_login_ignores_case_and_spaces_in_the_email(auth, owner):
    response = auth.login(f"  {owner.user.email.upper()} ")
    assert response.headers["Location"] == home_of(owner)


def test_bad_password_is_refused_without_saying_which_part_was_wrong(client, auth, owner):
    response = auth.login(owner.user.email, "not the password")
    assert response.status_code == 401
    assert "Invalid email or password." in response.text
    unknown = auth.login("nobody@example.com", "not the password")
    assert unknown.status_code == 401
    assert "Invalid email or password." in unknown.text
    assert is_login_redirect(client.get(home_of(owner)))


def test_login_gives_a_new_session_cookie(client, auth, owner):
    client.get("/login")
    client.post("/language", data={"language": "en"})  # an anonymous session exists
    before = copy_cookies(client)["session"]
    auth.login(owner.user.email)
    after = copy_cookies(client)["session"]
    assert after != before
    # The anonymous cookie someone planted before the login does not carry the login.
    planted = client_with_cookies(client.application, {"session": before})
    assert is_login_redirect(planted.get(home_of(owner)))


def test_repeated_failures_throttle_even_the_right_password(app, client, auth, owner):
    app.config["LOGIN_MAX_FAILURES"] = 3
    for _ in range(3):
        assert auth.login(owner.user.email, "wrong guess").status_code == 401
    response = auth.login(owner.user.email)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.text
    assert is_login_redirect(client.get(home_of(owner)))


def test_throttling_ends_when_the_window_has_passed(app, auth, owner):
    from tenants.models import LoginFailure

    app.config["LOGIN_MAX_FAILURES"] = 2
    for _ in range(2):
        auth.login(owner.user.email, "wrong guess")
    assert auth.login(owner.user.email).status_code == 429
    window = timedelta(minutes=app.config["LOGIN_FAILURE_WINDOW_MINUTES"] + 1)
    for failure in db.session.scalars(select(LoginFailure)):
        failure.failed_at = utcnow() - window
    commit()
    assert auth.login(owner.user.email).headers["Location"] == home_of(owner)


def test_a_success_clears_the_failures_before_the_limit(app, auth, client, owner):
    app.config["LOGIN_MAX_FAILURES"] = 3
    auth.login(owner.user.email, "wrong guess")
    auth.login(owner.user.email, "wrong guess")
    auth.login(owner.user.email)
    client.post("/logout")
    auth.login(owner.user.email, "wrong guess")
    auth.login(owner.user.email, "wrong guess")
    assert auth.login(owner.user.email).headers["Location"] == home_of(owner)


# -- copied cookies stop working ---------------------------------------------------------


def test_cookie_copied_before_logout_is_refused_after_it(app, client, auth, owner):
    auth.login(owner.user.email)
    stolen = copy_cookies(client)
    assert client_with_cookies(app, stolen).get(home_of(owner)).status_code == 200

    client.post("/logout")

    response = client_with_cookies(app, stolen).get(home_of(owner))
    assert is_login_redirect(response)


def test_cookie_copied_before_a_password_change_is_refused_after_it(app, client, auth, owner):
    auth.login(owner.user.email)
    stolen = copy_cookies(client)

    # The password is changed on another device, which stays logged in.
    other_device = app.test_client()
    other_device.post("/login", data={"email": owner.user.email, "password": PASSWORD})
    response = other_device.post(
        "/profile/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        follow_redirects=True,
    )
    assert "Your password has been changed" in response.text

    assert is_login_redirect(client_with_cookies(app, stolen).get(home_of(owner)))
    assert is_login_redirect(client.get(home_of(owner)))
    assert other_device.get(home_of(owner)).status_code == 200
    assert auth.login(owner.user.email, NEW_PASSWORD).headers["Location"] == home_of(owner)


def test_cookie_copied_before_a_suspension_is_refused_with_a_clear_message(
    app, client, auth, owner
):
    auth.login(owner.user.email)
    stolen = copy_cookies(client)

    suspend_organization(SYSTEM, owner.organization, "Unpaid invoices")
    commit()

    response = client.get(home_of(owner), follow_redirects=True)
    assert response.request.path == "/login"
    assert "is suspended (reason: Unpaid invoices)" in response.text
    assert is_login_redirect(client_with_cookies(app, stolen).get(home_of(owner)))


def test_cookie_copied_before_a_suspension_stays_dead_after_reactivation(app, client, auth, owner):
    from tenants.organizations.operations import reactivate_organization

    auth.login(owner.user.email)
    stolen = copy_cookies(client)
    suspend_organization(SYSTEM, owner.organization, "Unpaid invoices")
    commit()
    client_with_cookies(app, stolen).get(home_of(owner))  # the first use ends the session
    reactivate_organization(SYSTEM, owner.organization)
    commit()
    assert is_login_redirect(client_with_cookies(app, stolen).get(home_of(owner)))
    assert auth.login(owner.user.email).headers["Location"] == home_of(owner)


# -- remember me -------------------------------------------------------------------------


def test_remember_me_keeps_the_login_after_the_browser_closes(app, client, auth, owner):
    auth.login(owner.user.email, remember="y")
    remember = copy_cookies(client)["remember_token"]

    reopened = client_with_cookies(app, {"remember_token": remember})
    page = reopened.get(home_of(owner))
    assert page.status_code == 200
    assert "Acme Ibérica SL" in page.text


def test_without_remember_me_closing_the_browser_logs_out(client, auth, owner):
    auth.login(owner.user.email)
    assert "remember_token" not in copy_cookies(client)
    session_row = db.session.scalar(select(UserSession).where(UserSession.user_id == owner.user_id))
    assert session_row.expires_at - session_row.created_at <= timedelta(hours=12)


def test_remembered_cookie_copied_before_logout_is_refused_after_it(app, client, auth, owner):
    auth.login(owner.user.email, remember="y")
    remember = copy_cookies(client)["remember_token"]
    client.post("/logout")
    reopened = client_with_cookies(app, {"remember_token": remember})
    assert is_login_redirect(reopened.get(home_of(owner)))


# -- password reset through a real SMTP server ---------------------------------------------


def test_password_reset_round_trip_through_smtp(app, client, auth, owner, smtp_server):
    response = client.post(
        "/password/forgot", data={"email": owner.user.email}, follow_redirects=True
    )
    assert "we have sent it a link to set a password" in response.text

    smtp_server.wait_for(1)
    (message,) = smtp_server.to(owner.user.email)
    assert "reset" in message["Subject"].lower()
    link = link_in(message)
    assert link.startswith("http://portal.test/password/reset/")
    assert "expires in 1 hour" in text_of(message)
    path = urlsplit(link).path

    form = client.get(path)
    assert form.status_code == 200
    response = client.post(
        path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, follow_redirects=True
    )
    assert response.request.path == "/login"
    assert "Your password has been saved" in response.text

    used_again = client.get(path, follow_redirects=True)
    assert used_again.request.path == "/password/forgot"
    assert "already been used" in used_again.text
    replay = client.post(
        path, data={"password": "yet another passphrase", "confirm": "yet another passphrase"}
    )
    assert replay.status_code == 302
    assert replay.headers["Location"] == "/password/forgot"

    assert auth.login(owner.user.email, PASSWORD).status_code == 401
    assert auth.login(owner.user.email, NEW_PASSWORD).headers["Location"] == home_of(owner)


def test_password_reset_ends_every_earlier_login(app, client, auth, owner, smtp_server):
    auth.login(owner.user.email)
    stolen = copy_cookies(client)
    anonymous = app.test_client()
    anonymous.post("/password/forgot", data={"email": owner.user.email})
    path = urlsplit(link_in(smtp_server.wait_for(1)[0])).path
    anonymous.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert is_login_redirect(client_with_cookies(app, stolen).get(home_of(owner)))


def test_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(
    client, owner, smtp_server
):
    response = client.post(
        "/password/forgot", data={"email": "stranger@example.com"}, follow_redirects=True
    )
    assert "we have sent it a link to set a password" in response.text
    assert smtp_server.to("stranger@example.com") == []


def test_password_reset_refuses_a_short_password(client, owner, smtp_server):
    client.post("/password/forgot", data={"email": owner.user.email})
    path = urlsplit(link_in(smtp_server.wait_for(1)[0])).path
    response = client.post(path, data={"password": "short", "confirm": "short"})
    assert response.status_code == 422
    assert "at least 10 characters" in response.text


def test_tampered_reset_link_is_refused(client):
    response = client.get("/password/reset/not-a-real-token", follow_redirects=True)
    assert response.request.path == "/password/forgot"
    assert "This link is invalid" in response.text


# -- who may not log in ------------------------------------------------------------------------


def test_member_of_a_suspended_organization_is_refused_with_a_clear_message(auth, owner):
    suspend_organization(SYSTEM, owner.organization, "Unpaid invoices")
    commit()
    response = auth.login(owner.user.email)
    assert response.status_code == 403
    assert f"Your organization {owner.organization.name} is suspended" in response.text
    assert "(reason: Unpaid invoices)" in response.text
    assert "contact your provider" in response.text


def test_member_without_portal_access_is_refused_with_a_clear_message(auth, owner, create_member):
    field_worker = create_member(owner.organization, portal_access=False)
    response = auth.login(field_worker.user.email)
    assert response.status_code == 403
    assert "does not have portal access" in response.text


def test_member_of_a_deleted_organization_is_refused(client, auth, owner, create_member):
    member = create_member(owner.organization, role="admin")
    auth.login(member.user.email)
    org = owner.organization
    org.status = OrganizationStatus.DELETED
    org.deleted_at = utcnow()
    commit()

    response = client.get(home_of(member), follow_redirects=True)
    assert response.request.path == "/login"
    assert "Your organization has been closed." in response.text

    response = auth.login(owner.user.email)
    assert response.status_code == 403
    assert "Your organization has been closed." in response.text


def test_wrong_password_for_a_refused_member_reveals_nothing(auth, owner):
    suspend_organization(SYSTEM, owner.organization, "Unpaid invoices")
    commit()
    response = auth.login(owner.user.email, "not the password")
    assert response.status_code == 401
    assert "suspended" not in response.text
