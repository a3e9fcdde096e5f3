"""SPEC §2, issue 14: staff and customers are different people — the isolation matrix of
identity. Every way a staff account could become a customer member, and every way a
customer member could become staff, in the portal (real CSRF tokens) and the API: each is
refused on the email with a clear message (422, ``staff_email`` / ``customer_email``) and
the database is exactly as before. Data from before the rule grants nothing: a person who
is both gets no member context, and ``flask people overlaps`` lists them.
"""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from tenants.access.actors import SYSTEM
from tenants.api_keys.operations import create_api_key
from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import (
    Member,
    MemberRole,
    Organization,
    PlatformRole,
    ResellerRole,
    ResellerStaff,
    User,
)
from tenants.people import identity
from tenants.people.passwords import PURPOSE_INVITE, make_password_token
from tenants.people.profile import update_profile
from tests.conftest import PASSWORD, owner_of
from tests.security.conftest import CSRF_TOKEN, changed_tables, log_in, snapshot

STAFF_REFUSED = "cannot be a customer member"
CUSTOMER_REFUSED = "cannot be staff"
ERROR = re.compile(r'id="([^"]*)-error"[^>]*>(.*?)</div>', re.S)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


def _person(user: User, member: Member | None = None) -> SimpleNamespace:
    """A person as plain values (the snapshot ends the session that loaded the rows)."""
    return SimpleNamespace(email=user.email, id=user.id, member_id=member and member.id)


@pytest.fixture
def people(
    create_reseller,
    create_reseller_staff,
    create_organization,
    create_member,
    create_platform_staff,
):
    """Resellers A and B with staff and a customer each, platform staff, a key of A."""
    a, b = create_reseller(name="Reseller A"), create_reseller(name="Reseller B")
    acme, bravo = create_organization(a, name="Acme"), create_organization(b, name="Bravo")
    _key, a_key = create_api_key(SYSTEM, reseller=a, name="A")
    commit()
    members = {
        "acme_owner": owner_of(acme),
        "acme_member": create_member(acme, role="member", name="Mel Member"),
        "acme_offline": create_member(acme, portal_access=False, password=None, name="Off"),
        "bravo_admin": create_member(bravo, role="admin", name="Bo Bravo Admin"),
    }
    staff = {
        "a_admin": create_reseller_staff(a, ResellerRole.ADMIN, name="Ann Admin A"),
        "a_agent": create_reseller_staff(a, ResellerRole.AGENT, name="Al Agent A"),
        "b_agent": create_reseller_staff(b, ResellerRole.AGENT, name="Bea Agent B"),
        "platform_admin": create_platform_staff(PlatformRole.ADMIN, name="Pat Platform"),
        "support_agent": create_platform_staff(PlatformRole.SUPPORT, name="Sam Support"),
    }
    return SimpleNamespace(
        a_id=a.id,
        b_id=b.id,
        acme_id=acme.id,
        bravo_id=bravo.id,
        a_key=a_key,
        **{name: _person(m.user, m) for name, m in members.items()},
        **{name: _person(user) for name, user in staff.items()},
    )


# Whose email is tried: the acting agent's own, another reseller's staff, platform staff.
STAFF = {
    "own": lambda p: p.a_agent.email,
    "other reseller's staff": lambda p: p.b_agent.email.upper(),
    "platform staff": lambda p: p.support_agent.email,
}
# A customer member of another reseller, of the same reseller, one without portal access.
CUSTOMERS = {
    "another reseller's customer admin": lambda p: p.bravo_admin.email,
    "own customer's owner": lambda p: p.acme_owner.email.upper(),
    "member without portal access": lambda p: p.acme_offline.email,
}


def post_form(client, page: str, url: str, data: dict):
    """POST ``data`` to ``url`` with the CSRF token of the form on ``page``."""
    token = CSRF_TOKEN.search(client.get(page).data).group(1).decode()
    return client.post(url, data={**data, "csrf_token": token})


def field_error(response, field: str) -> str:
    """The error shown under the form field ``field`` (its id ends with the name)."""
    errors = dict(ERROR.findall(response.get_data(as_text=True)))
    found = [text for key, text in errors.items() if key.endswith(field)]
    assert found, (field, errors)
    return html.unescape(found[0])


def api(client, method: str, path: str, key: str, body: dict):
    headers = {"Authorization": f"Bearer {key}"}
    return client.open(f"/api/v1{path}", method=method, json=body, headers=headers)


def assert_refused_web(response, field: str, refusal: str) -> None:
    assert response.status_code == 422, response.status_code
    assert refusal in field_error(response, field)


def assert_refused_api(response, field: str, code: str, refusal: str) -> None:
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code
    assert refusal in error["fields"][field]


