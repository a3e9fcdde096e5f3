"""Issue 14 item 3: every change made in a support session is recorded with the session and
listed — on the session's page and in the organization's Audit tab, with a count that
matches — in the reader's language, never as a stored key or stored English.

The story of the issue, through the portal's forms with real CSRF tokens: an agent acting as
the owner edits the profile, transfers 1,150 credits, changes the settings, adds an admin,
revokes an API key and buys credits with a new card, then returns to their own account.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from tenants.access.actors import SYSTEM
from tenants.api_keys.operations import create_api_key
from tenants.core.extensions import db
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import ApiKey, AuditEntry, Member, ResellerRole
from tests.conftest import PASSWORD, owner_of, staff_actor
from tests.support.conftest import REASON, only_session

# Every change the story makes, in the order it makes them.
STORY_ACTIONS = [
    "user.profile_updated",
    "credits.transferred",
    "organization.updated",
    "member.added",
    "api_key.revoked",
    "purchase.paid",
]

# What a reader must never see: stored keys (actions, fields, values) and stored English.
RAW = [
    "support_session.started",
    "support_session.ended",
    *STORY_ACTIONS,
    "settings.sender_name",
    "settings.low_balance_alert",
    "portal_access",
    "end_reason",
    "invoices_paid",
    "returned",
    "True",
    "False",
    "member:",
    "[",
]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


@pytest.fixture
def shop(create_priced_reseller, create_organization, create_reseller_staff):
    reseller = create_priced_reseller(name="Alpha Telecom", prepaid="0.05")
    org = create_organization(reseller, name="Acme Ibérica SL")
    org.individual_user_credits = True
    commit()
    credits.add_credits(SYSTEM, org, credits.SYSTEM_ACCOUNT, 2000, entry_type="adjustment")
    commit()
    create_api_key(SYSTEM, reseller=reseller, organization=org, name="Shop")
    commit()
    agent = create_reseller_staff(reseller, role=ResellerRole.AGENT, name="Agent Smith")
    admin = create_reseller_staff(reseller, role=ResellerRole.ADMIN, name="Ada Admin")
    return org, agent, admin


def _token(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def _post(client, form_page: str, url: str, data: dict, expect: int = 302):
    """POST ``data`` to ``url`` with the CSRF token of the page at ``form_page``."""
    page = client.get(form_page)
    assert page.status_code == 200, (form_page, page.status_code)
    response = client.post(url, data={**data, "csrf_token": _token(page.text)})
    assert response.status_code == expect, (url, response.status_code, response.text[:2000])
    return response


def _log_in(client, user) -> None:
    _post(client, "/login", "/login", {"email": user.email, "password": PASSWORD})


def _visible_text(page: str) -> str:
    """What a person reads: the page without its tags, attributes, scripts and styles."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    return html.unescape(re.sub(r"(?s)<[^>]+>", " ", page))


def _act_out_the_story(client, org, agent) -> str:
    """The issue's session, as the agent does it in the portal; returns its id."""
    owner = owner_of(org)
    base = f"/organizations/{org.id}"
    _log_in(client, agent)
    _post(
        client,
        f"{base}/support/start",
        f"{base}/support/start",
        {"member": owner.id, "reason": REASON, "mode": "change"},
    )
    support_id = only_session().id
    # The profile.
    _post(
        client,
        "/profile/",
        "/profile/",
        {
            "name": "Owner Renamed",
            "mobile": "",
            "country": "ES",
            "company": "Acme",
            "language": "en",
        },
    )
    # 1,150 credits from the pool to the owner's own account.
    _post(
        client,
        f"{base}/credits/transfer",
        f"{base}/credits/transfer",
        {"source": "system", "target": f"member:{owner.id}", "credits": "1150", "agree": "y"},
    )
    # The settings.
    _post(
        client,
        f"{base}/settings",
        f"{base}/settings/configuration",
        {
            "configuration-sender_name": "ACME",
            "configuration-low_balance_alert": "yes",
            "configuration-low_balance_threshold": "100",
        },
    )
    # An admin.
    _post(
        client,
        f"{base}/members/new",
        f"{base}/members/new",
        {
            "name": "New Admin",
            "email": "new.admin@example.com",
            "mobile": "",
            "portal_access": "yes",
            "role": "admin",
        },
    )
    # An API key of the organization.
    key = db.session.scalar(select(ApiKey).where(ApiKey.organization_id == org.id))
    _post(client, f"{base}/api-keys/", f"{base}/api-keys/{key.id}/revoke", {})
    # Credits bought with a new card.
    confirm = _post(
        client,
        f"{base}/credits/purchase",
        f"{base}/credits/purchase/confirm",
        {"account": "system", "credits": "100", "payment_method": "sandbox"},
    )
    pay = confirm.headers["Location"]
    _post(client, pay, pay, {"card_number": "4242 4242 4242 4242", "expiry": "12/30"})
    # Back to the agent's own account.
    _post(client, f"{base}/", "/support/return", {})
    return support_id


