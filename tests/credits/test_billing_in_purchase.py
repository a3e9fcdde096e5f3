"""Issue 16, item 3: billing details inside the purchase flow, and the bank account (IBAN).

An admin edits the billing details between the quote and the payment and comes back to the
same order; a member buying for their own account is told whom to ask instead; the IBAN is
checked by python-stdnum, stored compact, and never shown (nor audited) in full.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.core.validation import clean_iban, mask_iban
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry, Organization
from tests.credits.conftest import credits_url, member_account

GERMAN_IBAN = "DE89 3704 0044 0532 0130 00"
GERMAN_COMPACT = "DE89370400440532013000"
BRITISH_IBAN = "GB82 WEST 1234 5698 7654 32"


def page(response) -> str:
    return response.get_data(as_text=True)


def fresh(org) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, org.id)


def audit_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))


# ---------------------------------------------------------------------------
# The IBAN itself


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("ES91 2100 0418 4502 0005 1332", "ES9121000418450200051332"),
        ("es9121000418450200051332", "ES9121000418450200051332"),
        (GERMAN_IBAN, GERMAN_COMPACT),
        ("  gb82-west-1234-5698-7654-32 ", "GB82WEST12345698765432"),
    ],
)
def test_a_valid_iban_is_stored_compact_and_upper_case(app, typed, stored):
    assert clean_iban(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "ES91 2100 0418 4502 0005 1333",  # IBAN check digits wrong
        "ES29 2100 0418 4602 0005 1332",  # right IBAN check, wrong Spanish CCC check digits
        "ES91 2100 0418 4502 0005",  # too short for Spain
        "XX91 2100 0418 4502 0005 1332",  # no such country
        "not a bank account",
        "ES91\n2100 0418 4502 0005 1332",
    ],
)
def test_an_invalid_iban_is_refused_on_its_field(app, typed):
    with pytest.raises(ValidationFailed) as refused:
        clean_iban(typed)
    assert list(refused.value.fields) == ["billing.iban"]


def test_no_iban_is_none_and_an_iban_is_masked_but_for_its_ends(app):
    assert clean_iban("") is None and clean_iban(None) is None
    assert mask_iban("ES9121000418450200051332") == "ES91 •••• •••• 1332"
    assert mask_iban(GERMAN_COMPACT) == "DE89 •••• •••• 3000"
    assert mask_iban(None) == ""


# ---------------------------------------------------------------------------
# Settings: the bank account beside the other billing details


def settings_billing(client, org, **fields):
    data = {
        "billing-billing_type": "company",
        "billing-billing_name": org.billing_name or "",
        "billing-billing_tax_id": org.billing_tax_id or "",
        **{f"billing-{name}": value for name, value in fields.items()},
    }
    return client.post(f"/organizations/{org.id}/settings/billing", data=data)


def test_settings_save_the_iban_masked_on_screen_and_in_the_audit(client, auth, shop):
    auth.login(shop.admin.user.email)
    assert settings_billing(client, shop.org, billing_iban=GERMAN_IBAN).status_code == 302
    assert fresh(shop.org).billing_iban == GERMAN_COMPACT

    html = page(client.get(f"/organizations/{shop.org.id}/settings"))
    assert "DE89 •••• •••• 3000" in html
    assert GERMAN_COMPACT not in html and GERMAN_IBAN not in html
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "organization.updated")
    ).one()
    assert entry.changes == {"billing.iban": [None, "DE89 •••• •••• 3000"]}
    audit = page(client.get(f"/organizations/{shop.org.id}/audit"))
    assert "Bank account (IBAN)" in audit and GERMAN_COMPACT not in audit


def test_an_empty_iban_field_keeps_the_saved_one_and_remove_clears_it(client, auth, shop):
    auth.login(shop.owner.user.email)
    settings_billing(client, shop.org, billing_iban=GERMAN_IBAN)
    assert settings_billing(client, shop.org, billing_name="Renamed SL").status_code == 302
    org = fresh(shop.org)
    assert (org.billing_name, org.billing_iban) == ("Renamed SL", GERMAN_COMPACT)
    assert settings_billing(client, org, remove_iban="y").status_code == 302
    assert fresh(shop.org).billing_iban is None


def test_an_invalid_iban_in_settings_is_422_and_changes_nothing(client, auth, shop):
    auth.login(shop.admin.user.email)
    before = audit_count()
    response = settings_billing(
        client,
        shop.org,
        billing_name="Should Not Stick",
        billing_iban="DE89 3704 0044 0532 0130 01",
    )
    assert response.status_code == 422
    assert "Not a valid IBAN" in page(response)
    org = fresh(shop.org)
    assert (org.billing_name, org.billing_iban) == ("Acme Billing SL", None)
    assert audit_count() == before


def test_the_api_neither_shows_nor_takes_the_iban(app, shop):
    """SPEC §7's billing object names type, name, address and tax_id: no bank account."""
    from tenants.access.actors import SYSTEM
    from tenants.api_keys.operations import create_api_key

    shop.org.billing_iban = GERMAN_COMPACT
    _key, secret = create_api_key(SYSTEM, reseller=shop.reseller, name="k")
    commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    body = api.get(f"/api/v1/organizations/{shop.org.id}", headers=headers).get_json()
    assert "iban" not in body["billing"] and GERMAN_COMPACT not in str(body)
    refused = api.patch(
        f"/api/v1/organizations/{shop.org.id}",
        json={"billing": {"iban": BRITISH_IBAN}},
        headers=headers,
    )
    assert refused.status_code == 422
    assert fresh(shop.org).billing_iban == GERMAN_COMPACT


# ---------------------------------------------------------------------------
# Inside the purchase flow


