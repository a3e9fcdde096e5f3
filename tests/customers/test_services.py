"""The organization services' contract, as the API calls them."""

from __future__ import annotations

import pytest

from tenants.core.errors import (
    BalanceNotZero,
    Conflict,
    Forbidden,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry
from tenants.organizations import listing
from tenants.organizations import operations as organizations
from tests.conftest import member_actor, staff_actor


@pytest.fixture
def staff(reseller, agent):
    return staff_actor(reseller, agent)


def test_update_returns_before_after_and_audits(staff, reseller, create_organization):
    org = create_organization(reseller, name="Acme")
    changes = organizations.update_organization(
        staff,
        org,
        {"name": "Acme 2", "billing.name": "Acme Billing", "settings.low_balance_threshold": 500},
    )
    assert changes == {
        "name": ["Acme", "Acme 2"],
        "billing.name": [None, "Acme Billing"],
        "settings.low_balance_threshold": [0, 500],
    }
    entry = db.session.scalars(
        db.select(AuditEntry).where(AuditEntry.action == "organization.updated")
    ).one()
    assert entry.changes == changes and entry.actor_user_id == staff.user_id


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"settings.low_balance_threshold": "500"}, "settings.low_balance_threshold"),
        ({"settings.low_balance_threshold": -1}, "settings.low_balance_threshold"),
        ({"settings.low_balance_threshold": 10**12 + 1}, "settings.low_balance_threshold"),
        ({"settings.low_balance_threshold": True}, "settings.low_balance_threshold"),
        ({"settings.low_balance_alert": "yes"}, "settings.low_balance_alert"),
        ({"settings.notification_mobile": "12345"}, "settings.notification_mobile"),
        ({"settings.alert_email": "nope"}, "settings.alert_email"),
        ({"country": "XX"}, "country"),
        ({"currency": "ABCD"}, "currency"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"name": ""}, "name"),
        ({"name": "x" * 10_000}, "name"),
        ({"credit_limit": 1.5}, "credit_limit"),
        ({"credit_limit": "-1"}, "credit_limit"),
        ({"credit_limit": "1.001"}, "credit_limit"),
        ({"billing.type": "alien"}, "billing.type"),
        ({"auto_top_up.enabled": True}, "auto_top_up.credits"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_update_refuses_bad_values_and_changes_nothing(
    staff, reseller, create_organization, values, path
):
    org = create_organization(reseller, name="Acme")
    with pytest.raises(ValidationFailed) as error:
        organizations.update_organization(staff, org, {"name": "Changed", **values})
    assert path in error.value.fields
    db.session.rollback()
    db.session.refresh(org)
    assert org.name == "Acme"


def test_org_admin_may_edit_settings_but_not_general_or_terms(
    reseller, create_organization, create_member
):
    org = create_organization(reseller)
    admin = member_actor(create_member(org, role="admin"))
    organizations.update_organization(admin, org, {"billing.tax_id": "B1"})
    for values in ({"name": "x"}, {"credit_limit": "5"}, {"individual_user_credits": True}):
        with pytest.raises(Forbidden):
            organizations.update_organization(admin, org, values)


def test_pricing_model_and_currency_change_locked_by_credits(
    staff, reseller, create_organization, hold_credits
):
    org = create_organization(reseller)
    organizations.update_organization(staff, org, {"pricing_model": "postpaid"})
    organizations.update_organization(staff, org, {"pricing_model": "prepaid"})
    commit()
    hold_credits(org, 5)
    for values, path in (
        ({"pricing_model": "postpaid"}, "pricing_model"),
        ({"currency": "USD"}, "currency"),
    ):
        with pytest.raises(BalanceNotZero) as error:
            organizations.update_organization(staff, org, values)
        assert error.value.code == "balance_not_zero" and error.value.status == 409
        assert "Withdraw them first" in error.value.fields[path]
    # The same values change nothing: allowed.
    organizations.update_organization(staff, org, {"currency": "EUR", "pricing_model": "prepaid"})


def test_delete_refused_while_credits_remain_then_allowed(
    staff, reseller, create_organization, hold_credits
):
    org = create_organization(reseller)
    hold_credits(org, 1)
    with pytest.raises(BalanceNotZero):
        organizations.delete_organization(staff, org)
    empty = create_organization(reseller)
    organizations.delete_organization(staff, empty)
    assert empty.deleted_at is not None
    with pytest.raises(Conflict):
        organizations.delete_organization(staff, empty)


def test_lifecycle_is_refused_to_org_admins_and_support_sessions(
    staff, reseller, create_organization, create_member
):
    org = create_organization(reseller)
    admin = member_actor(create_member(org, role="admin"))
    with pytest.raises(Forbidden):
        organizations.suspend_organization(admin, org, "x")
    with pytest.raises(Forbidden):
        organizations.delete_organization(admin, org)


def test_list_keyset_pages_cover_everything_once(staff, reseller, create_organization):
    created = {create_organization(reseller, name=f"Org {i:02d}").id for i in range(7)}
    seen, cursor = [], None
    while True:
        page, cursor = listing.list_organizations(staff, limit=3, cursor=cursor)
        seen += [o.id for o in page]
        if cursor is None:
            break
    assert len(seen) == 7 and set(seen) == created


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "10"},
        {"cursor": "not-base64!"},
        {"cursor": "e30"},
        {"status": "deleted"},
        {"pricing_model": "free"},
        {"low_balance": "maybe"},
        {"q": "x" * 201},
    ],
)
def test_list_refuses_bad_parameters(staff, kwargs):
    with pytest.raises(ValidationFailed):
        listing.list_organizations(staff, **kwargs)


def test_search_follows_the_owner_email_through_ownership_and_email_changes(
    create_reseller, create_organization, create_member
):
    from tenants.access.actors import SYSTEM
    from tenants.jobs.outbox import commit
    from tenants.organizations.listing import list_organizations
    from tenants.organizations.members import update_member
    from tenants.organizations.ownership import transfer_ownership

    reseller = create_reseller()
    org = create_organization(reseller=reseller, owner_email="first.owner@alpha.example")
    successor = create_member(org, email="second.owner@beta.example")

    def found(term: str) -> list[str]:
        items, _cursor = list_organizations(SYSTEM, q=term)
        return [o.id for o in items]

    assert found("first.owner@alpha") == [org.id]
    transfer_ownership(SYSTEM, org, successor, reason="support case")
    commit()
    assert found("first.owner@alpha") == []
    assert found("second.owner@beta") == [org.id]
    update_member(SYSTEM, org, successor, {"email": "renamed.owner@gamma.example"})
    commit()
    assert found("second.owner@beta") == []
    assert found("RENAMED.owner") == [org.id]
