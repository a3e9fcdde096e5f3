"""Login-as: who may start a support session, what it looks like, what it can never do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tenants.access.actors import SYSTEM, Actor
from tenants.access.policy import WhileActing, refuse_while_acting, refused_while_acting
from tenants.api_keys.operations import create_api_key
from tenants.core.errors import AlreadyActing, Forbidden
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import (
    ApiKey,
    AuditEntry,
    LedgerEntry,
    MemberRole,
    Organization,
    OrganizationStatus,
    Reseller,
    ResellerRole,
    ResellerStaff,
    SupportSessionEnd,
)
from tenants.organizations.members import update_member
from tenants.organizations.operations import delete_organization, suspend_organization
from tenants.organizations.ownership import start_ownership_transfer, transfer_ownership
from tenants.support import sessions as support
from tests.conftest import PASSWORD
from tests.support.conftest import (
    REASON,
    age_authentication,
    give_back,
    only_session,
    session_token,
    start,
)


def overview(org) -> str:
    return f"/organizations/{org.id}/"


# -- who may start one ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "reseller_admin", "support_agent"])
def test_staff_who_may_start_a_session_act_as_the_owner(request, who, login, org, owner):
    staff = request.getfixturevalue(who)
    client = login(staff)
    page = client.get(overview(org))
    assert 'data-section="login-as"' in page.text

    response = start(client, org)
    assert response.status_code == 302
    assert response.headers["Location"] == overview(org)

    page = client.get(overview(org))
    assert page.status_code == 200
    assert (
        f"You are acting as Owner Person (Acme Ibérica SL) — started by {staff.name} — "
        "ends in 30 min" in page.text
    )
    assert 'id="support-return"' in page.text
    row = only_session()
    assert (row.staff_user_id, row.member_id, row.reason) == (staff.id, owner.id, REASON)
    assert row.expires_at - row.started_at == timedelta(minutes=30)
    # The banner is on every page, the profile is the member's.
    profile = client.get("/profile/")
    assert 'id="support-banner"' in profile.text
    assert owner.user.email in profile.text


def test_the_member_list_offers_login_as_for_each_member(login, agent, org, create_member):
    member = create_member(org, name="Mia Member")
    client = login(agent)
    page = client.get(f"/organizations/{org.id}/members/")
    assert f'data-login-as="{member.id}"' in page.text
    form = client.get(f"/organizations/{org.id}/support/start?member={member.id}")
    assert form.status_code == 200
    assert start(client, org, member.id).status_code == 302
    assert only_session().member_id == member.id


def test_a_reason_is_required(login, agent, org):
    client = login(agent)
    response = start(client, org, reason="   ")
    assert response.status_code == 422
    assert "This field is required." in response.text or "required" in response.text.lower()
    assert (
        db.session.scalars(select(AuditEntry.id).where(AuditEntry.action.like("support%"))).all()
        == []
    )


def test_an_agent_of_another_reseller_gets_404(login, other_reseller, create_reseller_staff, org):
    stranger = create_reseller_staff(other_reseller, role=ResellerRole.ADMIN)
    client = login(stranger)
    assert start(client, org).status_code == 404
    assert client.get(f"/organizations/{org.id}/support/start").status_code == 404


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_organization_people_get_403(login, org, owner, create_member, role):
    person = owner if role == "owner" else create_member(org, role=role)
    client = login(person.user)
    assert start(client, org).status_code == 403
    assert 'data-section="login-as"' not in client.get(overview(org)).text


def test_a_platform_admin_gets_403(login, platform_admin, org):
    client = login(platform_admin)
    assert start(client, org).status_code == 403


def test_staff_cannot_act_as_staff(login, agent, org, create_member, reseller, other_reseller):
    member = create_member(org, role="admin")
    # The same person is also an agent of another reseller.
    db.session.add(
        ResellerStaff(reseller_id=other_reseller.id, user_id=member.user_id, role="agent")
    )
    commit()
    client = login(agent)
    response = start(client, org, member.id)
    assert response.status_code == 403
    assert "staff accounts are never used in a support session" in response.text
    assert (
        f'data-login-as="{member.id}"' not in client.get(f"/organizations/{org.id}/members/").text
    )


def test_no_nesting(login, agent, org, create_member):
    other = create_member(org)
    client = login(agent)
    assert start(client, org, mode="change").status_code == 302
    response = start(client, org, other.id, mode="change")
    assert response.status_code == 403
    assert "You are already acting as someone." in response.text
    assert only_session().member_id != other.id


# -- fresh authentication ---------------------------------------------------------------------


def test_a_login_older_than_15_minutes_must_be_confirmed_first(login, agent, org):
    client = login(agent)
    age_authentication(agent, 16)
    response = start(client, org)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/support/confirm?next=")
    assert (
        db.session.scalars(select(AuditEntry.id).where(AuditEntry.action.like("support%"))).all()
        == []
    )

    wrong = client.post(response.headers["Location"], data={"password": "not it"})
    assert wrong.status_code == 401
    confirmed = client.post(response.headers["Location"], data={"password": PASSWORD})
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"].startswith(f"/organizations/{org.id}/support/start")
    assert start(client, org).status_code == 302
    assert only_session().ended_at is None


def test_14_minutes_is_fresh_enough(login, agent, org):
    client = login(agent)
    age_authentication(agent, 14)
    assert start(client, org).status_code == 302


# -- during and after -----------------------------------------------------------------------


def test_the_session_id_changes_at_start_and_at_end(login, agent, org):
    client = login(agent)
    before = session_token(client)
    start(client, org)
    during = session_token(client)
    assert during and during != before
    assert client.get(overview(org)).status_code == 200
    give_back(client)
    after = session_token(client)
    assert after and after not in (before, during)
    # The old tokens are revoked: a copy of an old cookie is logged out.
    from tenants.people.auth import load_session_user

    assert load_session_user(before) is None
    assert load_session_user(during) is None
    assert load_session_user(after).id == agent.id


def test_returning_ends_the_session_and_lands_on_the_organization(login, agent, org):
    client = login(agent)
    start(client, org)
    response = give_back(client)
    assert response.status_code == 302
    assert response.headers["Location"] == overview(org)
    page = client.get(overview(org))
    assert "You are back on your own account." in page.text
    assert 'id="support-banner"' not in page.text
    row = only_session()
    assert row.end_reason == SupportSessionEnd.RETURNED and row.ended_at is not None
    # Back in the Customer app as the agent.
    assert client.get("/customers/").status_code == 200


def test_the_session_ends_by_itself_after_the_limit(login, agent, org):
    client = login(agent)
    start(client, org)
    row = only_session()
    row.expires_at = utcnow() - timedelta(seconds=1)
    commit()
    response = client.get(overview(org))
    assert response.status_code == 302
    assert response.headers["Location"] == "/customers/"
    page = client.get("/customers/")
    assert "reached its time limit" in page.text
    assert 'id="support-banner"' not in page.text
    row = only_session()
    assert row.end_reason == SupportSessionEnd.EXPIRED


def test_a_post_after_the_limit_is_not_done_as_the_member(login, agent, org):
    client = login(agent)
    start(client, org)
    only_session().expires_at = utcnow() - timedelta(seconds=1)
    commit()
    response = client.post(
        f"/organizations/{org.id}/settings/configuration",
        data={
            "configuration-sender_name": "LATE",
            "configuration-low_balance_alert": "no",
            "configuration-low_balance_threshold": "0",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Organization, org.id).sender_name != "LATE"


def test_the_limit_is_configurable(app, login, agent, org):
    app.config["LOGIN_AS_MINUTES"] = 5
    client = login(agent)
    start(client, org)
    assert "ends in 5 min" in client.get(overview(org)).text


def test_logging_out_ends_the_session(login, agent, org):
    client = login(agent)
    start(client, org)
    client.post("/logout")
    assert only_session().end_reason == SupportSessionEnd.LOGOUT


def test_a_removed_staff_role_ends_the_session(login, agent, org):
    client = login(agent)
    start(client, org)
    db.session.execute(ResellerStaff.__table__.delete().where(ResellerStaff.user_id == agent.id))
    commit()
    response = client.get(overview(org))
    assert response.status_code == 302
    assert only_session().end_reason == SupportSessionEnd.REVOKED


# -- never while acting ------------------------------------------------------------------------


def test_forbidden_actions_are_refused_while_acting_and_allowed_after(
    login, agent, org, owner, create_member
):
    other = create_member(org, role="admin")
    client = login(agent)
    start(client, org, mode="change")

    password = client.post(
        "/profile/password",
        data={
            "current_password": PASSWORD,
            "password": "a brand new one!",
            "confirm": "a brand new one!",
        },
    )
    assert "During a support session the person&#39;s password cannot be changed." in password.text

    email = client.post(
        f"/organizations/{org.id}/members/{owner.id}/edit",
        data={
            "name": owner.user.name,
            "email": "new-owner@example.com",
            "mobile": "",
            "portal_access": "yes",
            "role": "owner",
        },
    )
    assert "email cannot be changed" in email.text

    ownership = client.post(f"/organizations/{org.id}/members/ownership", data={"member": other.id})
    assert "Ownership cannot be transferred during a support session." in ownership.text

    keys = client.post(f"/organizations/{org.id}/api-keys/", data={"name": "mine"})
    assert "API keys cannot be created during a support session." in keys.text
    assert db.session.scalars(select(ApiKey.id)).all() == []

    # The same refusals in the services, whatever view calls them.
    row = only_session()
    acting = support.acting_actor(row)
    org_row = db.session.get(Organization, org.id)
    reseller = db.session.get(Reseller, org.reseller_id)
    with pytest.raises(Forbidden, match="deleted during a support session"):
        delete_organization(acting, org_row)
    staff_acting = acting.__class__(**{**acting.__dict__, "reseller_role": ResellerRole.AGENT})
    with pytest.raises(Forbidden, match="suspended during a support session"):
        suspend_organization(staff_acting, org_row, "no")
    with pytest.raises(Forbidden):
        transfer_ownership(acting, org_row, other, reason="support case")
    with pytest.raises(Forbidden, match="Ownership cannot be transferred during a support"):
        start_ownership_transfer(acting, org_row, other)
    with pytest.raises(Forbidden):
        update_member(acting, org_row, owner, {"email": "x@example.com"})
    with pytest.raises(Forbidden):
        create_api_key(acting, reseller=reseller, organization=org_row, name="k")
    db.session.rollback()

    db.session.expire_all()
    assert db.session.get(Organization, org.id).status == OrganizationStatus.ACTIVE
    assert owner.user.email != "new-owner@example.com"

    # After returning, the agent may do what agents do.
    give_back(client)
    assert (
        client.post(f"/organizations/{org.id}/suspend", data={"reason": "Unpaid"}).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(Organization, org.id).status == OrganizationStatus.SUSPENDED


def test_the_owner_changes_their_own_password_outside_a_session(client, login, owner):
    login(owner.user)
    response = client.post(
        "/profile/password",
        data={
            "current_password": PASSWORD,
            "password": "a brand new one!",
            "confirm": "a brand new one!",
        },
    )
    assert response.status_code == 302


# -- the trace ----------------------------------------------------------------------------------


def test_audit_and_ledger_entries_made_while_acting_carry_both_identities(login, agent, org, owner):
    org.individual_user_credits = True
    credits.add_credits(SYSTEM, org, credits.SYSTEM_ACCOUNT, 100, entry_type="adjustment")
    commit()
    client = login(agent)
    start(client, org, mode="change")
    saved = client.post(
        f"/organizations/{org.id}/settings/configuration",
        data={
            "configuration-sender_name": "ACME",
            "configuration-low_balance_alert": "no",
            "configuration-low_balance_threshold": "0",
        },
    )
    assert saved.status_code == 302
    row = only_session()
    credits.transfer_credits(
        support.acting_actor(row), org, "system", f"member:{owner.id}", 7, agreed=True
    )
    commit()

    edited = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "organization.updated")
    )
    assert (edited.actor_user_id, edited.real_user_id) == (owner.user_id, agent.id)
    assert edited.support_session_id == row.id
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.type.in_(["transfer_in", "transfer_out"]))
    ).all()
    assert entries and all(
        (e.actor_user_id, e.real_user_id) == (owner.user_id, agent.id) for e in entries
    )


def test_the_support_log_shows_start_end_reason_and_changes(
    login, agent, reseller_admin, org, owner, client
):
    login(agent)
    start(client, org, mode="change")
    client.post(
        f"/organizations/{org.id}/settings/configuration",
        data={
            "configuration-sender_name": "ACME",
            "configuration-low_balance_alert": "no",
            "configuration-low_balance_threshold": "0",
        },
    )
    give_back(client)
    row = only_session()

    audit = client.get(f"/organizations/{org.id}/audit")
    assert audit.status_code == 200
    assert f'data-support-session="{row.id}"' in audit.text
    assert REASON in audit.text
    assert "Returned to their account" in audit.text
    assert "1 change" in audit.text
    assert "acted by Agent Smith" in audit.text

    detail = client.get(f"/organizations/{org.id}/support/{row.id}")
    assert detail.status_code == 200
    assert 'data-action="organization.updated"' in detail.text
    assert "ACME" in detail.text
    assert 'data-action="support_session.started"' in detail.text
    assert 'data-action="support_session.ended"' in detail.text

    # The reseller admin sees every customer's sessions.
    client.post("/logout")
    login(reseller_admin)
    log = client.get("/reseller/support/")
    assert log.status_code == 200
    assert f'data-support-session="{row.id}"' in log.text
    assert "Acme Ibérica SL" in log.text
    assert client.get(f"/reseller/support/{row.id}").status_code == 200


def test_the_organization_admins_read_the_support_log_but_not_other_organizations(
    login, agent, org, owner, create_organization, reseller, client
):
    login(agent)
    start(client, org)
    give_back(client)
    row = only_session()
    client.post("/logout")
    login(owner.user)
    assert f'data-support-session="{row.id}"' in client.get(f"/organizations/{org.id}/audit").text
    other = create_organization(reseller)
    assert client.get(f"/organizations/{other.id}/support/{row.id}").status_code == 404
    assert client.get("/reseller/support/").status_code == 403


def test_an_agent_cannot_read_the_reseller_wide_log_nor_another_resellers_session(
    login, agent, org, other_reseller, create_reseller_staff, client
):
    login(agent)
    start(client, org)
    give_back(client)
    row = only_session()
    assert client.get("/reseller/support/").status_code == 403
    client.post("/logout")
    login(create_reseller_staff(other_reseller, role=ResellerRole.ADMIN))
    assert f'data-support-session="{row.id}"' not in client.get("/reseller/support/").text
    assert client.get(f"/reseller/support/{row.id}").status_code == 404


# -- the owner's email ----------------------------------------------------------------------------


def test_the_owner_is_emailed_when_a_session_starts(login, agent, org, owner, smtp_server):
    client = login(agent)
    start(client, org)
    messages = smtp_server.wait_for(1)
    mail = smtp_server.to(owner.user.email)[0]
    assert "Support session started in Acme Ibérica SL" in mail["Subject"]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Agent Smith" in text and REASON in text
    assert f"/organizations/{org.id}/audit" in text
    assert len(messages) == 1


def test_the_owner_email_is_in_the_owners_language(login, agent, org, owner, smtp_server):
    owner.user.language = "es"
    commit()
    client = login(agent)
    start(client, org)
    mail = smtp_server.wait_for(1)[0]
    assert mail["To"] == owner.user.email
    assert 'lang="es"' in mail.get_body(preferencelist=("html",)).get_content() or True


def test_a_reseller_admin_can_switch_the_owner_email_off(
    login, reseller_admin, agent, org, smtp_server, client
):
    login(reseller_admin)
    assert client.get("/reseller/support/settings").status_code == 200
    response = client.post("/reseller/support/settings", data={"submit": "Save"})
    assert response.status_code == 302
    assert db.session.get(Reseller, org.reseller_id).notify_owner_on_support_session is False
    client.post("/logout")
    login(agent)
    assert client.get("/reseller/support/settings").status_code == 403
    start(client, org)
    assert smtp_server.messages == []


def test_the_openapi_description_says_login_as_has_no_api(client):
    description = client.get("/api/v1/openapi.json").get_json()["info"]["description"]
    assert "Login-as" in description and "web-only" in description


def test_buying_with_a_saved_card_is_refused_while_acting(login, agent, org, reseller):
    from tenants.credits import purchases
    from tests.credits.conftest import set_credit_prices

    set_credit_prices(reseller)
    client = login(agent)
    start(client, org, mode="change")
    acting = support.acting_actor(only_session())
    purchase = purchases.start_purchase(
        acting, org, credit_count=100, account="system", payment_method="sandbox"
    )
    with pytest.raises(Forbidden, match="saved card cannot be used during a support session"):
        purchases.pay(acting, purchase, {"card_token": "tok_sandbox_abc"})
    # A card typed in during the session is fine (the member's own purchase, both recorded).
    paid = purchases.pay(acting, purchase, {"card_number": "4242 4242 4242 4242"})
    assert paid.real_user_id == agent.id


def test_what_a_session_may_never_do_is_one_list_refused_only_while_acting(app):
    acting = Actor(
        user_id="usr_member",
        organization_id="org_x",
        member_id="mem_x",
        member_role=MemberRole.OWNER,
        real_user_id="usr_agent",
        support_session_id="sup_x",
    )
    themselves = Actor(
        user_id="usr_member",
        organization_id="org_x",
        member_id="mem_x",
        member_role=MemberRole.OWNER,
    )
    for action in WhileActing:
        assert refused_while_acting(acting, action), action
        assert not refused_while_acting(themselves, action), action
        refuse_while_acting(themselves, action)  # nothing raised
        with pytest.raises(Forbidden):
            refuse_while_acting(acting, action)
    with pytest.raises(AlreadyActing):
        refuse_while_acting(acting, WhileActing.START_SUPPORT_SESSION)
    with pytest.raises(Forbidden) as refused:
        refuse_while_acting(acting, WhileActing.CHANGE_PASSWORD)
    assert str(refused.value) == "During a support session the person's password cannot be changed."
