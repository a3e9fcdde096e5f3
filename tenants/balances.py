"""What an organization holds and owes: the numbers deletion, pricing changes and lists use.

Until the ledger exists every organization holds nothing and owes nothing; the credits
and postpaid issues replace these bodies with ledger queries, keeping the signatures.
"""

from __future__ import annotations

from decimal import Decimal

from tenants.models import Organization


def organization_credits(org: Organization) -> int:
    """Credits held across the system pool and every member account."""
    return 0


def organization_debt(org: Organization) -> Decimal:
    """Unbilled charges plus unpaid invoices."""
    return Decimal("0")
