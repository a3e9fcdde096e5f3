"""Issue 14 item 2, SPEC §5: a support session is started in a mode — ``view`` (the default:
every change is refused with 403 and one clear message, by the policy's list) or ``change``
(the organization's admins are emailed) — and in every mode acting staff cannot rewrite a
person another organization also serves, nor save a new card.

Web tests post the portal's forms with real CSRF tokens.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tenants.access.actors import SYSTEM
from tenants.access.policy import ALLOWED_IN_VIEW_ONLY
from tenants.core.errors import Conflict, Forbidden, ViewOnlySession
from tenants.core.extensions import db
from tenants.credits import operations as credits
from tenants.credits import topups
from tenants.jobs.outbox import commit
from tenants.models import (
    AuditEntry,
    Member,
    Organization,
    QueuedJob,
    Reseller,
    SavedPaymentMethod,
    SupportMode,
    SupportSessionEnd,
    User,
)
from tenants.organizations.members import add_member, update_member
from tenants.people.profile import update_profile
from tenants.support import sessions as support
from tests.conftest import PASSWORD, owner_of, staff_actor
from tests.security.conftest import (  # noqa: F401  (world: the two furnished resellers)
    PLAUSIBLE_FORM,
    changed_tables,
    snapshot,
    world,
)
from tests.security.test_csrf import fill
from tests.support.conftest import REASON, age_authentication, only_session

VIEW_ONLY = "This support session is view only: nothing can be changed."
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


def token_of(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post(client, url: str, data: dict, form_page: str = "/profile/"):
    """POST with the CSRF token of a page of this browser session."""
    token = token_of(client.get(form_page).text)
    return client.post(url, data={**data, "csrf_token": token})


def log_in(client, user) -> None:
    response = post(client, "/login", {"email": user.email, "password": PASSWORD}, "/login")
    assert response.status_code == 302


def start(client, org, member_id: str | None = None, **extra):
    url = f"/organizations/{org.id}/support/start"
    member_id = member_id or owner_of(org).id
    return post(client, url, {"member": member_id, "reason": REASON, **extra}, url)


def start_jobs(support_id: str) -> list[QueuedJob]:
    return [
        job
        for job in db.session.scalars(
            select(QueuedJob).where(QueuedJob.name == "send_support_session_started")
        )
        if job.kwargs["support_session_id"] == support_id
    ]


def started_emails(smtp_server, address: str = "") -> list:
    """The "support session started" emails (not the members' invitations)."""
    return [
        m
        for m in smtp_server.to(address)
        if "Support session" in m["Subject"] or "Sesión de soporte" in m["Subject"]
    ]


# -- the start form -----------------------------------------------------------------------


def test_the_start_form_offers_the_modes_and_defaults_to_view_only(client, agent, org):
    log_in(client, agent)
    page = client.get(f"/organizations/{org.id}/support/start").text
    assert 'name="mode"' in page and "View only" in page and "Make changes" in page
    assert re.search(r'<input[^>]*checked[^>]*value="view"|value="view"[^>]*checked', page)
    overview = client.get(f"/organizations/{org.id}/").text
    assert 'name="mode"' in overview  # the overview's short start form too
    response = start(client, org)  # no mode sent
    assert response.status_code == 302
    row = only_session()
    assert row.mode == SupportMode.VIEW
    started = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "support_session.started")
    )
    assert started.changes["mode"] == [None, "view"]


def test_an_unknown_mode_is_refused_with_the_form(client, agent, org):
    log_in(client, agent)
    response = start(client, org, mode="everything")
    assert response.status_code == 422
    assert "Choose view only or make changes." in response.text
    assert db.session.scalars(select(support.SupportSession)).all() == []


