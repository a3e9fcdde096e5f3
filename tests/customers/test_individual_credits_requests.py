"""Issue 16, item 4: individual user credits on request (seed 001: "a configuration changed on
request"). An organization's admin asks, the reseller's staff approve or decline on the
organization's page; both sides are emailed (each person in their language) and every step is
audited; one pending request per organization; another tenant's request is a 404.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import (
    AuditEntry,
    ChangeRequest,
    ChangeRequestStatus,
    Organization,
    ResellerRole,
)
from tests.conftest import PASSWORD, owner_of

URL = "/organizations/{id}/individual-credits"


@pytest.fixture
def world(app, create_reseller, create_reseller_staff, create_organization, create_member):
    reseller = create_reseller(name="Alpha Telecom")
    agent = create_reseller_staff(reseller, role=ResellerRole.AGENT, name="Agent Smith")
    admin_staff = create_reseller_staff(
        reseller, role=ResellerRole.ADMIN, name="Alicia Jefa", language="es"
    )
    org = create_organization(reseller, name="Acme SL")
    owner = owner_of(org)
    owner.user.language = "es"
    commit()
    admin = create_member(org, role="admin", name="Ada Admin")
    member = create_member(org, role="member", name="Mel Member")
    other = create_reseller(name="Bravo Telecom")
    other_agent = create_reseller_staff(other, name="Agent Bravo")
    other_org = create_organization(other, name="Bravo Customer SL")
    sibling_org = create_organization(reseller, name="Sibling SL")
    for sent in Path(app.config["OUTBOX_DIR"]).glob("*.eml"):
        sent.unlink()  # the invitations: each test reads only what it makes
    return SimpleNamespace(
        reseller=reseller,
        agent=agent,
        admin_staff=admin_staff,
        org=org,
        owner=owner,
        admin=admin,
        member=member,
        other_agent=other_agent,
        other_org=other_org,
        sibling_org=sibling_org,
    )


def client_for(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, email
    return client


def outbox(app) -> list[EmailMessage]:
    folder = Path(app.config["OUTBOX_DIR"])
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]


def mail_to(app, address: str) -> list[EmailMessage]:
    return [m for m in outbox(app) if m["To"] == address]


def text(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def requests_of(org) -> list[ChangeRequest]:
    db.session.expire_all()
    return list(
        db.session.scalars(sa.select(ChangeRequest).where(ChangeRequest.organization_id == org.id))
    )


def actions(org) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.organization_id == org.id, AuditEntry.action.like("change_request%"))
            .order_by(AuditEntry.created_at, AuditEntry.id)
        )
    )


def individual_on(org) -> bool:
    db.session.expire_all()
    return db.session.get(Organization, org.id).individual_user_credits


def ask(client, org, message="Our sales team needs their own credits."):
    return client.post(URL.format(id=org.id) + "/request", data={"message": message})


# ---------------------------------------------------------------------------
# request → approve, request → decline


def test_request_then_approval_switches_individual_credits_on_and_emails_both_ways(app, world):
    admin = client_for(app, world.admin.user.email)
    page = admin.get(URL.format(id=world.org.id)).text
    assert "Request individual user credits" in page
    overview = admin.get(f"/organizations/{world.org.id}/").text
    assert 'data-section="individual-credits-notice"' in overview

    response = ask(admin, world.org)
    assert response.status_code == 302
    (change,) = requests_of(world.org)
    assert change.status == ChangeRequestStatus.PENDING
    assert change.requested_by_user_id == world.admin.user_id
    assert change.message == "Our sales team needs their own credits."
    waiting = admin.get(URL.format(id=world.org.id)).text
    assert "Request waiting for an answer" in waiting and 'name="message"' not in waiting

    # The reseller's staff are emailed, each in their own language.
    (to_agent,) = mail_to(app, world.agent.email)
    assert to_agent["Subject"] == "Acme SL asks for individual user credits"
    assert "Ada Admin" in text(to_agent) and "Our sales team" in text(to_agent)
    assert f"/organizations/{world.org.id}/individual-credits" in text(to_agent)
    (to_boss,) = mail_to(app, world.admin_staff.email)
    assert to_boss["Subject"] == "Acme SL solicita créditos individuales por usuario"

    # The agent sees it on the organization's page and approves it.
    agent = client_for(app, world.agent.email)
    assert "Review the request" in agent.get(f"/organizations/{world.org.id}/").text
    review = agent.get(URL.format(id=world.org.id)).text
    assert "Our sales team needs their own credits." in review
    approved = agent.post(URL.format(id=world.org.id) + "/approve", data={"request_id": change.id})
    assert approved.status_code == 302
    assert individual_on(world.org)
    (change,) = requests_of(world.org)
    assert change.status == ChangeRequestStatus.APPROVED
    assert change.decided_by_user_id == world.agent.id and change.decided_at is not None

    # The owner (Spanish) and the admin (English) are told; the plain member is not.
    (to_owner,) = mail_to(app, world.owner.user.email)
    assert to_owner["Subject"] == "Los créditos individuales por usuario están activados en Acme SL"
    (to_admin,) = mail_to(app, world.admin.user.email)
    assert to_admin["Subject"] == "Individual user credits are on in Acme SL"
    assert "each member now has their own credit account" in text(to_admin)
    assert mail_to(app, world.member.user.email) == []

    # Audited as keys, read in the reader's language; the switch itself as an edit.
    assert actions(world.org) == ["change_request.submitted", "change_request.approved"]
    edit = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.organization_id == world.org.id, AuditEntry.action == "organization.updated"
        )
    ).one()
    assert edit.changes == {"individual_user_credits": [False, True]}
    log = agent.get(f"/organizations/{world.org.id}/audit").text
    assert "Change requested" in log and "Change request approved" in log
    assert "individual_credits" not in log and "Individual user credits" in log
    agent.post("/language", data={"language": "es"})
    log = agent.get(f"/organizations/{world.org.id}/audit").text
    assert "Cambio solicitado" in log and "Solicitud de cambio aprobada" in log
    assert "Créditos individuales por usuario" in log


def test_request_then_decline_keeps_the_configuration_and_tells_the_admins_why(app, world):
    admin = client_for(app, world.admin.user.email)
    assert ask(admin, world.org, message="").status_code == 302
    (change,) = requests_of(world.org)
    assert change.message is None

    agent = client_for(app, world.agent.email)
    declined = agent.post(
        URL.format(id=world.org.id) + "/decline",
        data={"request_id": change.id, "reason": "Your plan does not include it."},
    )
    assert declined.status_code == 302
    assert not individual_on(world.org)
    (change,) = requests_of(world.org)
    assert change.status == ChangeRequestStatus.DECLINED
    assert change.decision_reason == "Your plan does not include it."

    (to_admin,) = mail_to(app, world.admin.user.email)
    assert to_admin["Subject"] == "Your request for individual user credits was declined"
    assert "Your plan does not include it." in text(to_admin)
    (to_owner,) = mail_to(app, world.owner.user.email)
    assert "rechazado" in text(to_owner) and "Your plan does not include it." in text(to_owner)
    assert actions(world.org) == ["change_request.submitted", "change_request.declined"]
    reason = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "change_request.declined")
    ).one()
    assert reason.changes["reason"] == [None, "Your plan does not include it."]

    # The admin reads the answer, and may ask again.
    page = admin.get(URL.format(id=world.org.id)).text
    assert "Request declined" in page and "Your plan does not include it." in page
    assert ask(admin, world.org).status_code == 302
    assert len(requests_of(world.org)) == 2


# ---------------------------------------------------------------------------
# one at a time, answered once, only where it makes sense


def test_only_one_request_waits_at_a_time(app, world):
    admin = client_for(app, world.admin.user.email)
    owner = client_for(app, world.owner.user.email)
    assert ask(admin, world.org).status_code == 302
    mails = len(outbox(app))
    again = ask(owner, world.org)
    assert again.status_code == 409
    assert "Ya hay una solicitud de créditos individuales" in again.text  # the owner reads Spanish
    assert len(requests_of(world.org)) == 1
    assert len(outbox(app)) == mails
    assert actions(world.org) == ["change_request.submitted"]


def test_a_request_is_answered_once(app, world):
    assert ask(client_for(app, world.admin.user.email), world.org).status_code == 302
    (change,) = requests_of(world.org)
    agent = client_for(app, world.agent.email)
    decline = URL.format(id=world.org.id) + "/decline"
    assert agent.post(decline, data={"request_id": change.id}).status_code == 302
    mails = len(outbox(app))
    twice = agent.post(URL.format(id=world.org.id) + "/approve", data={"request_id": change.id})
    assert twice.status_code == 409
    assert "already been answered" in twice.text
    assert not individual_on(world.org)
    assert requests_of(world.org)[0].status == ChangeRequestStatus.DECLINED
    assert len(outbox(app)) == mails


def test_no_request_for_a_postpaid_organization_or_when_already_on(app, world, create_organization):
    postpaid = create_organization(world.reseller, name="Post SL", pricing_model="postpaid")
    owner = client_for(app, owner_of(postpaid).user.email)
    assert ask(owner, postpaid).status_code == 409
    assert "Request individual user credits" not in owner.get(URL.format(id=postpaid.id)).text

    world.org.individual_user_credits = True
    commit()
    admin = client_for(app, world.admin.user.email)
    assert ask(admin, world.org).status_code == 409
    assert requests_of(world.org) == [] and requests_of(postpaid) == []


# ---------------------------------------------------------------------------
# who may do what; another tenant's request is a 404


def test_a_plain_member_and_reseller_staff_cannot_ask(app, world):
    member = client_for(app, world.member.user.email)
    assert member.get(URL.format(id=world.org.id)).status_code == 403
    assert ask(member, world.org).status_code == 403
    agent = client_for(app, world.agent.email)
    assert ask(agent, world.org).status_code == 403
    assert requests_of(world.org) == []


def test_organization_people_cannot_answer_their_own_request(app, world):
    owner = client_for(app, world.owner.user.email)
    assert ask(owner, world.org).status_code == 302
    (change,) = requests_of(world.org)
    for path in ("/approve", "/decline"):
        response = owner.post(URL.format(id=world.org.id) + path, data={"request_id": change.id})
        assert response.status_code == 403
    assert requests_of(world.org)[0].status == ChangeRequestStatus.PENDING
    assert not individual_on(world.org)


def test_another_tenants_request_is_404_and_unchanged(app, world, create_member):
    other_owner = client_for(app, owner_of(world.other_org).user.email)
    assert ask(other_owner, world.other_org).status_code == 302
    (foreign,) = requests_of(world.other_org)
    sibling_owner = client_for(app, owner_of(world.sibling_org).user.email)
    assert ask(sibling_owner, world.sibling_org).status_code == 302
    (sibling,) = requests_of(world.sibling_org)
    assert ask(client_for(app, world.admin.user.email), world.org).status_code == 302

    agent = client_for(app, world.agent.email)
    # Reseller B's organization, and its request under reseller A's own organization.
    assert agent.get(URL.format(id=world.other_org.id)).status_code == 404
    for org_id, request_id in (
        (world.other_org.id, foreign.id),
        (world.org.id, foreign.id),
        (world.org.id, sibling.id),  # the same reseller's other customer: not this page's
        (world.org.id, "chr_01nosuchrequest00000000000"),
    ):
        for path in ("/approve", "/decline"):
            response = agent.post(
                URL.format(id=org_id) + path, data={"request_id": request_id, "reason": "no"}
            )
            assert response.status_code == 404, (org_id, request_id, path)
    assert requests_of(world.other_org)[0].status == ChangeRequestStatus.PENDING
    assert requests_of(world.sibling_org)[0].status == ChangeRequestStatus.PENDING
    assert not individual_on(world.other_org) and not individual_on(world.sibling_org)

    # Reseller B's agent cannot reach reseller A's organization at all.
    other_agent = client_for(app, world.other_agent.email)
    (mine,) = requests_of(world.org)
    response = other_agent.post(
        URL.format(id=world.org.id) + "/approve", data={"request_id": mine.id}
    )
    assert response.status_code == 404
    assert requests_of(world.org)[0].status == ChangeRequestStatus.PENDING


# ---------------------------------------------------------------------------
# bad input: a clear 4xx, nothing changed


@pytest.mark.parametrize(
    ("message", "error"),
    [("x" * 1001, "Use at most 1000 characters."), ("bad\x00text", "not allowed")],
)
def test_a_bad_message_is_422_and_nothing_is_asked(app, world, message, error):
    admin = client_for(app, world.admin.user.email)
    response = ask(admin, world.org, message=message)
    assert response.status_code == 422
    assert error in response.text
    assert requests_of(world.org) == [] and outbox(app) == []
    assert actions(world.org) == []


def test_a_bad_decline_reason_is_422_and_the_request_still_waits(app, world):
    assert ask(client_for(app, world.admin.user.email), world.org).status_code == 302
    (change,) = requests_of(world.org)
    agent = client_for(app, world.agent.email)
    response = agent.post(
        URL.format(id=world.org.id) + "/decline",
        data={"request_id": change.id, "reason": "x" * 1001},
    )
    assert response.status_code == 422
    assert "Use at most 1000 characters." in response.text
    assert requests_of(world.org)[0].status == ChangeRequestStatus.PENDING
    assert actions(world.org) == ["change_request.submitted"]
