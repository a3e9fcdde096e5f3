"""What a campaign is asked to be, checked whole: its name, list, text, sender, account and
schedule (a time in the organization's time zone, the repeat, the last day), and what its
runs cost (segments x the list's recipients who have not opted out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select

from tenants.access import contact_scoping
from tenants.access.actors import Actor
from tenants.campaigns.occurrences import local_start, to_utc
from tenants.core.checks import collect_field_errors
from tenants.core.errors import NotFound, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.core.validation import clean_sender_name, clean_text
from tenants.messaging.operations import clean_message_text, message_account
from tenants.messaging.segments import Count, count
from tenants.models import Campaign, Contact, ContactList, OptOut, Organization, Repeat

MAX_NAME = 200
MAX_REASON = 500
# How far ahead a campaign may start or last: two years.
HORIZON = timedelta(days=731)


@dataclass(frozen=True)
class Plan:
    """A campaign as checked, ready to be saved."""

    name: str
    contact_list: ContactList
    text: str
    count: Count
    sender: str | None  # None: the sender name in Settings when each run is sent
    account: str  # "system" or "member:<id>"
    starts_at: datetime  # UTC
    timezone: str
    repeat: Repeat
    until: date | None


def parse_time(value: Any, timezone: str) -> datetime:
    """A date and time: ISO 8601 text or a datetime; without an offset it is read in
    ``timezone`` (the portal's form gives the organization's local time). UTC, to the second."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            value = None
    refused = ValidationFailed(fields={"starts_at": str(_l("Enter a date and time."))})
    if not isinstance(value, datetime):
        raise refused
    try:
        if value.tzinfo is None:
            value = to_utc(value, timezone)
        return value.astimezone(UTC).replace(microsecond=0)
    except (OverflowError, ValueError):  # the first or last moments a datetime can hold
        raise refused from None


def clean_starts_at(value: Any, timezone: str) -> datetime:
    moment = parse_time(value, timezone)
    now = utcnow()
    if moment <= now:
        raise ValidationFailed(fields={"starts_at": str(_l("Choose a time in the future."))})
    if moment > now + HORIZON:
        raise ValidationFailed(
            fields={"starts_at": str(_l("Choose a time within the next two years."))}
        )
    return moment


def clean_repeat(value: Any) -> Repeat:
    if value in (None, ""):
        return Repeat.NONE
    try:
        return Repeat(value)
    except ValueError:
        raise ValidationFailed(
            fields={"repeat": str(_l("Choose once, daily, weekly or monthly."))}
        ) from None


def clean_until(value: Any, repeat: Repeat, starts_at: datetime, timezone: str) -> date | None:
    """The last day (local) a repeating campaign runs on; none for a one-off."""
    if repeat == Repeat.NONE:
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            value = None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        raise ValidationFailed(
            fields={"until": str(_l("Enter the last day a repeating campaign runs."))}
        )
    first = local_start(starts_at, timezone).date()
    if value < first:
        raise ValidationFailed(fields={"until": str(_l("Choose a day on or after the start."))})
    if value > first + HORIZON:
        raise ValidationFailed(
            fields={"until": str(_l("Choose a day within two years of the start."))}
        )
    return value


def clean_list(actor: Actor, org: Organization, value: Any) -> ContactList:
    try:
        return contact_scoping.get_contact_list(actor, org, value)
    except NotFound:
        raise ValidationFailed(fields={"list_id": str(_l("Choose one of your lists."))}) from None


def clean_plan(actor: Actor, org: Organization, values: dict[str, Any]) -> Plan:
    """Every field checked at once (one ValidationFailed with each field's refusal).
    ``values``: name, list_id, text, starts_at, repeat, until, sender, account."""
    timezone = values.get("timezone") or org.timezone
    checked = collect_field_errors(
        {
            "name": lambda: clean_text(values.get("name"), "name", max_length=MAX_NAME),
            "list_id": lambda: clean_list(actor, org, values.get("list_id")),
            "text": lambda: clean_message_text(values.get("text")),
            "sender": lambda: (
                clean_sender_name(values["sender"], "sender")
                if values.get("sender") not in (None, "")
                else None
            ),
            "account": lambda: message_account(actor, org, values.get("account")),
            "starts_at": lambda: _starts_at(values, timezone),
            "repeat": lambda: clean_repeat(values.get("repeat")),
        }
    )
    starts_at = checked["starts_at"]
    until = collect_field_errors(
        {"until": lambda: clean_until(values.get("until"), checked["repeat"], starts_at, timezone)}
    )["until"]
    text, counted = checked["text"]
    return Plan(
        name=checked["name"],
        contact_list=checked["list_id"],
        text=text,
        count=counted,
        sender=checked["sender"],
        account=checked["account"],
        starts_at=starts_at,
        timezone=timezone,
        repeat=checked["repeat"],
        until=until,
    )


def _starts_at(values: dict[str, Any], timezone: str) -> datetime:
    """A new start is in the future; a start kept as it was (a change of other fields after
    the first run) is taken as it is."""
    kept = values.get("kept_starts_at")
    if kept is not None:
        try:
            if parse_time(values.get("starts_at"), timezone) == kept:
                return kept
        except ValidationFailed:
            pass  # refused below, with its message
    return clean_starts_at(values.get("starts_at"), timezone)


def recipients(org_id: str, list_id: str) -> int:
    """The list's contacts the organization may send to (opted-out numbers left out)."""
    opted = exists().where(OptOut.organization_id == org_id, OptOut.mobile == Contact.mobile)
    return int(
        db.session.scalar(
            select(func.count(Contact.id)).where(
                Contact.list_id == list_id, Contact.organization_id == org_id, ~opted
            )
        )
    )


def run_cost(campaign: Campaign) -> int:
    """The credits one run of the campaign costs now: segments x recipients."""
    return count(campaign.text).segments * recipients(campaign.organization_id, campaign.list_id)
