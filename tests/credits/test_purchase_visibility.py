"""Who follows which purchases and receipts: every actor kind, one member-only rule.

The ledger's rule (``sees_every_account``: admins, reseller staff, API keys and platform staff
see every account) and the invoices' former rule (a member who is not an administrator sees
only their own) pick the same purchases and receipts for everyone who reaches the
organization: a platform admin, a support agent, a reseller admin and agent, the owner, an
administrator and a member, a reseller and an organization API key, and login-as. That is
why tenants.access.scoping keeps the first one only, for purchases, receipts and the ledger.
"""

from __future__ import annotations

import pytest

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.api_keys.operations import actor_for_api_key, create_api_key
from tenants.core.errors import NotFound
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import purchases
from tenants.jobs.outbox import commit
from tenants.models import Invoice, Member, PlatformRole, ResellerRole
from tenants.support import sessions as support
from tests.conftest import member_actor, owner_of
from tests.credits.conftest import member_account

GOOD_CARD = "4242 4242 4242 4242"


def staff_actor(shop, user, role: ResellerRole) -> Actor:
    return Actor(user_id=user.id, reseller_id=shop.reseller.id, reseller_role=role)


def buy(actor: Actor, org, account: str, *, paid: bool = True):
    purchase = purchases.start_purchase(
        actor, org, credit_count=100, account=account, payment_method="sandbox"
    )
    if paid:
        purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
    commit()
    return purchase


@pytest.fixture
def world(shop, create_reseller_staff, create_platform_staff, create_organization):
    """Acme's purchases by everyone, a purchase of another customer, and every actor kind."""
    org = shop.org
    owner, admin = member_actor(shop.owner), member_actor(shop.admin)
    mel, otto = member_actor(shop.member), member_actor(shop.other)
    bought = {
        "pool": buy(owner, org, "system"),
        "mel": buy(mel, org, member_account(shop.member)),
        "mel_pending": buy(mel, org, member_account(shop.member), paid=False),
        "otto_by_admin": buy(admin, org, member_account(shop.other)),
        "otto": buy(otto, org, member_account(shop.other)),
    }
    beta = create_organization(shop.reseller, name="Beta", country="ES")
    buy(member_actor(owner_of(beta)), beta, "system")

    platform_admin = create_platform_staff(role=PlatformRole.ADMIN)
    support_agent = create_platform_staff(role=PlatformRole.SUPPORT)
    reseller_admin = create_reseller_staff(shop.reseller, role=ResellerRole.ADMIN)
    agent = staff_actor(shop, shop.staff, ResellerRole.AGENT)
    boss = staff_actor(shop, reseller_admin, ResellerRole.ADMIN)
    reseller_key, _ = create_api_key(boss, reseller=shop.reseller)
    org_key, _ = create_api_key(boss, reseller=shop.reseller, organization=org)
    commit()

    def acting_as(member: Member) -> Actor:
        session = support.start_support_session(
            agent, org, member.id, "Visibility check", authenticated_at=utcnow()
        )
        commit()
        return support.acting_actor(session)

    everything = set(bought)
    actors = {
        "platform admin": (
            Actor(user_id=platform_admin.id, platform_role=PlatformRole.ADMIN),
            everything,
        ),
        "support agent": (
            Actor(user_id=support_agent.id, platform_role=PlatformRole.SUPPORT),
            everything,
        ),
        "reseller admin": (boss, everything),
        "reseller agent": (agent, everything),
        "owner": (owner, everything),
        "admin": (admin, everything),
        "member": (mel, {"mel", "mel_pending"}),
        "other member": (otto, {"otto", "otto_by_admin"}),
        "reseller API key": (actor_for_api_key(reseller_key), everything),
        "organization API key": (actor_for_api_key(org_key), everything),
        "login-as a member": (acting_as(shop.member), {"mel", "mel_pending"}),
        "login-as the owner": (acting_as(shop.owner), everything),
    }
    return org, bought, actors


def test_every_actor_kind_follows_the_same_purchases_and_receipts(world):
    org, bought, actors = world
    for kind, (actor, expected) in actors.items():
        reached = scoping.get_organization(actor, org.id)
        members_only = (
            actor.is_member and actor.organization_id == reached.id and not actor.is_org_admin
        )
        assert scoping.sees_every_account(actor) is not members_only, kind

        followed = {p.id for p in purchases.recent_purchases(actor, reached, limit=100)}
        assert followed == {bought[name].id for name in expected}, kind

        receipts = set(
            db.session.scalars(scoping.invoices_query(actor, reached).with_only_columns(Invoice.id))
        )
        paid = {bought[name].receipt_id for name in expected if bought[name].receipt_id}
        assert receipts == paid, kind

        for name, purchase in bought.items():
            if name in expected:
                assert scoping.get_purchase(actor, reached, purchase.id) == purchase, kind
            else:
                with pytest.raises(NotFound):
                    scoping.get_purchase(actor, reached, purchase.id)
            if purchase.receipt_id and name not in expected:
                with pytest.raises(NotFound):
                    scoping.get_invoice(actor, purchase.receipt_id, reached)
            elif purchase.receipt_id:
                assert scoping.get_invoice(actor, purchase.receipt_id, reached).id == (
                    purchase.receipt_id
                ), kind