def test_the_chosen_mode_survives_the_password_check(client, agent, org):
    log_in(client, agent)
    age_authentication(agent, 16)
    response = start(client, org, mode="change")
    assert response.status_code == 302 and "/support/confirm?next=" in response.headers["Location"]
    back = post(client, response.headers["Location"], {"password": PASSWORD}, "/support/confirm")
    page = client.get(back.headers["Location"]).text
    assert re.search(r'<input[^>]*checked[^>]*value="change"|value="change"[^>]*checked', page)


def test_the_banner_the_log_and_the_session_page_show_the_mode(client, agent, reseller_admin, org):
    log_in(client, agent)
    start(client, org)
    page = client.get(f"/organizations/{org.id}/").text
    assert 'data-field="support-mode">View only<' in page
    assert "view only: nothing can be changed" in page  # the flash after starting
    post(client, "/support/return", {})
    start(client, org, mode="change")
    page = client.get(f"/organizations/{org.id}/").text
    assert 'data-field="support-mode">Making changes<' in page
    post(client, "/support/return", {})
    post(client, "/logout", {})

    log_in(client, reseller_admin)
    listing = client.get("/reseller/support/").text
    modes = re.findall(r'data-field="mode">\s*([^<]+?)\s*<', listing)
    assert sorted(modes) == ["Make changes", "View only"]
    changing = db.session.scalar(
        select(support.SupportSession).where(support.SupportSession.mode == SupportMode.CHANGE)
    )
    detail = client.get(f"/reseller/support/{changing.id}").text
    assert re.search(r'data-field="mode">\s*Make changes\s*<', detail)
    # The audit of the start reads the mode in the reader's language.
    assert "Mode" in detail


# -- view only: every change refused, over the whole URL map --------------------------------


def test_view_only_refuses_every_state_changing_request_of_the_url_map(app, world):  # noqa: F811
    """Acting as reseller A's owner in a view-only session, every POST/PUT/PATCH/DELETE rule
    of the web app (its own URL filled with A's records, a plausible body, a valid CSRF
    token) answers 403 with the view-only message and changes nothing; the policy's few
    allowed endpoints (return, log out, language) still work."""
    client = app.test_client()
    agent = db.session.scalar(select(User).where(User.email == world.a.agent_email))
    log_in(client, agent)
    org = db.session.get(Organization, world.a.org_id)
    assert start(client, org).status_code == 302
    acting = only_open_session(agent.id)
    assert acting.mode == SupportMode.VIEW
    token = token_of(client.get(f"/organizations/{org.id}/").text)

    before = snapshot()
    refused, failures = 0, []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        methods = sorted((rule.methods or set()) & STATE_CHANGING)
        if not methods or rule.endpoint.startswith("api."):
            continue
        if rule.endpoint in ALLOWED_IN_VIEW_ONLY:
            continue
        url = fill(world, rule)
        for method in methods:
            response = client.open(url, method=method, data={**PLAUSIBLE_FORM, "csrf_token": token})
            refused += 1
            if response.status_code != 403 or VIEW_ONLY not in response.text:
                failures.append(f"{method} {url} ({rule.endpoint}) -> {response.status_code}")
    assert refused > 50
    assert not failures, "\n".join(failures)
    assert changed_tables(before, snapshot()) == []

    # Still acting, still view only: the allowed endpoints work.
    assert client.post("/language", data={"language": "en", "csrf_token": token}).status_code
    page = client.get(f"/organizations/{org.id}/").text
    assert 'id="support-banner"' in page
    response = client.post("/support/return", data={"csrf_token": token_of(page)})
    assert response.status_code == 302
    db.session.expire_all()
    assert only_open_session(agent.id, ended=True).end_reason == SupportSessionEnd.RETURNED


def only_open_session(staff_user_id: str, ended: bool = False):
    """The staff member's latest session started in the portal (the service-made ones of
    the fixtures have no IP address)."""
    query = select(support.SupportSession).where(
        support.SupportSession.staff_user_id == staff_user_id,
        support.SupportSession.ip.is_not(None),
    )
    query = query.order_by(support.SupportSession.started_at.desc())
    row = db.session.scalars(query).first()
    assert row is not None and (row.ended_at is not None) == ended
    return row