def member_form(email: str) -> dict:
    return {"name": "Someone", "email": email, "role": "admin", "portal_access": "yes"}


def org_form(email: str) -> dict:
    owner = {"owner_name": "Owen Owner", "owner_email": email}
    return {"name": "Newco", "country": "ES", "pricing_model": "prepaid", **owner}


def org_body(email: str) -> dict:
    owner = {"name": "Owen Owner", "email": email}
    return {"name": "Newco", "country": "ES", "pricing_model": "prepaid", "owner": owner}


# ---------------------------------------------------------------------------
# A staff account never becomes a member


@pytest.mark.parametrize("whose", sorted(STAFF))
def test_a_staff_email_is_never_added_as_a_member(app, people, whose):
    email = STAFF[whose](people)
    client = log_in(app, people.a_agent.email)
    members = f"/organizations/{people.acme_id}/members/new"
    before = snapshot()

    response = post_form(client, members, members, member_form(email))
    assert_refused_web(response, "email", STAFF_REFUSED)
    assert_refused_web(
        post_form(client, "/customers/new", "/customers/new", org_form(email)),
        "owner_email",
        STAFF_REFUSED,
    )
    api_path = f"/organizations/{people.acme_id}/members"
    body = {"name": "Someone", "email": email, "role": "admin", "portal_access": True}
    assert_refused_api(
        api(client, "POST", api_path, people.a_key, body), "email", "staff_email", STAFF_REFUSED
    )
    created = api(client, "POST", "/organizations", people.a_key, org_body(email))
    assert_refused_api(created, "owner.email", "staff_email", STAFF_REFUSED)
    assert changed_tables(before, snapshot()) == []


def test_a_members_email_never_becomes_a_staff_email(app, people):
    member = people.acme_member
    client = log_in(app, people.a_agent.email)
    edit = f"/organizations/{people.acme_id}/members/{member.member_id}/edit"
    before = snapshot()

    for email in (people.b_agent.email, people.support_agent.email):
        data = {**member_form(email), "mobile": "", "role": "member"}
        assert_refused_web(post_form(client, edit, edit, data), "email", STAFF_REFUSED)
        path = f"/organizations/{people.acme_id}/members/{member.member_id}"
        response = api(client, "PATCH", path, people.a_key, {"email": email})
        assert_refused_api(response, "email", "staff_email", STAFF_REFUSED)
    # A person's own profile has no email to change.
    own = log_in(app, member.email)
    assert 'name="email"' not in own.get("/profile/").get_data(as_text=True)
    with pytest.raises(ValidationFailed):
        update_profile(db.session.get(User, member.id), {"email": people.b_agent.email})
    db.session.rollback()
    assert changed_tables(before, snapshot()) == []


def test_acting_staff_cannot_add_themselves_as_a_member(app, people):
    """The issue's login-as finding: staff added their own email as an admin during a
    support session, then switched into that membership."""
    client = log_in(app, people.a_agent.email)
    start = f"/organizations/{people.acme_id}/support/start"
    data = {"member": people.acme_owner.member_id, "reason": "Ticket 1", "mode": "change"}
    assert post_form(client, start, start, data).status_code == 302
    before = snapshot()
    members = f"/organizations/{people.acme_id}/members/new"
    response = post_form(client, members, members, member_form(people.a_agent.email))
    assert_refused_web(response, "email", STAFF_REFUSED)
    assert changed_tables(before, snapshot()) == []


# ---------------------------------------------------------------------------
# A customer member never becomes staff


