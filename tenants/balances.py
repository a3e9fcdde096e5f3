"""What an organization holds and owes: the numbers deletion, pricing changes and lists use.

Credits come from the ledger's holding accounts; debt from the postpaid account row
(tenants.billing.postpaid).
"""

from __future__ import annotations

from decimal import Decimal

from tenants.models import Organization


def organization_credits(org: Organization) -> int:
    """Credits held across the system pool and every member account."""
    from tenants.credits.ledger import total_credits

    return total_credits(org)


def organization_debt(org: Organization) -> Decimal:
    """Unbilled charges plus unpaid invoices (less payments received ahead of invoices)."""
    from tenants.billing.postpaid import organization_debt as postpaid_debt

    return postpaid_debt(org)