def test_a_view_only_actor_changes_nothing_through_any_operation(
    client, agent, org, owner, create_member
):
    """Defence in depth behind the web layer: every change is recorded, and recording one as
    a view-only actor is refused (the policy), so the operation's transaction is undone."""
    member = create_member(org, role="member")
    log_in(client, agent)
    start(client, org)
    acting = support.acting_actor(only_session())
    assert acting.support_mode == SupportMode.VIEW
    with pytest.raises(ViewOnlySession, match="view only"):
        update_profile(owner.user, {"company": "Changed"}, actor=acting)
    db.session.rollback()
    with pytest.raises(ViewOnlySession):
        update_member(acting, org, member, {"role": "admin"})
    db.session.rollback()
    org.individual_user_credits = True
    credits.add_credits(SYSTEM, org, credits.SYSTEM_ACCOUNT, 100)
    commit()
    with pytest.raises(ViewOnlySession):
        credits.transfer_credits(acting, org, "system", f"member:{owner.id}", 10, agreed=True)
    db.session.rollback()
    assert isinstance(ViewOnlySession(), Forbidden)


# -- change mode --------------------------------------------------------------------------


def test_change_mode_changes_and_emails_the_admins_in_their_language(
    client, agent, org, owner, create_member, smtp_server
):
    admin = create_member(org, role="admin", name="Ana Admin")
    admin.user.language = "es"
    no_access = create_member(org, role="admin", portal_access=False, password=None)
    plain = create_member(org, role="member")
    commit()
    log_in(client, agent)
    assert start(client, org, plain.id, mode="change").status_code == 302
    row = only_session()
    assert row.mode == SupportMode.CHANGE
    jobs = start_jobs(row.id)
    assert sorted(j.kwargs["user_id"] for j in jobs) == sorted([owner.user_id, admin.user_id])

    # A change goes through.
    profile = post(client, "/profile/", _profile(plain.user, company="Changed Co"))
    assert profile.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, plain.user_id).company == "Changed Co"

    smtp_server.wait_for(2)
    to_owner = started_emails(smtp_server, owner.user.email)
    to_admin = started_emails(smtp_server, admin.user.email)
    assert len(to_owner) == 1 and len(to_admin) == 1
    assert started_emails(smtp_server, no_access.user.email) == []
    assert started_emails(smtp_server, plain.user.email) == []
    assert to_owner[0]["Subject"] == "Support session with changes started in Acme Ibérica SL"
    assert to_admin[0]["Subject"] == "Sesión de soporte con cambios iniciada en Acme Ibérica SL"
    text = to_owner[0].get_body(preferencelist=("plain",)).get_content()
    assert "Agent Smith" in text and REASON in text and "make changes" in text
    assert "Hola, Ana Admin:" in to_admin[0].get_body(preferencelist=("plain",)).get_content()


def test_view_mode_emails_the_owner_only_when_the_reseller_asks(
    client, agent, org, owner, create_member, smtp_server
):
    create_member(org, role="admin")
    log_in(client, agent)
    start(client, org)
    row = only_session()
    assert [j.kwargs["user_id"] for j in start_jobs(row.id)] == [owner.user_id]
    smtp_server.wait_for(1)
    assert [m["To"] for m in started_emails(smtp_server)] == [owner.user.email]
    (mail,) = started_emails(smtp_server)
    assert mail["Subject"] == "Support session started in Acme Ibérica SL"
    assert "view only" in mail.get_body(preferencelist=("plain",)).get_content()

    reseller = db.session.get(Reseller, org.reseller_id)
    reseller.notify_owner_on_support_session = False
    commit()
    post(client, "/support/return", {})
    start(client, org)
    latest = only_open_session(agent.id)
    assert start_jobs(latest.id) == []


# -- in every mode --------------------------------------------------------------------------


