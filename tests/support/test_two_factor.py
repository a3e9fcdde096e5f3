"""Two-factor for staff: enrolment, login with a code, recovery codes, the platform's rule."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import select

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import TotpCredential
from tenants.people import two_factor
from tests.conftest import PASSWORD
from tests.support.conftest import age_authentication, only_session, start


def enrol(client, user) -> tuple[str, list[str]]:
    """Set up the authenticator as the logged-in (or just-password-checked) user."""
    page = client.get("/account/two-factor/setup")
    assert page.status_code == 200
    assert "<svg" in page.text and "<script" not in page.text.split("</nav>")[1].split("<script")[0]
    secret = re.search(r'data-field="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    done = client.post(
        "/account/two-factor/setup",
        data={"code": pyotp.TOTP(secret).now(), "enrolment": enrolment_token(page.text)},
    )
    assert done.status_code == 200, done.text
    codes = re.findall(r"<li>([0-9a-f]{5}-[0-9a-f]{5})</li>", done.text)
    assert len(codes) == 10
    return secret, codes


def enrolment_token(html: str) -> str:
    return re.search(r'name="enrolment" type="hidden" value="([^"]+)"', html).group(1)


def next_code(user) -> str:
    """A valid code the server has not seen yet (the same 30-second code works once)."""
    cred = db.session.scalar(select(TotpCredential).where(TotpCredential.user_id == user.id))
    db.session.refresh(cred)
    totp = pyotp.TOTP(cred.secret)
    import time

    now = int(time.time())
    for offset in (0, 30):
        step = (now + offset) // 30
        if cred.last_used_step is None or step > cred.last_used_step:
            return totp.at(now + offset)
    raise AssertionError("no fresh code")


def test_staff_enrol_and_then_log_in_with_a_code(client, login, agent):
    login(agent)
    enrol(client, agent)
    assert two_factor.is_enrolled(agent)
    client.post("/logout")

    response = client.post("/login", data={"email": agent.email, "password": PASSWORD})
    assert response.headers["Location"] == "/login/code"
    # Not logged in yet.
    assert client.get("/customers/").status_code == 302

    wrong = client.post("/login/code", data={"code": "000000"})
    assert wrong.status_code == 401
    assert "That code is not right." in wrong.text
    right = client.post("/login/code", data={"code": next_code(agent)})
    assert right.status_code == 302
    assert right.headers["Location"] == "/customers/"
    assert client.get("/customers/").status_code == 200


def test_a_recovery_code_works_once(client, login, agent):
    login(agent)
    _secret, codes = enrol(client, agent)
    client.post("/logout")

    client.post("/login", data={"email": agent.email, "password": PASSWORD})
    used = client.post("/login/code", data={"code": codes[0]}, follow_redirects=True)
    assert "You used a recovery code; 9 left." in used.text
    client.post("/logout")

    client.post("/login", data={"email": agent.email, "password": PASSWORD})
    again = client.post("/login/code", data={"code": codes[0]})
    assert again.status_code == 401
    assert client.post("/login/code", data={"code": codes[1]}).status_code == 302


def test_wrong_codes_are_throttled_like_passwords(app, client, login, agent):
    login(agent)
    enrol(client, agent)
    client.post("/logout")
    client.post("/login", data={"email": agent.email, "password": PASSWORD})
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        client.post("/login/code", data={"code": "123456"})
    throttled = client.post("/login/code", data={"code": next_code(agent)})
    assert throttled.status_code == 429


def test_members_cannot_enrol(client, login, owner):
    login(owner.user)
    assert client.get("/account/two-factor/setup").status_code == 403


def test_the_platform_can_require_two_factor_for_staff(client, login, platform_admin, agent):
    login(platform_admin)
    overview = client.get("/platform/")
    assert "Two-factor authentication is optional for staff (not required)." in overview.text
    assert (
        client.post("/platform/security", data={"require_staff_two_factor": "y"}).status_code == 302
    )
    assert two_factor.staff_two_factor_required()
    assert "required for all staff" in client.get("/platform/").text
    client.post("/logout")

    # A staff member without two-factor is sent to set it up right after the password.
    response = client.post("/login", data={"email": agent.email, "password": PASSWORD})
    assert response.headers["Location"] == "/account/two-factor/setup"
    assert client.get("/customers/").status_code == 302
    enrol(client, agent)
    assert client.get("/customers/").status_code == 200


def test_only_the_platform_admin_changes_the_rule(client, login, support_agent):
    login(support_agent)
    assert (
        client.post("/platform/security", data={"require_staff_two_factor": "y"}).status_code == 403
    )
    assert not two_factor.staff_two_factor_required()


def test_enrolled_staff_re_check_with_a_code_before_login_as(client, login, agent, org):
    login(agent)
    enrol(client, agent)
    age_authentication(agent, 20)
    response = start(client, org)
    target = response.headers["Location"]
    assert target.startswith("/support/confirm")
    page = client.get(target)
    assert 'name="code"' in page.text and 'name="password"' not in page.text
    assert client.post(target, data={"code": "000000"}).status_code == 401
    assert client.post(target, data={"code": next_code(agent)}).status_code == 302
    assert start(client, org).status_code == 302
    assert only_session().staff_user_id == agent.id


def test_the_rule_is_off_by_default(app):
    assert not two_factor.staff_two_factor_required()
    two_factor.set_staff_two_factor_required(SYSTEM, True)
    commit()
    assert two_factor.staff_two_factor_required()


def test_opening_the_set_up_page_stores_nothing(client, login, agent):
    login(agent)
    for _ in range(2):
        page = client.get("/account/two-factor/setup")
        assert page.status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(TotpCredential)) is None


def test_a_wrong_code_keeps_the_scanned_secret(client, login, agent):
    login(agent)
    page = client.get("/account/two-factor/setup")
    secret = re.search(r'data-field="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    wrong = client.post(
        "/account/two-factor/setup",
        data={"code": "000000", "enrolment": enrolment_token(page.text)},
    )
    assert wrong.status_code == 422
    assert "That code is not right" in wrong.text
    assert f'data-field="totp-secret">{secret}<' in wrong.text
    db.session.expire_all()
    assert db.session.scalar(select(TotpCredential)) is None


def test_a_set_up_token_is_tied_to_its_user_and_cannot_be_forged(app, client, login, agent):
    login(agent)
    page = client.get("/account/two-factor/setup")
    secret = re.search(r'data-field="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    token = enrolment_token(page.text)
    # Another person's token (signed for them) and a tampered one are both refused.
    with app.test_request_context():
        _other_secret, other_token = two_factor.new_enrolment(two_factor_user_stub())
    for bad in (other_token, token[:-2] + "xx", ""):
        answer = client.post(
            "/account/two-factor/setup", data={"code": pyotp.TOTP(secret).now(), "enrolment": bad}
        )
        assert answer.status_code == 409, answer.text
        assert "The set-up expired" in answer.text
    db.session.expire_all()
    assert db.session.scalar(select(TotpCredential)) is None
    # An expired token too.
    with app.test_request_context():
        assert two_factor.enrolment_secret(agent, token) == secret
        original = two_factor.ENROLMENT_MAX_AGE
        two_factor.ENROLMENT_MAX_AGE = -1
        try:
            assert two_factor.enrolment_secret(agent, token) is None
        finally:
            two_factor.ENROLMENT_MAX_AGE = original


def two_factor_user_stub():
    from tenants.models import User

    return User(id="usr_someone_else", email="else@example.com")
