"""A set-password link is tied to the address it was sent to."""

import pytest

from tenants.access.actors import SYSTEM
from tenants.core.errors import InvalidToken
from tenants.jobs.outbox import commit
from tenants.organizations.members import add_member, update_member
from tenants.people import passwords


def test_link_sent_to_a_mistyped_address_stops_working(create_organization):
    org = create_organization()
    member = add_member(SYSTEM, org, name="Typo Person", email="typo@exampel.com")
    commit()
    old_link_token = passwords.make_password_token(member.user, passwords.PURPOSE_INVITE)
    update_member(SYSTEM, org, member, {"email": "typo@example.com"})
    commit()
    with pytest.raises(InvalidToken):
        passwords.user_for_token(old_link_token, passwords.PURPOSE_INVITE)
    fresh = passwords.make_password_token(member.user, passwords.PURPOSE_INVITE)
    assert passwords.user_for_token(fresh, passwords.PURPOSE_INVITE).email == "typo@example.com"