def _profile(user, **values) -> dict:
    return {
        "name": user.name,
        "mobile": user.mobile or "",
        "country": user.country or "",
        "company": user.company or "",
        "language": user.language or "en",
        **values,
    }


@pytest.mark.parametrize("mode", ["view", "change"])
def test_acting_staff_cannot_rewrite_a_person_another_reseller_also_serves(
    client, agent, org, owner, other_reseller, create_organization, mode
):
    """The issue's finding: acting staff of reseller A renamed a person reseller B also
    serves. Now refused in every mode (the rule that refuses the person's own admins)."""
    theirs = create_organization(other_reseller, name="Beta Customer")
    add_member(SYSTEM, theirs, name=owner.user.name, email=owner.user.email)
    commit()
    log_in(client, agent)
    start(client, org, mode=mode)
    response = post(
        client, "/profile/", _profile(owner.user, name="Rewritten", mobile="+34600111222")
    )
    if mode == "view":
        assert response.status_code == 403 and VIEW_ONLY in response.text
    else:
        assert response.status_code != 302  # the form again, with why
        assert "also uses the portal elsewhere" in response.text
    db.session.expire_all()
    person = db.session.get(User, owner.user_id)
    assert person.name != "Rewritten" and person.mobile != "+34600111222"
    # What only this organization knows may still be changed in a change session.
    if mode == "change":
        assert post(client, "/profile/", _profile(person, company="Acme")).status_code == 302


def test_reseller_staff_cannot_rewrite_a_member_another_reseller_also_serves(
    agent, reseller, org, other_reseller, create_organization, create_member
):
    member = create_member(org, role="member", name="Shared Person")
    theirs = create_organization(other_reseller, name="Beta Customer")
    add_member(SYSTEM, theirs, name="Shared Person", email=member.user.email)
    commit()
    with pytest.raises(Conflict, match="also uses the portal elsewhere"):
        update_member(staff_actor(reseller, agent), org, member, {"name": "Rewritten"})


def test_a_new_card_is_never_saved_while_acting(client, agent, reseller, org):
    """Buying with a new card in a change session works, but the card is not kept: the
    pay page offers no "save this card", a posted one is ignored, and the service refuses."""
    from tests.credits.conftest import set_credit_prices

    set_credit_prices(reseller)
    log_in(client, agent)
    start(client, org, mode="change")
    base = f"/organizations/{org.id}/credits"
    confirm = post(
        client,
        f"{base}/purchase/confirm",
        {"account": "system", "credits": "100", "payment_method": "sandbox"},
        f"{base}/purchase",
    )
    assert confirm.status_code == 302, confirm.text[:500]
    pay = confirm.headers["Location"]
    assert 'name="save_card"' not in client.get(pay).text
    paid = post(
        client,
        pay,
        {"card_number": "4242 4242 4242 4242", "expiry": "12/30", "save_card": "y"},
        pay,
    )
    assert paid.status_code == 302
    assert db.session.scalar(select(db.func.count()).select_from(SavedPaymentMethod)) == 0
    acting = support.acting_actor(only_session())
    with pytest.raises(Forbidden, match="saved card cannot be used or changed"):
        topups.save_card(acting, org, {"card_number": "4242 4242 4242 4242", "expiry": "12/30"})


def test_acting_staff_cannot_add_their_own_staff_email_as_a_member(client, agent, org):
    """The issue's "support session that mints lasting access": refused in a change session
    by the one staff/customer rule (tenants.people.identity)."""
    log_in(client, agent)
    start(client, org, mode="change")
    url = f"/organizations/{org.id}/members/new"
    response = post(
        client,
        url,
        {"name": "Me Again", "email": agent.email, "mobile": "", "role": "admin"},
        url,
    )
    assert response.status_code == 422
    assert "cannot be a customer member" in response.text
    members = db.session.scalars(select(Member).where(Member.user_id == agent.id)).all()
    assert members == []
