"""The usage-references migration on a ledger that already charged a reference twice: it
keeps the first charge per (organization, reference) and never fails on the others."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app import create_app
from tenants.access.actors import SYSTEM
from tenants.billing.usage import record_usage
from tenants.core.extensions import db
from tenants.core.types import new_id
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import EntryType, LedgerEntry, Organization, UsageReference
from tenants.models.ledger import SYSTEM_ACCOUNT
from tenants.organizations.operations import NewOrganization, create_organization
from tests.conftest import reseller_with_pool
from tests.foundation.databases import migrate

BEFORE = "28cddac43cbe"  # the revision before usage references


def portal(url: str, tmp_path):
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "REDIS_URL": None,
            "MAIL_SERVER": None,
        }
    )


def _organization(reseller, name: str):
    org = create_organization(
        SYSTEM,
        reseller,
        NewOrganization(
            name=name,
            country="ES",
            pricing_model="prepaid",
            owner_name="Owner Person",
            owner_email=f"owner-{new_id('x')[-8:].lower()}@example.com",
        ),
    )
    credits.add_credits(SYSTEM, org, SYSTEM_ACCOUNT, 100)
    return org


def _charged_again(entry_id: str, shift: timedelta) -> str:
    """A copy of a usage entry ``shift`` later (or earlier): the same reference charged again,
    as a ledger written before this revision may hold."""
    table = LedgerEntry.__table__
    row = dict(db.session.execute(sa.select(table).where(table.c.id == entry_id)).mappings().one())
    row.update(id=new_id("ent"), transaction_id=new_id("txn"), created_at=row["created_at"] + shift)
    db.session.execute(sa.insert(table), row)
    return row["id"]


def test_the_migration_keeps_the_first_charge_of_a_reference_charged_twice(database, tmp_path):
    app = portal(database, tmp_path)
    with app.app_context():
        reseller = reseller_with_pool("Reseller A")
        acme, beta = _organization(reseller, "Acme"), _organization(reseller, "Beta")
        charged = {
            (org.id, reference): record_usage(SYSTEM, org, credits=5, reference=reference).entry.id
            for org, reference in ((acme, "r1"), (acme, "r2"), (beta, "r1"))
        }
        commit()
        acme_id = acme.id
        earliest = _charged_again(charged[(acme_id, "r1")], -timedelta(days=1))
        _charged_again(charged[(acme_id, "r1")], timedelta(days=1))
        commit()
        db.engine.dispose()
    migrate(database, tmp_path, "downgrade", BEFORE)
    migrate(database, tmp_path, "upgrade")  # never fails on the repeated reference
    with app.app_context():
        kept = {
            (row.organization_id, row.reference): row.entry_id
            for row in db.session.scalars(sa.select(UsageReference))
        }
        assert kept == {**charged, (acme_id, "r1"): earliest}
        # A repeat now answers with the first charge and charges nothing.
        again = record_usage(
            SYSTEM, db.session.get(Organization, acme_id), credits=5, reference="r1"
        )
        assert (again.duplicate, again.entry.id) == (True, earliest)
        usage = sa.select(sa.func.count()).where(LedgerEntry.type == EntryType.USAGE)
        assert db.session.scalar(usage) == 3 * 2 + 2  # two postings a charge, and the copies
        db.session.rollback()
        db.engine.dispose()
