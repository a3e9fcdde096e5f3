"""A usage reference names an organization of its reseller, checked by the database in place
of foreign keys (tenants.models.usage_references), and what it names stays."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import references
from tenants.models import Organization, UsageReference

TABLE = UsageReference.__table__


def _row(org: Organization, reference: str, **changes) -> dict:
    return {
        "organization_id": org.id,
        "reference": reference,
        "reseller_id": org.reseller_id,
        "entry_id": "ent_x",
        "created_at": utcnow(),
        **changes,
    }


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(TABLE))


def test_a_reference_of_no_organization_of_its_reseller_is_refused(create_organization):
    """An unknown organization, another reseller's organization under this reseller, or an
    unknown reseller: each refused, alone or as one row of a many-row INSERT (the batch's
    claims are one statement), and nothing of that statement is written."""
    org = create_organization()
    other = create_organization()
    assert other.reseller_id != org.reseller_id
    db.session.execute(sa.insert(TABLE).values(_row(org, "ok-1")))
    db.session.commit()
    wrongs = (
        {"organization_id": "org_01JZZZZZZZZZZZZZZZZZZZZZZZ"},
        {"organization_id": other.id},
        {"reseller_id": other.reseller_id},
        {"reseller_id": "rsl_01JZZZZZZZZZZZZZZZZZZZZZZZ"},
    )
    for wrong in wrongs:
        with pytest.raises(DatabaseError, match="names no organization of its reseller"):
            db.session.execute(sa.insert(TABLE).values(_row(org, "bad", **wrong)))
        db.session.rollback()
        rows = [_row(org, f"many-{n}") for n in range(3)] + [_row(org, "bad", **wrong)]
        with pytest.raises(DatabaseError, match="names no organization of its reseller"):
            db.session.execute(sa.insert(TABLE).values(rows))
        db.session.rollback()
        assert _count() == 1
    claims = references.claim_many([(org, "batch-1"), (other, "batch-2")])
    db.session.commit()
    assert all(claim.first for claim in claims.values())
    assert _count() == 3


def test_a_reference_is_never_moved(create_organization):
    org = create_organization()
    other = create_organization()
    db.session.execute(sa.insert(TABLE).values(_row(org, "kept")))
    db.session.commit()
    moves = (
        {"organization_id": other.id, "reseller_id": other.reseller_id},
        {"organization_id": other.id},
        {"reseller_id": other.reseller_id},
    )
    for move in moves:
        with pytest.raises(DatabaseError, match="never moved"):
            db.session.execute(sa.update(TABLE).where(TABLE.c.reference == "kept").values(move))
        db.session.rollback()
    db.session.execute(sa.update(TABLE).where(TABLE.c.reference == "kept").values(entry_id="ent_y"))
    db.session.commit()
    kept = db.session.execute(sa.select(TABLE).where(TABLE.c.reference == "kept")).one()
    assert (kept.organization_id, kept.reseller_id, kept.entry_id) == (
        org.id,
        org.reseller_id,
        "ent_y",
    )


def test_an_organization_with_references_is_never_deleted_nor_re_keyed(create_organization):
    """What a foreign key kept: the organization a reference names stays, under its id and
    reseller; its other columns still change."""
    org = create_organization()
    other = create_organization()
    db.session.execute(sa.insert(TABLE).values(_row(org, "kept")))
    db.session.commit()
    orgs = Organization.__table__
    changes = (
        sa.delete(orgs).where(orgs.c.id == org.id),
        sa.update(orgs).where(orgs.c.id == org.id).values(id="org_01JZZZZZZZZZZZZZZZZZZZZZZZ"),
        sa.update(orgs).where(orgs.c.id == org.id).values(reseller_id=other.reseller_id),
    )
    for change in changes:
        with pytest.raises(DatabaseError, match="never deleted nor re-keyed"):
            db.session.execute(change)
        db.session.rollback()
    db.session.execute(
        sa.update(orgs)
        .where(orgs.c.id == org.id)
        .values(name="Renamed", reseller_id=org.reseller_id)
    )
    db.session.commit()
    assert db.session.get(Organization, org.id).name == "Renamed"