def quote_page(client, org, account="system", quantity="1000") -> str:
    response = client.post(
        credits_url(org, "purchase"), data={"account": account, "credits": quantity}
    )
    assert response.status_code == 200
    return page(response)


def edit_link(html: str) -> str:
    match = re.search(r'id="edit-billing" href="([^"]+)"', html)
    assert match, "no Edit billing details link"
    return match.group(1).replace("&amp;", "&")


def test_admin_edits_billing_details_inside_the_purchase_and_returns_to_the_same_order(
    client, auth, shop
):
    auth.login(shop.admin.user.email)
    confirm = quote_page(client, shop.org, quantity="1,000")
    assert "Acme Billing SL" in confirm and "€54.45" in confirm
    link = edit_link(confirm)
    assert parse_qs(urlsplit(link).query) == {"account": ["system"], "credits": ["1000"]}

    step = page(client.get(link))
    assert 'value="Acme Billing SL"' in step and 'value="B12345678"' in step
    assert "Save and return to the purchase" in step

    saved = client.post(
        credits_url(shop.org, "purchase/billing"),
        data={
            "account": "system",
            "credits": "1000",
            "billing_type": "company",
            "billing_name": "Acme Ibérica Facturación SL",
            "billing_address": "Calle Mayor 1\n28013 Madrid",
            "billing_tax_id": "B87654321",
            "billing_iban": GERMAN_IBAN,
        },
    )
    assert saved.status_code == 302
    back = saved.headers["Location"]
    assert urlsplit(back).path == credits_url(shop.org, "purchase/review")
    assert parse_qs(urlsplit(back).query) == {"account": ["system"], "credits": ["1000"]}

    review = page(client.get(back))
    assert "Billing details saved." in review
    assert "Confirm your purchase" in review and "€54.45" in review
    assert "Acme Ibérica Facturación SL" in review and "B87654321" in review
    assert "DE89 •••• •••• 3000" in review and GERMAN_COMPACT not in review
    org = fresh(shop.org)
    assert (org.billing_name, org.billing_tax_id, org.billing_iban) == (
        "Acme Ibérica Facturación SL",
        "B87654321",
        GERMAN_COMPACT,
    )
    # The order goes on to the payment as before.
    pay = client.post(
        credits_url(shop.org, "purchase/confirm"),
        data={"account": "system", "credits": "1000", "payment_method": "sandbox"},
    )
    assert pay.status_code == 302 and "/pay" in pay.headers["Location"]


def test_a_refused_billing_step_is_422_keeps_the_order_and_changes_nothing(client, auth, shop):
    auth.login(shop.owner.user.email)
    before = audit_count()
    response = client.post(
        credits_url(shop.org, "purchase/billing"),
        data={
            "account": "system",
            "credits": "250",
            "billing_type": "partnership",
            "billing_name": "x" * 201,
            "billing_email": "not-an-email",
            "billing_iban": "ES91 2100 0418 4502 0005 1333",
        },
    )
    html = page(response)
    assert response.status_code == 422
    assert "Not a valid IBAN" in html and "Not a valid email address." in html
    assert 'name="credits" type="hidden" value="250"' in html
    org = fresh(shop.org)
    assert (org.billing_name, org.billing_email, org.billing_iban) == (
        "Acme Billing SL",
        None,
        None,
    )
    assert audit_count() == before


def test_a_member_is_told_whom_to_ask_instead_of_the_form(client, auth, shop):
    auth.login(shop.member.user.email)
    account = member_account(shop.member)
    confirm = quote_page(client, shop.org, account=account, quantity="100")
    assert 'id="edit-billing"' not in confirm
    assert "Only your organization's admins can change the billing details." in confirm
    for person in (shop.owner.user, shop.admin.user):
        assert person.name in confirm and f"mailto:{person.email}" in confirm
    assert shop.other.user.email not in confirm  # another plain member is nobody to ask

    step = client.get(credits_url(shop.org, "purchase/billing"), query_string={"account": account})
    html = page(step)
    assert step.status_code == 200
    assert 'name="billing_name"' not in html and f"mailto:{shop.admin.user.email}" in html

    before = audit_count()
    refused = client.post(
        credits_url(shop.org, "purchase/billing"),
        data={"account": account, "credits": "100", "billing_name": "Mel's Idea SL"},
    )
    assert refused.status_code == 403
    assert fresh(shop.org).billing_name == "Acme Billing SL"
    assert audit_count() == before


def test_the_review_step_sends_a_broken_order_back_to_the_purchase_form(client, auth, shop):
    auth.login(shop.admin.user.email)
    for query in (
        {"account": "system", "credits": "abc"},
        {"account": "member:mem_01nobody0000000000000000000", "credits": "10"},
        {"account": "system", "credits": "0"},
    ):
        response = client.get(credits_url(shop.org, "purchase/review"), query_string=query)
        assert response.status_code == 302, query
        assert urlsplit(response.headers["Location"]).path == credits_url(shop.org, "purchase")
    good = client.get(
        credits_url(shop.org, "purchase/review"),
        query_string={"account": "system", "credits": "10"},
    )
    assert good.status_code == 200 and "Confirm your purchase" in page(good)


def test_another_tenants_billing_step_is_404_and_unchanged(client, auth, shop, other_reseller):
    auth.login(shop.staff.email)
    foreign = other_reseller.org
    assert client.get(credits_url(foreign, "purchase/billing")).status_code == 404
    assert client.get(credits_url(foreign, "purchase/review")).status_code == 404
    response = client.post(
        credits_url(foreign, "purchase/billing"),
        data={"account": "system", "credits": "10", "billing_type": "company", "billing_name": "X"},
    )
    assert response.status_code == 404
    assert fresh(foreign).billing_name is None
