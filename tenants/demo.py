"""The demo platform: a reseller with prices and taxes, prepaid and postpaid customers with
members, a month of movements, receipts and last month's invoices — all made by the services."""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import datetime, timedelta
from decimal import Decimal

from tenants.access.actors import SYSTEM, Actor
from tenants.billing import monthly_run, payments, periods, usage
from tenants.core.types import utcnow
from tenants.credits import operations as credits
from tenants.credits import purchases
from tenants.models import Member, Organization, PlatformRole, ResellerRole
from tenants.notify import recipients
from tenants.organizations.members import add_member
from tenants.organizations.operations import (
    BillingDetails,
    NewOrganization,
    create_organization,
    update_organization,
)
from tenants.resellers import pricing
from tenants.resellers.operations import add_platform_staff, add_reseller_staff, create_reseller
from tenants.wholesale import operations as wholesale

DEMO_ORGANIZATIONS = [
    # name, country, pricing model, owner name, owner email, billing type, tax id, address
    (
        "Acme Ibérica SL",
        "ES",
        "prepaid",
        "Lucía García",
        "lucia@acme-iberica.example",
        "company",
        "B12345678",
        "Calle Mayor 1, 28013 Madrid",
    ),
    (
        "Panadería Sol",
        "ES",
        "postpaid",
        "Javier Moreno",
        "javier@panaderiasol.example",
        "individual",
        "12345678Z",
        "Avenida del Puerto 12, 46021 Valencia",
    ),
    (
        "Taquería El Güero",
        "MX",
        "prepaid",
        "Ana Hernández",
        "ana@elguero.example",
        "company",
        "TEG010203AB1",
        "Av. Insurgentes Sur 100, 03100 Ciudad de México",
    ),
    (
        "Logística Norte MX",
        "MX",
        "postpaid",
        "Carlos Ruiz",
        "carlos@lognorte.example",
        "company",
        "LNM990101XY2",
        "Blvd. Constitución 50, 64000 Monterrey",
    ),
    (
        "Brightside Dental",
        "US",
        "prepaid",
        "Emily Carter",
        "emily@brightside.example",
        "company",
        "12-3456789",
        "200 Market St, San Francisco, CA 94105",
    ),
    (
        "Harbor Freight Co",
        "US",
        "postpaid",
        "Michael Brown",
        "michael@harborfreight.example",
        "company",
        "98-7654321",
        "1 Harbor Way, Boston, MA 02110",
    ),
    (
        "Thames Florists",
        "GB",
        "prepaid",
        "Olivia Smith",
        "olivia@thamesflorists.example",
        "company",
        "GB123456789",
        "10 Riverside, London SE1 9PP",
    ),
    (
        "Oxford Tutors Ltd",
        "GB",
        "postpaid",
        "George Taylor",
        "george@oxfordtutors.example",
        "company",
        "GB987654321",
        "5 High Street, Oxford OX1 4AA",
    ),
]


# The demo reseller's wholesale lots (credits, unit cost in EUR) and low-pool alert.
DEMO_LOTS = ((200_000, Decimal("0.0200")), (150_000, Decimal("0.0185")))
DEMO_LOW_POOL = 25_000


def build_demo(password: str) -> list[tuple[str, str]]:
    """Create the demo platform with every login set to ``password``; return (role, email)."""
    logins: list[tuple[str, str]] = []

    def login(role: str, user) -> None:
        user.set_password(password)
        logins.append((role, user.email))

    admin = add_platform_staff(SYSTEM, "admin@demo.example", "Pat Admin", PlatformRole.ADMIN)
    login("Platform admin", admin.user)
    support = add_platform_staff(
        SYSTEM, "support@demo.example", "Sam Support", PlatformRole.SUPPORT
    )
    login("Support agent", support.user)

    reseller = create_reseller(SYSTEM, "Demo Telecom", default_language="en")
    r_admin = add_reseller_staff(
        SYSTEM, reseller, "reseller-admin@demo.example", "Rita Reseller", ResellerRole.ADMIN
    )
    login("Reseller admin (Demo Telecom)", r_admin.user)
    r_agent = add_reseller_staff(
        SYSTEM, reseller, "reseller-agent@demo.example", "Alex Agent", ResellerRole.AGENT
    )
    login("Reseller agent (Demo Telecom)", r_agent.user)
    staff_actor = Actor(
        user_id=r_agent.user_id, reseller_id=reseller.id, reseller_role=ResellerRole.AGENT
    )
    admin_actor = Actor(
        user_id=r_admin.user_id, reseller_id=reseller.id, reseller_role=ResellerRole.ADMIN
    )
    pricing.set_price_list(admin_actor, reseller, DEMO_PRICES)
    pricing.set_tax_rates(admin_actor, reseller, DEMO_TAX_RATES)
    # The platform sells the reseller its credits before its customers get any (SPEC §4b).
    for lot_credits, unit_cost in DEMO_LOTS:
        wholesale.add_lot(
            SYSTEM, reseller, credits=lot_credits, unit_cost=unit_cost, currency="EUR"
        )
    wholesale.set_low_pool_threshold(admin_actor, reseller, DEMO_LOW_POOL)

    for index, row in enumerate(DEMO_ORGANIZATIONS):
        _demo_organization(staff_actor, reseller, index, row, login)
    return logins


