"""Send SMS: the verb the portal's Send SMS page and the API's ``POST …/messages`` share.

A message is checked whole (recipients, text, sender, account), then charged in one ledger
transaction — segments times recipients, opted-out recipients skipped and not charged — through
the usage path of the organization's pricing model (tenants.billing.usage: prepaid debits
the chosen account and is refused when short, postpaid accrues within the credit limit), and
handed to the workers (tenants.messaging.pipeline) by the outbox in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import phonenumbers
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from tenants.access.actors import Actor
from tenants.access.policy import Permission, refuse_in_view_only, require
from tenants.billing import usage
from tenants.contacts.operations import opted_out
from tenants.core.bulk import insert_rows
from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import new_id, new_ids, utcnow
from tenants.core.validation import clean_sender_name, clean_text
from tenants.credits import operations as credit_ops
from tenants.jobs.outbox import enqueue
from tenants.messaging.segments import MAX_SEGMENTS, Count, count
from tenants.models import (
    Message,
    MessageRecipient,
    MessageStatus,
    Organization,
    PricingModel,
    RecipientStatus,
)
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountKind, EntryType

MAX_RECIPIENTS = 1000
MAX_TEXT = 1600
MAX_REQUEST_KEY = 100
# What separates the numbers people paste: line breaks, commas, semicolons.
_SEPARATORS = re.compile(r"[\r\n,;]+")


class InvalidRecipients(ValidationFailed):
    """Some numbers are not valid phone numbers: each is listed (``invalid``), nothing sent."""

    def __init__(self, invalid: list[str]):
        shown = ", ".join(invalid[:20]) + (" …" if len(invalid) > 20 else "")
        message = _l("These numbers are not valid: %(numbers)s", numbers=shown)
        super().__init__(message, fields={"to": str(message)})
        self.invalid = invalid


@dataclass(frozen=True)
class Draft:
    """A message as checked, before it is charged: what the confirmation step shows."""

    numbers: list[str]  # E.164, unique, in the order given, opted-out ones included
    skipped: list[str]  # opted out: not sent, not charged
    text: str
    count: Count
    sender: str | None
    account: str  # "system" or "member:<id>" (postpaid: "system")

    @property
    def recipients(self) -> int:
        return len(self.numbers) - len(self.skipped)

    @property
    def credits(self) -> int:
        return self.count.segments * self.recipients


@dataclass(frozen=True)
class Sent:
    message: Message
    duplicate: bool = False  # the request key named a message sent before: nothing charged
    skipped: list[str] = field(default_factory=list)


def split_numbers(value) -> list[str]:
    """The numbers of a pasted text (one a line, or separated by commas or semicolons) or of a
    list, stripped, empty ones left out."""
    if isinstance(value, str):
        parts = _SEPARATORS.split(value)
    elif isinstance(value, list | tuple):
        parts = [item if isinstance(item, str) else "" for item in value]
    else:
        parts = []
    return [part.strip() for part in parts if part and part.strip()]


def clean_recipients(org: Organization, value) -> list[str]:
    """Unique E.164 numbers (a number without a country code is read in the organization's
    country); InvalidRecipients listing every number that is not valid."""
    given = split_numbers(value)
    if not given:
        raise ValidationFailed(fields={"to": str(_l("Enter at least one phone number."))})
    if len(given) > MAX_RECIPIENTS:
        raise ValidationFailed(
            fields={"to": str(_l("Send to at most %(n)s numbers at a time.", n=MAX_RECIPIENTS))}
        )
    numbers, invalid = [], []
    for text in given:
        number = _e164(text, org.country)
        if number is None:
            invalid.append(text[:40])
        elif number not in numbers:
            numbers.append(number)
    if invalid:
        raise InvalidRecipients(invalid)
    return numbers


def _e164(text: str, region: str | None) -> str | None:
    if len(text) > 40:
        return None
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_message_text(value) -> tuple[str, Count]:
    text = clean_text(value, "text", max_length=MAX_TEXT, one_line=False, required=True)
    if not text:
        raise ValidationFailed(fields={"text": str(_l("This field is required."))})
    counted = count(text)
    if counted.segments > MAX_SEGMENTS:
        raise ValidationFailed(
            fields={"text": str(_l("A message is at most %(n)s SMS long.", n=MAX_SEGMENTS))}
        )
    return text, counted


def sender_of(org: Organization, value=None) -> str | None:
    """The sender the message shows: the one given (checked like Settings' sender name), else
    the organization's sender name from Settings."""
    if value not in (None, ""):
        return clean_sender_name(value, "sender")
    return org.sender_name or None


def message_account(actor: Actor, org: Organization, account) -> str:
    """The account a message is charged to, as ``system`` or ``member:<id>``: as usage chooses
    it (tenants.credits.operations.usage_account); a postpaid organization's is the pool."""
    if org.pricing_model != PricingModel.PREPAID:
        return SYSTEM_ACCOUNT.label
    ref = credit_ops.usage_account(actor, org, account)
    if ref.kind == AccountKind.MEMBER and ref.member_id != actor.member_id:
        require(actor, Permission.MANAGE_CREDITS)
    return ref.label


def prepare_message(
    actor: Actor, org: Organization, *, to, text, sender=None, account=None
) -> Draft:
    """Check a message whole (every refusal at once, 422) without charging anything."""
    require(actor, Permission.SEND_MESSAGES)
    checked: dict = {}
    errors: dict[str, str] = {}
    invalid: list[str] = []
    for name, check in (
        ("to", lambda: clean_recipients(org, to)),
        ("text", lambda: clean_message_text(text)),
        ("sender", lambda: sender_of(org, sender)),
        ("account", lambda: message_account(actor, org, account)),
    ):
        try:
            checked[name] = check()
        except InvalidRecipients as error:
            invalid = error.invalid
            errors.update(error.fields)
        except ValidationFailed as error:
            errors.update(error.fields)
    if errors:
        if invalid:
            refusal = InvalidRecipients(invalid)
            refusal.fields = errors
            raise refusal
        raise ValidationFailed(fields=errors)
    numbers = checked["to"]
    skipped = opted_out(org.id, numbers)
    draft = Draft(
        numbers=numbers,
        skipped=[n for n in numbers if n in skipped],
        text=checked["text"][0],
        count=checked["text"][1],
        sender=checked["sender"],
        account=checked["account"],
    )
    if draft.recipients == 0:
        raise ValidationFailed(fields={"to": str(_l("Every number opted out of your SMS."))})
    return draft


def clean_request_key(value) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > MAX_REQUEST_KEY or not value.isprintable():
        raise ValidationFailed(fields={"request_key": str(_l("Not a valid request key."))})
    return value


def send_message(
    actor: Actor,
    org: Organization,
    *,
    to,
    text,
    sender=None,
    account=None,
    request_key=None,
) -> Sent:
    """Charge and queue a message. Refused whole when credits (prepaid) or the credit limit
    (postpaid) are short (402, nothing charged), when the organization is suspended (409),
    in a view-only support session (403), for bad input (422). A ``request_key`` sent before
    sends nothing and answers with that first message."""
    refuse_in_view_only(actor)
    key = clean_request_key(request_key)
    if key is not None:
        first = db.session.scalar(
            select(Message).where(Message.organization_id == org.id, Message.request_key == key)
        )
        if first is not None:
            return Sent(first, duplicate=True)
    draft = prepare_message(actor, org, to=to, text=text, sender=sender, account=account)
    return send_prepared(actor, org, draft, request_key=key)


def send_prepared(actor: Actor, org: Organization, draft: Draft, *, request_key=None) -> Sent:
    """Charge and queue a message already checked (prepare_message, or a campaign's run
    with its list's numbers): send_message's charge and hand-over, nothing re-checked but
    the organization's state and the credits."""
    key = request_key
    credit_ops.require_usable(org)
    message_id = new_id("msg")
    recorded = usage.record_usage(
        actor,
        org,
        credits=draft.credits,
        reference=f"message:{message_id}",
        account=draft.account,
        entry_type=EntryType.MESSAGE,
    )
    now = utcnow()
    message = Message(
        id=message_id,
        reseller_id=org.reseller_id,
        organization_id=org.id,
        member_id=actor.member_id if actor.organization_id == org.id else None,
        actor_user_id=actor.user_id,
        api_key_id=actor.api_key_id,
        account=draft.account,
        sender=draft.sender,
        text=draft.text,
        encoding=draft.count.encoding,
        segments=draft.count.segments,
        recipients=draft.recipients,
        skipped=len(draft.skipped),
        credits=draft.credits,
        refunded=0,
        postpaid=org.pricing_model != PricingModel.PREPAID,
        status=MessageStatus.QUEUED,
        entry_id=recorded.entry.id,
        request_key=key,
        created_at=now,
        updated_at=now,
    )
    db.session.add(message)
    db.session.flush()
    skipped = set(draft.skipped)
    numbers = [n for n in draft.numbers if n not in skipped]
    ids, references = new_ids("rcp", len(numbers)), new_ids("ref", len(numbers))
    # COPY on PostgreSQL: a campaign's run inserts its whole list here (bench/README.md, B5).
    insert_rows(
        MessageRecipient.__table__,
        [
            {
                "id": ids[i],
                "message_id": message.id,
                "organization_id": org.id,
                "number": number,
                "status": RecipientStatus.QUEUED,
                "reference": references[i],
                "refunded": False,
            }
            for i, number in enumerate(numbers)
        ],
    )
    enqueue("send_message_batch", message_id=message.id)
    return Sent(message, skipped=draft.skipped)
