"""The guided close-out (SPEC §2): what an organization still holds, owes or has not been
invoiced for, and the refusals that keep it from being deleted — or its currency and
pricing model from changing — until all of it is zero."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import format_currency
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from tenants.billing.summary import Position, postpaid_position
from tenants.core.errors import BalanceNotZero, OutstandingDebt
from tenants.core.extensions import db
from tenants.core.types import round_money
from tenants.credits import ledger
from tenants.credits.movements import account_label, member_names
from tenants.models import (
    AccountKind,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Member,
    Organization,
    OrganizationStatus,
    PricingModel,
)


@dataclass(frozen=True)
class HeldAccount:
    """One credit account of the statement: ``value`` as the withdraw form names it."""

    value: str
    label: str
    credits: int


@dataclass(frozen=True)
class CloseOut:
    """The statement the delete page shows."""

    org: Organization
    accounts: list[HeldAccount]
    position: Position
    open_invoices: list[Invoice] = field(default_factory=list)

    @property
    def postpaid(self) -> bool:
        return self.org.pricing_model == PricingModel.POSTPAID

    @property
    def credits_held(self) -> int:
        return sum(account.credits for account in self.accounts)

    @property
    def suspended(self) -> bool:
        return self.org.status == OrganizationStatus.SUSPENDED

    @property
    def can_issue_final_invoice(self) -> bool:
        """Something is unbilled and nothing more can be charged."""
        return self.postpaid and self.suspended and self.position.unbilled_any

    @property
    def clear(self) -> bool:
        """Nothing held, owed, unbilled or paid ahead: the organization may be deleted."""
        return self.credits_held == 0 and not self.position.owed_or_ahead


def _accounts(org: Organization) -> list[HeldAccount]:
    """The system pool, then every member account with its credits: each current member's
    while individual credits are on, and any other that holds credits (a removed member's)."""
    held = ledger.balance(org)
    credits = dict(held.users)
    shown = [member_id for member_id, count in held.users if count]
    if org.individual_user_credits:
        shown += db.session.scalars(
            select(Member.id).where(Member.organization_id == org.id, Member.removed_at.is_(None))
        )
    names = member_names(org) if shown else {}
    members = sorted(set(shown), key=lambda member_id: (names.get(member_id, ""), member_id))
    return [
        HeldAccount("system", account_label(AccountKind.SYSTEM), held.system_credits),
        *(
            HeldAccount(
                f"member:{member_id}",
                account_label(AccountKind.MEMBER, names.get(member_id, member_id)),
                credits.get(member_id, 0),
            )
            for member_id in members
        ),
    ]


def open_invoices(org: Organization) -> list[Invoice]:
    return list(
        db.session.scalars(
            select(Invoice)
            .where(
                Invoice.organization_id == org.id,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status == InvoiceStatus.OPEN,
            )
            .order_by(Invoice.issued_at, Invoice.sequence)
        )
    )


def close_out(org: Organization) -> CloseOut:
    """The organization's statement of accounts, unbilled usage and open invoices."""
    position = postpaid_position(org)
    invoices = open_invoices(org) if position.open_invoices else []
    return CloseOut(org, _accounts(org), position, invoices)


def _money(amount: Decimal, org: Organization) -> str:
    return format_currency(round_money(amount, org.currency), org.currency)


def require_nothing_held(org: Organization) -> None:
    """Refuse (409) deleting an organization that holds credits (``balance_not_zero``), or
    has anything unbilled, owed or paid ahead (``outstanding_debt``), each refusal saying
    what to do first."""
    credits = ledger.total_credits(org)
    if credits:
        raise BalanceNotZero()
    position = postpaid_position(org)
    if position.unbilled_any:
        raise OutstandingDebt(
            _l(
                "The organization has unbilled usage of %(amount)s with its tax. Suspend it, "
                "issue the final invoice and record its payment before deleting it.",
                amount=_money(position.unbilled + position.unbilled_tax, org),
            )
        )
    if position.open_invoices:
        raise OutstandingDebt(
            _l(
                "The organization owes %(amount)s on open invoices. Record their payment "
                "before deleting it.",
                amount=_money(position.open_invoices, org),
            )
        )
    if position.credit_on_account:
        raise OutstandingDebt(
            _l(
                "The organization has a credit on account of %(amount)s that no invoice has "
                "used. Refund it and void the payment before deleting the organization.",
                amount=_money(position.credit_on_account, org),
            )
        )


def require_settled_for(org: Organization, path: str) -> None:
    """Refuse (409) changing the currency or the pricing model (``path``) while the
    organization holds credits (``balance_not_zero``) or has anything owed, unbilled or
    paid ahead (``outstanding_debt``); the message goes on the field."""
    if ledger.total_credits(org):
        message = _l(
            "The currency and the pricing model can only change while the organization "
            "holds no credits. Withdraw them first."
        )
        raise BalanceNotZero(message, fields={path: str(message)})
    if postpaid_position(org).owed_or_ahead:
        message = _l(
            "The currency and the pricing model can only change while nothing is owed, "
            "unbilled or paid ahead: the Payment section shows what is left to settle."
        )
        raise OutstandingDebt(message, fields={path: str(message)})


def settled(org: Organization) -> bool:
    """Nothing held, owed, unbilled or paid ahead (the currency and pricing model may
    change)."""
    return not ledger.total_credits(org) and not postpaid_position(org).owed_or_ahead