def _session_changes_listed(page: str) -> list[str]:
    section = page.split('data-section="support-session-changes"', 1)[1]
    return re.findall(r'data-action="([^"]+)"', section)


def test_every_change_of_the_session_is_recorded_listed_and_counted(client, app, shop):
    org, agent, admin = shop
    support_id = _act_out_the_story(client, org, agent)

    # Recorded with the session: each change of the story, once, on the organization.
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.support_session_id == support_id)
        .order_by(AuditEntry.created_at, AuditEntry.id)
    ).all()
    actions = [e.action for e in entries]
    assert actions == ["support_session.started", *STORY_ACTIONS, "support_session.ended"]
    assert all(e.organization_id == org.id for e in entries)
    assert all(e.real_user_id == agent.id for e in entries if e.action in STORY_ACTIONS)
    transfer = next(e for e in entries if e.action == "credits.transferred")
    assert transfer.changes["credits"] == [None, 1150]

    # The session's page (the organization's and the reseller's) lists each change.
    detail = client.get(f"/organizations/{org.id}/support/{support_id}")
    assert detail.status_code == 200
    assert _session_changes_listed(detail.text) == actions
    # The Audit tab: the count matches, and each change is there too.
    audit = client.get(f"/organizations/{org.id}/audit")
    assert audit.status_code == 200
    row = audit.text.split(f'data-support-session="{support_id}"', 1)[1].split("</tr>", 1)[0]
    assert "6 changes" in row
    for action in STORY_ACTIONS:
        assert f'data-action="{action}"' in audit.text, action
    text = _visible_text(detail.text)
    assert "1,150" in text
    assert "Credits transferred" in text
    assert "Credits bought" in text

    reseller_side = app.test_client()
    _log_in(reseller_side, admin)
    listed = reseller_side.get(f"/reseller/support/{support_id}")
    assert listed.status_code == 200
    assert _session_changes_listed(listed.text) == actions
    log = reseller_side.get("/reseller/support/")
    assert "6 changes" in log.text.split(f'data-support-session="{support_id}"', 1)[1]


def test_the_session_reads_in_spanish_without_a_stored_key(client, app, shop):
    org, agent, admin = shop
    support_id = _act_out_the_story(client, org, agent)
    spanish = {"Accept-Language": "es"}
    reader = app.test_client()
    _log_in(reader, admin)
    pages = {
        "detail": reader.get(f"/reseller/support/{support_id}", headers=spanish),
        "org detail": reader.get(f"/organizations/{org.id}/support/{support_id}", headers=spanish),
        "audit": reader.get(f"/organizations/{org.id}/audit", headers=spanish),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        text = _visible_text(page.text)
        for label in (
            "Sesión de soporte iniciada",
            "Sesión de soporte terminada",
            "Perfil modificado",
            "Créditos transferidos",
            "Organización modificada",
            "Miembro agregado",
            "Créditos comprados",
            "Clave de API revocada",
            "Nombre de remitente",
            "Volvió a su cuenta",
            "Créditos del sistema",
            "1.150",
        ):
            assert label in text, (name, label)
        for raw in RAW:
            assert raw not in text, (name, raw)
    assert "6 cambios" in _visible_text(pages["audit"].text)


def test_a_transfer_and_a_withdrawal_are_audited_outside_a_session(shop):
    org, agent, _admin = shop
    member = db.session.scalar(select(Member).where(Member.organization_id == org.id))
    staff = staff_actor(org.reseller, agent)
    credits.transfer_credits(staff, org, "system", f"member:{member.id}", 30, agreed=True)
    credits.withdraw_credits(staff, org, "system", 20, reason="Before closing")
    commit()
    rows = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action.like("credits.%")).order_by(AuditEntry.id)
    ).all()
    by_action = {r.action: r for r in rows}
    assert set(by_action) == {"credits.transferred", "credits.withdrawn"}
    assert by_action["credits.transferred"].changes == {
        "credits": [None, 30],
        "from": [None, "system"],
        "to": [None, member.user.email],
    }
    assert by_action["credits.withdrawn"].changes == {
        "credits": [None, 20],
        "account": [None, "system"],
        "reason": [None, "Before closing"],
    }
    assert all(r.organization_id == org.id and r.support_session_id is None for r in rows)
