"""The reseller-wide 30-day log with its filters: organization, who, type, dates, reference.

Everything starts from ``movements.reseller_movements_query`` (the reseller's own customers
through tenants.access.scoping), so a filter can only narrow what the staff member already sees;
the keyset order (occurred_at, id) is kept for pagination.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.credits import movements
from tenants.credits.export_rows import iter_movement_rows
from tenants.models import EntryType, LedgerEntry, Organization, User

MAX_TEXT = 100


@dataclass(frozen=True)
class LogFilters:
    organization: str | None = None  # an organization's id, or part of its name
    person: str | None = None  # an email, or part of a name or email, of who did it
    types: tuple[EntryType, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None  # part of the movement's reference

    @property
    def active(self) -> bool:
        return any((self.organization, self.person, self.types, self.since, self.until, self.q))


def _contains(column, text: str):
    return func.lower(column).contains(text.lower(), autoescape=True)


def reseller_log_query(actor: Actor, filters: LogFilters | None = None) -> Select:
    """The last 30 days of the actor's reseller's customers, narrowed by ``filters``."""
    filters = filters or LogFilters()
    floor = movements.last_days()
    since = max(filters.since, floor) if filters.since else floor
    query = movements.reseller_movements_query(
        actor, types=list(filters.types), since=since, until=filters.until, q=filters.q
    )
    organization = (filters.organization or "").strip()[:MAX_TEXT]
    if organization:
        customers = scoping.organizations_query(actor, include_deleted=True)
        matching = customers.with_only_columns(Organization.id).where(
            or_(Organization.id == organization, _contains(Organization.name, organization))
        )
        query = query.where(LedgerEntry.organization_id.in_(matching))
    person = (filters.person or "").strip()[:MAX_TEXT]
    if person:
        if "@" in person:  # an email: exactly that person (the email index answers)
            people = select(User.id).where(User.email == person.lower())
        else:
            people = select(User.id).where(
                or_(_contains(User.name, person), _contains(User.email, person))
            )
        # Whoever the movement was made as, or the staff member really at the keyboard.
        query = query.where(
            or_(LedgerEntry.actor_user_id.in_(people), LedgerEntry.real_user_id.in_(people))
        )
    return query


def iter_reseller_log_rows(actor: Actor, filters: LogFilters | None = None):
    """The filtered log as rows for the CSV and the print report, streamed."""
    return iter_movement_rows(reseller_log_query(actor, filters))
