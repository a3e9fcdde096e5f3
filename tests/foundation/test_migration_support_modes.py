"""The support-modes migration: sessions recorded before modes existed could change anything,
so they become ``change``; a session inserted afterwards without a mode is ``view``."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.core.types import new_id, utcnow
from tenants.jobs.outbox import commit
from tenants.models import Member, MemberRole, SupportMode, SupportSession
from tenants.organizations.operations import NewOrganization, create_organization
from tenants.people.users import get_or_create_user
from tenants.resellers.operations import create_reseller
from tests.foundation.databases import migrate
from tests.foundation.test_migration_usage_references import portal

BEFORE = "e5a1d2c3b4f6"  # the revision before support modes


def _session_row(org_id: str, member_id: str, staff_id: str, reseller_id: str) -> dict:
    now = utcnow()
    return {
        "id": new_id("sup"),
        "reseller_id": reseller_id,
        "organization_id": org_id,
        "member_id": member_id,
        "staff_user_id": staff_id,
        "reason": "Ticket",
        "started_at": now,
        "expires_at": now + timedelta(minutes=30),
    }


def test_sessions_before_modes_become_change_and_new_ones_default_to_view(database, tmp_path):
    app = portal(database, tmp_path)
    with app.app_context():
        reseller = create_reseller(SYSTEM, "Reseller A")
        org = create_organization(
            SYSTEM,
            reseller,
            NewOrganization(
                name="Acme",
                country="ES",
                pricing_model="prepaid",
                owner_name="Owner Person",
                owner_email="owner-modes@example.com",
            ),
        )
        staff, _new = get_or_create_user("agent-modes@example.com", "Agent")
        commit()
        owner = db.session.scalar(
            sa.select(Member).where(
                Member.organization_id == org.id, Member.role == MemberRole.OWNER
            )
        )
        ids = (org.id, owner.id, staff.id, reseller.id)
        db.session.rollback()
        db.engine.dispose()
    migrate(database, tmp_path, "downgrade", BEFORE)
    old = _session_row(*ids)
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        conn.execute(sa.table("support_sessions", *map(sa.column, old)).insert(), [old])
    migrate(database, tmp_path, "upgrade")
    new = _session_row(*ids)
    with engine.begin() as conn:
        conn.execute(sa.table("support_sessions", *map(sa.column, new)).insert(), [new])
    engine.dispose()
    with app.app_context():
        modes = {row.id: row.mode for row in db.session.scalars(sa.select(SupportSession))}
        assert modes == {old["id"]: SupportMode.CHANGE, new["id"]: SupportMode.VIEW}
        db.session.rollback()
        db.engine.dispose()
