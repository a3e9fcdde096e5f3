"""The demo platform: one reseller, organizations of both pricing models, their members."""

from __future__ import annotations

from tenants.actors import SYSTEM, Actor
from tenants.members import add_member
from tenants.models import PlatformRole, ResellerRole
from tenants.organizations import BillingDetails, NewOrganization, create_organization
from tenants.resellers import add_platform_staff, add_reseller_staff, create_reseller

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

    for index, (name, country, model, owner, email, btype, tax_id, address) in enumerate(
        DEMO_ORGANIZATIONS
    ):
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
        owner_user = org_owner_user(org)
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
    return logins


def org_owner_user(org):
    from sqlalchemy import select

    from tenants.extensions import db
    from tenants.models import Member, MemberRole, User

    return db.session.scalar(
        select(User)
        .join(Member, Member.user_id == User.id)
        .where(Member.organization_id == org.id, Member.role == MemberRole.OWNER)
    )
