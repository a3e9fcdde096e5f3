"""The ONE place that limits queries to the current tenant: another tenant's record is a 404."""

from __future__ import annotations

import functools
import logging

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, or_, select

from tenants.access.actors import SYSTEM, Actor
from tenants.access.policy import Permission, can
from tenants.core.bulk import one_of
from tenants.core.errors import Forbidden, NotFound
from tenants.core.extensions import db
from tenants.core.types import is_record_id
from tenants.models import (
    AccountKind,
    AuditEntry,
    CreditAccount,
    Invoice,
    LedgerEntry,
    Member,
    Organization,
    OrganizationStatus,
    Payment,
    Purchase,
    Reseller,
    ResellerStaff,
)
from tenants.models.ledger import HOLDING_KINDS, AccountRef

log = logging.getLogger(__name__)


def _describe(actor: Actor) -> str:
    if actor.api_key_id:
        return f"api_key={actor.api_key_id}"
    parts = [f"user={actor.user_id}"]
    if actor.real_user_id:
        parts.append(f"real_user={actor.real_user_id}")
    if actor.reseller_id:
        parts.append(f"reseller={actor.reseller_id}")
    if actor.organization_id:
        parts.append(f"organization={actor.organization_id}")
    return " ".join(parts)


def not_found(actor: Actor, model, record_id) -> NotFound:
    """The 404 for a record the actor may not see; when the record does exist (under another
    tenant, or out of the actor's reach), the attempt is logged. Only the not-found path
    pays for the extra lookup."""
    if isinstance(record_id, str) and record_id:
        exists = db.session.scalar(select(model.id).where(model.id == record_id))
        if exists is not None:
            log.warning(
                "Out-of-scope %s %s requested by %s",
                model.__tablename__,
                record_id,
                _describe(actor),
            )
    return NotFound()


def get_one(actor: Actor, query: Select, model, record_id):
    """The one record of ``model`` with ``record_id`` that ``query`` (a scoped query of the
    actor's) finds, else NotFound — the same for a malformed id, a missing record and one
    out of the actor's reach (logged by not_found)."""
    if not is_record_id(record_id):
        raise NotFound()
    found = db.session.scalar(query.where(model.id == record_id))
    if found is None:
        raise not_found(actor, model, record_id)
    return found


def _organization_scope(actor: Actor) -> str:
    """Which organizations the actor may see: ``all``, its ``reseller``'s, its own
    ``organization``, or ``none``."""
    if actor is SYSTEM or actor.is_platform:
        return "all"
    if actor.is_reseller_staff or (actor.is_api and actor.organization_id is None):
        return "reseller"
    if actor.organization_id:
        return "organization"
    return "none"


def _scoped(query: Select, scope: str, reseller_id, organization_id, columns=None) -> Select:
    columns = columns if columns is not None else Organization
    if scope == "reseller":
        return query.where(columns.reseller_id == reseller_id)
    if scope == "organization":
        return query.where(columns.id == organization_id)
    if scope == "none":
        return query.where(false())
    return query


def organizations_query(actor: Actor, *, include_deleted: bool = False) -> Select:
    """Organizations the actor may see, as a query to refine (filters, pagination)."""
    query = select(Organization)
    if not include_deleted:
        query = query.where(Organization.status != OrganizationStatus.DELETED)
    return _scoped(query, _organization_scope(actor), actor.reseller_id, actor.organization_id)


def _rows_query(columns: tuple, which, scope: str, reseller_id, organization_id) -> Select:
    """``columns`` of the organizations ``which`` names in ``scope`` (deleted ones left out):
    the table's columns, not the mapped class's attributes, a Core query, no ORM loading."""
    table = Organization.__table__
    query = select(*(table.c[name] for name in columns)).where(
        which, table.c.status != OrganizationStatus.DELETED
    )
    return _scoped(query, scope, reseller_id, organization_id, table.c)


@functools.cache
def _organization_row_query(scope: str, columns: tuple[str, ...]) -> Select:
    """Built once per scope and columns, with bound parameters: its compiled form is reused."""
    which = Organization.__table__.c.id == bindparam("id")
    return _rows_query(columns, which, scope, bindparam("reseller"), bindparam("organization"))


def organization_row_query(
    actor: Actor, organization_id: str, columns: tuple[str, ...]
) -> tuple[Select, dict]:
    """The query of organization_row and its parameters, for a caller that reads the row
    within a statement of its own (tenants.credits.references.claim_in_organization)."""
    return _organization_row_query(_organization_scope(actor), columns), {
        "id": organization_id,
        "reseller": actor.reseller_id,
        "organization": actor.organization_id,
    }


def organization_rows_query(
    actor: Actor, organization_ids: set[str], columns: tuple[str, ...]
) -> Select:
    """The organizations among ``organization_ids`` the actor may see, to read as read-only
    rows of ``columns`` (no ORM objects): a batch's hot path (the API's batch usage)."""
    which = one_of(Organization.__table__.c.id, sorted(organization_ids))
    scope = _organization_scope(actor)
    return _rows_query(columns, which, scope, actor.reseller_id, actor.organization_id)


