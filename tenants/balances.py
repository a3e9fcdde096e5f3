"""What an organization holds and owes: the numbers deletion, pricing changes and lists use.

Credits come from the ledger's holding accounts; debt arrives with postpaid billing
(until then no organization owes anything).
"""

from __future__ import annotations

from decimal import Decimal

from tenants.models import Organization


def organization_credits(org: Organization) -> int:
    """Credits held across the system pool and every member account."""
    from tenants.credits import total_credits

    return total_credits(org)


def organization_debt(org: Organization) -> Decimal:
    """Unbilled charges plus unpaid invoices."""
    return Decimal("0")