def _demo_organization(staff_actor: Actor, reseller, index: int, row: tuple, login) -> None:
    """One demo customer: its owner, an admin, a member and a field worker, a month of
    history; the first two owners and the first organization's admin and member log in."""
    name, country, model, owner, email, btype, tax_id, address = row
    org = create_organization(
        staff_actor,
        reseller,
        NewOrganization(
            name=name,
            country=country,
            pricing_model=model,
            owner_name=owner,
            owner_email=email,
            billing=BillingDetails(type=btype, name=name, address=address, tax_id=tax_id),
        ),
    )
    owner_user = recipients.owner_user(org)
    owner_user.language = "es" if country in ("ES", "MX") else "en"
    if index < 2:
        login(f"Organization owner ({name})", owner_user)
    local = email.split("@")[1]
    admin_member = add_member(
        staff_actor,
        org,
        name=f"Admin {name.split()[0]}",
        email=f"admin@{local}",
        role="admin",
        mobile="+34600000001" if country == "ES" else None,
    )
    member = add_member(
        staff_actor,
        org,
        name=f"Member {name.split()[0]}",
        email=f"member@{local}",
        role="member",
    )
    add_member(
        staff_actor,
        org,
        name=f"Field {name.split()[0]}",
        email=f"field@{local}",
        role="member",
        portal_access=False,
    )
    if index == 0:
        login(f"Organization admin ({name})", admin_member.user)
        login(f"Organization member ({name})", member.user)
    if model == "prepaid":
        _prepaid_history(
            staff_actor, org, [admin_member, member], individual=index == 0, seed=index
        )
    else:
        _postpaid_history(staff_actor, org, pay=index % 4 == 1, seed=index)


DEMO_PRICES = [
    {
        "currency": "EUR",
        "prepaid_unit_price": Decimal("0.045"),
        "postpaid_unit_price": Decimal("0.05"),
    },
    {
        "currency": "MXN",
        "prepaid_unit_price": Decimal("0.85"),
        "postpaid_unit_price": Decimal("0.95"),
    },
    {
        "currency": "USD",
        "prepaid_unit_price": Decimal("0.049"),
        "postpaid_unit_price": Decimal("0.055"),
    },
    {
        "currency": "GBP",
        "prepaid_unit_price": Decimal("0.039"),
        "postpaid_unit_price": Decimal("0.044"),
    },
]
DEMO_TAX_RATES = [
    {"country": "ES", "percent": Decimal("21")},
    {"country": "MX", "percent": Decimal("16")},
    {"country": "GB", "percent": Decimal("20")},
]


def _usage_times(seed: int, count: int) -> list[datetime]:
    """Moments spread over the last 33 days (inside the 35 days late usage may be)."""
    rng = random.Random(seed)
    now = utcnow()
    return sorted(now - timedelta(days=33 * rng.random(), minutes=5) for _ in range(count))


def _prepaid_history(
    staff: Actor, org: Organization, members: list[Member], *, individual: bool, seed: int
) -> None:
    """A bank-transfer purchase and SMS sent over the month; with individual user credits,
    transfers to the users, whose own accounts their SMS are charged to."""
    purchase = purchases.start_purchase(
        staff, org, credit_count=5000, account="system", payment_method="offline"
    )
    purchases.pay(staff, purchase, {"note": "Demo bank transfer"})
    accounts: list[str | None] = [None]
    if individual:
        update_organization(staff, org, {"individual_user_credits": True})
        accounts = [f"member:{m.id}" for m in members]
        for account in accounts:
            credits.transfer_credits(staff, org, "system", account, 1500, agreed=True)
    update_organization(
        staff,
        org,
        {
            "settings.low_balance_alert": True,
            "settings.low_balance_threshold": 500,
            "settings.sender_name": _sender_name(org.name),
        },
    )
    rng = random.Random(seed)
    for n, moment in enumerate(_usage_times(seed, 40)):
        usage.record_usage(
            staff,
            org,
            credits=rng.randint(5, 60),
            reference=f"demo-campaign-{n + 1}",
            account=accounts[n % len(accounts)],
            occurred_at=moment,
        )


def _sender_name(name: str) -> str:
    """An SMS sender id from the organization name: 11 ASCII letters, digits or spaces."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9 ]", "", ascii_name)[:11].strip()


def _postpaid_history(staff: Actor, org: Organization, *, pay: bool, seed: int) -> None:
    """SMS sent on credit, last month's invoice issued, and (for some) paid."""
    limit = Decimal("5000") if org.currency == "MXN" else Decimal("500")
    update_organization(staff, org, {"credit_limit": limit})
    rng = random.Random(seed)
    for n, moment in enumerate(_usage_times(seed, 40)):
        usage.record_usage(
            staff,
            org,
            credits=rng.randint(20, 120),
            reference=f"demo-campaign-{n + 1}",
            occurred_at=moment,
        )
    invoice = monthly_run.issue_monthly_invoice(org, periods.last_ended_period())
    if invoice is not None and pay:
        payments.record_payment(staff, org, invoice.total, reference="Demo bank transfer")