def organization_row(actor: Actor, organization_id: str, columns: tuple[str, ...]):
    """The organization as a read-only row of ``columns`` (no ORM object), for a hot path
    (the API's usage charge); the same scope and 404 as get_organization."""
    if not isinstance(organization_id, str) or len(organization_id) > 40:
        raise NotFound()
    row = db.session.execute(*organization_row_query(actor, organization_id, columns)).first()
    if row is None:
        raise not_found(actor, Organization, organization_id)
    return row


def get_organization(actor: Actor, organization_id: str, *, include_deleted: bool = False):
    """The organization if the actor may see it, else NotFound — whether or not it exists."""
    if not isinstance(organization_id, str) or len(organization_id) > 40:
        raise NotFound()
    org = db.session.scalar(
        organizations_query(actor, include_deleted=include_deleted).where(
            Organization.id == organization_id
        )
    )
    if org is None:
        raise not_found(actor, Organization, organization_id)
    return org


def members_query(actor: Actor, organization: Organization) -> Select:
    """Current members of an organization the actor already reached through get_organization."""
    query = select(Member).where(
        Member.organization_id == organization.id,
        Member.reseller_id == organization.reseller_id,
        Member.removed_at.is_(None),
    )
    if actor.is_member and actor.organization_id == organization.id and not actor.is_org_admin:
        # A plain member sees only their own membership.
        query = query.where(Member.id == actor.member_id)
    return query


def get_member(actor: Actor, organization: Organization, member_id: str) -> Member:
    if not isinstance(member_id, str) or len(member_id) > 40:
        raise NotFound()
    member = db.session.scalar(members_query(actor, organization).where(Member.id == member_id))
    if member is None:
        raise not_found(actor, Member, member_id)
    return member


def audit_entries_query(actor: Actor, organization: Organization) -> Select:
    """Audit entries of an organization the actor already reached through get_organization
    (the Audit page asks VIEW_AUDIT first)."""
    return select(AuditEntry).where(
        AuditEntry.organization_id == organization.id,
        AuditEntry.reseller_id == organization.reseller_id,
    )


def invoices_query(actor: Actor, organization: Organization) -> Select:
    """Invoices and receipts of an organization the actor already reached through
    get_organization; a plain member gets only the receipts of their own purchases."""
    query = select(Invoice).where(
        Invoice.organization_id == organization.id,
        Invoice.reseller_id == organization.reseller_id,
    )
    if not sees_every_account(actor):
        own = select(Purchase.receipt_id).where(
            Purchase.organization_id == organization.id,
            Purchase.receipt_id.is_not(None),
            _own_purchases(actor),
        )
        query = query.where(Invoice.id.in_(own))
    return query


def get_invoice(actor: Actor, invoice_id: str, organization: Organization | None = None) -> Invoice:
    """An invoice or receipt the actor may see (of ``organization`` when given), else
    NotFound. Invoices of deleted organizations stay reachable: they are kept for
    accounting."""
    if not isinstance(invoice_id, str) or len(invoice_id) > 40:
        raise NotFound()
    org_id = db.session.scalar(select(Invoice.organization_id).where(Invoice.id == invoice_id))
    if org_id is None or (organization is not None and org_id != organization.id):
        raise not_found(actor, Invoice, invoice_id)
    org = organization or get_organization(actor, org_id, include_deleted=True)
    invoice = db.session.scalar(invoices_query(actor, org).where(Invoice.id == invoice_id))
    if invoice is None:
        raise not_found(actor, Invoice, invoice_id)
    return invoice


# -- credits: which accounts, purchases and receipts an actor reads ------------------


def sees_every_account(actor: Actor) -> bool:
    """Admins, reseller staff and platform staff read every account of an organization; a
    plain member (login-as included) reads their own account, purchases and receipts only.
    The one member-only rule of credits, purchases and receipts."""
    return can(actor, Permission.MANAGE_CREDITS) or actor.is_platform


def visible_accounts(actor: Actor, org: Organization) -> ColumnElement[bool]:
    """The WHERE clause limiting postings to the holding accounts the actor may manage."""
    holding = LedgerEntry.balance_after.is_not(None)
    if sees_every_account(actor):
        return holding
    if actor.member_id and actor.organization_id == org.id:
        return and_(
            holding,
            LedgerEntry.account_kind == AccountKind.MEMBER,
            LedgerEntry.member_id == actor.member_id,
        )
    return false()


def may_see_account(actor: Actor, org: Organization, ref: AccountRef) -> bool:
    """Whether the actor may read one holding account of an organization it reached."""
    if sees_every_account(actor):
        return True
    return (
        ref.kind == AccountKind.MEMBER
        and ref.member_id == actor.member_id
        and actor.organization_id == org.id
    )


