"""The member-invitations migration: a member invited before it, with portal access and no
password yet, has a pending invitation from the day they were added (its link still works);
nobody else has one."""

from __future__ import annotations

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import Member
from tenants.organizations.members import add_member, remove_member
from tenants.organizations.operations import NewOrganization, create_organization
from tenants.people import passwords
from tenants.resellers.operations import create_reseller
from tests.foundation.databases import migrate
from tests.foundation.test_migration_usage_references import portal

BEFORE = "3c8d5e1a7b92"  # the revision before invitations were kept


def test_invited_members_keep_a_pending_invitation(database, tmp_path):
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
                owner_email="owner-invites@example.com",
            ),
        )
        people = {
            name: add_member(
                SYSTEM, org, name=name, email=f"{name}@example.com", portal_access=name != "off"
            )
            for name in ("pending", "active", "off", "gone")
        }
        people["active"].user.set_password("a long password")
        remove_member(SYSTEM, org, people["gone"])
        commit()
        ids = {name: member.id for name, member in people.items()}
        created = {name: member.created_at for name, member in people.items()}
        db.session.rollback()
        db.engine.dispose()
    migrate(database, tmp_path, "downgrade", BEFORE)
    migrate(database, tmp_path, "upgrade")
    with app.app_context():
        members = {name: db.session.get(Member, member_id) for name, member_id in ids.items()}
        assert members["pending"].invited_at == created["pending"]
        assert [members[n].invited_at for n in ("active", "off", "gone")] == [None, None, None]
        assert {m.invitation_serial for m in members.values()} == {0}
        # A link sent before the migration (it names no membership) still works.
        token = passwords.make_password_token(members["pending"].user, passwords.PURPOSE_INVITE)
        assert passwords.user_for_token(token, passwords.PURPOSE_INVITE).email == (
            "pending@example.com"
        )
        db.session.rollback()
        db.engine.dispose()