@pytest.mark.parametrize("whose", sorted(CUSTOMERS))
def test_a_customers_email_is_never_invited_as_staff(app, people, runner, whose):
    email = CUSTOMERS[whose](people)
    invite = {"name": "Someone", "email": email, "role": "agent"}
    settings = log_in(app, people.a_admin.email)
    platform = log_in(app, people.platform_admin.email)
    detail = f"/platform/resellers/{people.b_id}"
    before = snapshot()

    staff = "/reseller/settings/staff"
    response = post_form(settings, staff, f"{staff}/invite", invite)
    assert_refused_web(response, "email", CUSTOMER_REFUSED)
    response = post_form(platform, detail, f"{detail}/staff/invite", invite)
    assert_refused_web(response, "email", CUSTOMER_REFUSED)
    invite_support = {**invite, "role": "support"}
    response = post_form(platform, "/platform/staff", "/platform/staff/invite", invite_support)
    assert_refused_web(response, "email", CUSTOMER_REFUSED)
    new = {"name": "Newtel", "default_language": "en", "admin_name": "N", "admin_email": email}
    response = post_form(platform, "/platform/resellers/new", "/platform/resellers/new", new)
    assert_refused_web(response, "admin_email", CUSTOMER_REFUSED)
    assert changed_tables(before, snapshot()) == []

    for args in (
        ["create-admin", "--email", email, "--password", "a long password 1"],
        ["create-reseller", "Clitel", "--admin-email", email, "--admin-password", "a long pw 12"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and CUSTOMER_REFUSED in result.output, result.output
    assert changed_tables(before, snapshot()) == []


def test_another_resellers_customer_stays_its_own(app, people):
    """The issue's story: reseller A invited as staff the admin of reseller B's customer;
    from then on B could neither log in as that person nor edit them."""
    person = people.bravo_admin
    settings = log_in(app, people.a_admin.email)
    response = post_form(
        settings,
        "/reseller/settings/staff",
        "/reseller/settings/staff/invite",
        {"name": "Bo", "email": person.email, "role": "admin"},
    )
    assert_refused_web(response, "email", CUSTOMER_REFUSED)
    staff = select(ResellerStaff).where(ResellerStaff.user_id == person.id)
    assert db.session.scalar(staff) is None

    b = log_in(app, people.b_agent.email)
    edit = f"/organizations/{people.bravo_id}/members/{person.member_id}/edit"
    data = {**member_form(person.email), "name": "Bo Renamed", "mobile": ""}
    assert post_form(b, edit, edit, data).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, person.id).name == "Bo Renamed"
    start = f"/organizations/{people.bravo_id}/support/start"
    response = post_form(b, start, start, {"member": person.member_id, "reason": "Ticket 2"})
    assert response.status_code == 302, response.get_data(as_text=True)


# ---------------------------------------------------------------------------
# Data from before the rule grants nothing


def _make_staff_of_b(people, user_id: str) -> None:
    db.session.add(ResellerStaff(reseller_id=people.b_id, user_id=user_id, role="agent"))
    commit()


def _context(client) -> str:
    with client.session_transaction() as session:
        return session.get("ctx", "")


def test_an_old_overlap_never_reaches_the_membership(app, people):
    member = people.acme_member
    _make_staff_of_b(people, member.id)
    client = log_in(app, member.email)
    assert _context(client) == f"reseller:{people.b_id}"
    page = client.get("/customers/").get_data(as_text=True)
    assert f"member:{member.member_id}" not in page
    post_form(client, "/customers/", "/context", {"context": f"member:{member.member_id}"})
    assert _context(client) == f"reseller:{people.b_id}"
    assert client.get(f"/organizations/{people.acme_id}/").status_code == 404


def test_an_invitation_accepted_by_someone_who_is_staff_meanwhile_grants_no_membership(
    app, people, create_member
):
    invited = create_member(
        db.session.get(Organization, people.acme_id),
        role="admin",
        password=None,
        name="Ivy Invited",
    )
    _make_staff_of_b(people, invited.user_id)
    link = f"/invitation/{make_password_token(invited.user, PURPOSE_INVITE)}"
    client = app.test_client()
    data = {"password": PASSWORD, "confirm": PASSWORD}
    assert post_form(client, link, link, data).status_code == 302
    client = log_in(app, invited.user.email)
    post_form(client, "/customers/", "/context", {"context": f"member:{invited.id}"})
    assert _context(client) == f"reseller:{people.b_id}"
    assert client.get(f"/organizations/{people.acme_id}/members/").status_code == 404


def test_who_counts_as_staff_and_as_a_customer_member(app, people):
    member = people.acme_member
    assert identity.is_customer_email(member.email.upper())
    assert not identity.is_staff_email(member.email)
    assert identity.is_staff_email(people.support_agent.email)
    assert not identity.is_customer_email(people.a_agent.email)
    assert not identity.is_staff_email("nobody@example.com")
    # A removed member is no longer one: they may become staff.
    row = db.session.get(Member, member.member_id)
    row.removed_at = row.created_at
    commit()
    assert not identity.is_customer_email(member.email)
    assert identity.refuse_customer_as_staff(member.email) == member.email


def test_flask_people_overlaps_lists_old_overlaps(app, people, runner):
    result = runner.invoke(args=["people", "overlaps"])
    assert result.exit_code == 0 and "No overlaps" in result.output

    owner = people.acme_owner
    _make_staff_of_b(people, owner.id)
    db.session.add(
        Member(
            reseller_id=people.b_id,
            organization_id=people.bravo_id,
            user_id=people.b_agent.id,
            role=MemberRole.MEMBER,
        )
    )
    commit()
    result = runner.invoke(args=["people", "overlaps"])
    assert result.exit_code == 1
    assert owner.email in result.output and people.b_agent.email in result.output
    assert "reseller Reseller B: agent" in result.output
    assert "Acme (reseller Reseller A): owner" in result.output
    assert people.a_agent.email not in result.output