def visible_holding_accounts(actor: Actor, org: Organization) -> ColumnElement[bool]:
    """visible_accounts for the accounts themselves: the WHERE clause limiting an
    organization's credit accounts to the holding accounts the actor may read."""
    if sees_every_account(actor):
        return CreditAccount.kind.in_(HOLDING_KINDS)
    if actor.member_id and actor.organization_id == org.id:
        return and_(
            CreditAccount.kind == AccountKind.MEMBER,
            CreditAccount.member_id == actor.member_id,
        )
    return false()


def get_holding_account(actor: Actor, org: Organization, value) -> AccountRef:
    """The holding account ``value`` names (``system`` or ``member:<id>``, members removed
    since included: their history stays) if the actor may read it. Anything that is not an
    account of this organization is NotFound; one of its accounts the actor may not read is
    Forbidden, as the logs' account filter answers."""
    ref = AccountRef.parse(value)
    if ref is None or value in (None, ""):
        raise NotFound()
    if ref.kind == AccountKind.MEMBER:
        if not is_record_id(ref.member_id):
            raise NotFound()
        member = db.session.scalar(
            select(Member.id).where(
                Member.id == ref.member_id,
                Member.organization_id == org.id,
                Member.reseller_id == org.reseller_id,
            )
        )
        if member is None:
            raise not_found(actor, Member, ref.member_id)
    if not may_see_account(actor, org, ref):
        raise Forbidden()
    return ref


def transfer_recipients_query(actor: Actor, organization: Organization) -> Select:
    """Current members of an organization the actor reached whose accounts it may transfer
    credits into: every one of them (a plain member, who moves credits out of their own
    account to a colleague, is shown the names to choose from, not their balances)."""
    return select(Member).where(
        Member.organization_id == organization.id,
        Member.reseller_id == organization.reseller_id,
        Member.removed_at.is_(None),
    )


def _own_purchases(actor: Actor) -> ColumnElement[bool]:
    """A plain member's purchases: for their own account, or made by them."""
    return or_(
        Purchase.account == f"member:{actor.member_id}",
        Purchase.created_by_user_id == actor.user_id,
    )


def purchases_query(actor: Actor, organization: Organization) -> Select:
    """Purchases of an organization the actor already reached through get_organization; a
    plain member follows only their own."""
    query = select(Purchase).where(
        Purchase.organization_id == organization.id,
        Purchase.reseller_id == organization.reseller_id,
    )
    if not sees_every_account(actor):
        query = query.where(_own_purchases(actor))
    return query


def get_purchase(actor: Actor, organization: Organization, purchase_id: str) -> Purchase:
    """A purchase of the organization the actor may follow, else NotFound."""
    if not isinstance(purchase_id, str) or len(purchase_id) > 40:
        raise NotFound()
    purchase = db.session.scalar(
        purchases_query(actor, organization).where(Purchase.id == purchase_id)
    )
    if purchase is None:
        raise not_found(actor, Purchase, purchase_id)
    return purchase


def get_payment(actor: Actor, organization: Organization, payment_id: str) -> Payment:
    """A payment of an organization the actor already reached through get_organization,
    else NotFound (another organization's payment too)."""
    if not isinstance(payment_id, str) or len(payment_id) > 40:
        raise NotFound()
    payment = db.session.scalar(
        select(Payment).where(
            Payment.id == payment_id,
            Payment.organization_id == organization.id,
            Payment.reseller_id == organization.reseller_id,
        )
    )
    if payment is None:
        raise not_found(actor, Payment, payment_id)
    return payment


def resellers_query(actor: Actor) -> Select:
    query = select(Reseller)
    if actor is SYSTEM or actor.is_platform:
        return query
    if actor.reseller_id:
        return query.where(Reseller.id == actor.reseller_id)
    return query.where(False)


def get_reseller(actor: Actor, reseller_id: str) -> Reseller:
    if not isinstance(reseller_id, str) or len(reseller_id) > 40:
        raise NotFound()
    reseller = db.session.scalar(resellers_query(actor).where(Reseller.id == reseller_id))
    if reseller is None:
        raise not_found(actor, Reseller, reseller_id)
    return reseller


def reseller_staff_query(actor: Actor, reseller: Reseller) -> Select:
    """Staff of a reseller the actor already reached through get_reseller."""
    get_reseller(actor, reseller.id)
    return select(ResellerStaff).where(ResellerStaff.reseller_id == reseller.id)


def get_reseller_staff(actor: Actor, reseller: Reseller, staff_id: str) -> ResellerStaff:
    if not isinstance(staff_id, str) or len(staff_id) > 40:
        raise NotFound()
    staff = db.session.scalar(
        reseller_staff_query(actor, reseller).where(ResellerStaff.id == staff_id)
    )
    if staff is None:
        raise not_found(actor, ResellerStaff, staff_id)
    return staff
