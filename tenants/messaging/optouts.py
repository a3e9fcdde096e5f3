"""Which recipients asked not to receive SMS from an organization (the contacts' opt-out list).

The hook Send SMS asks before charging; the contacts feature answers it once it exists.
"""

from __future__ import annotations

from collections.abc import Iterable


def opted_out_numbers(organization_id: str, numbers: Iterable[str]) -> set[str]:
    """The numbers among ``numbers`` (E.164) that opted out of the organization's SMS."""
    return set()
