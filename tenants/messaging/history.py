"""The messages an organization sent: pages newest first, filters by status and by campaign
(its runs' messages), recipients' statuses and counts, and the rows of the history's CSV."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from sqlalchemy import func, select

from tenants.access import message_scoping
from tenants.access.actors import Actor
from tenants.core import paging
from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.models import (
    Message,
    MessageRecipient,
    MessageStatus,
    Organization,
    RecipientStatus,
)

MESSAGE_CURSOR = paging.Cursor((paging.MOMENT, paging.TEXT))
MAX_CSV_ROWS = 100_000


def status_labels() -> dict[MessageStatus, str]:
    """Each message status as the reader sees it (in the reader's language)."""
    return {
        MessageStatus.QUEUED: pgettext("message status", "Queued"),
        MessageStatus.SENDING: pgettext("message status", "Sending"),
        MessageStatus.SENT: pgettext("message status", "Sent"),
        MessageStatus.DONE: pgettext("message status", "Done"),
    }


def recipient_labels() -> dict[RecipientStatus, str]:
    """Each recipient status as the reader sees it."""
    return {
        RecipientStatus.QUEUED: pgettext("message status", "Queued"),
        RecipientStatus.SENDING: pgettext("message status", "Sending"),
        RecipientStatus.SENT: pgettext("message status", "Sent"),
        RecipientStatus.DELIVERED: pgettext("message status", "Delivered"),
        RecipientStatus.FAILED: pgettext("message status", "Failed"),
    }


@dataclass(frozen=True)
class MessagePage:
    items: list[Message]
    next_cursor: str | None


def clean_status(value) -> MessageStatus | None:
    if value in (None, ""):
        return None
    try:
        return MessageStatus(value)
    except ValueError:
        raise ValidationFailed(fields={"status": str(_l("Unknown status."))}) from None


def messages_query(actor: Actor, org: Organization, *, status=None, campaign_id=None):
    """The messages the actor may read, newest first; ``campaign_id``: those its runs sent
    (NotFound unless the actor may see that campaign)."""
    query = message_scoping.messages_query(actor, org)
    wanted = clean_status(status)
    if wanted is not None:
        query = query.where(Message.status == wanted)
    if campaign_id not in (None, ""):
        query = query.where(message_scoping.of_campaign(actor, org, campaign_id))
    return query.order_by(Message.created_at.desc(), Message.id.desc())


def message_page(
    actor: Actor,
    org: Organization,
    *,
    status=None,
    campaign_id=None,
    limit: int = 50,
    cursor: str | None = None,
    on_invalid: Callable[[], Exception] = paging.invalid_page_link,
) -> MessagePage:
    """A page of the messages the actor may read, newest first (keyset on created_at, id)."""
    query = messages_query(actor, org, status=status, campaign_id=campaign_id)
    if cursor:
        shape = paging.Cursor(MESSAGE_CURSOR.kinds, on_invalid=on_invalid)
        query = query.where(
            paging.keyset_before((Message.created_at, Message.id), shape.decode(cursor))
        )
    items = list(db.session.scalars(query.limit(limit + 1)))
    last = items[limit - 1] if len(items) > limit else None
    next_cursor = MESSAGE_CURSOR.encode(last.created_at, last.id) if last else None
    return MessagePage(items[:limit], next_cursor)


def recipient_counts(message_ids: list[str]) -> dict[str, dict[str, int]]:
    """For each message, its recipients by status (every status present, 0 when none)."""
    counts = {mid: dict.fromkeys((s.value for s in RecipientStatus), 0) for mid in message_ids}
    if not message_ids:
        return counts
    rows = db.session.execute(
        select(MessageRecipient.message_id, MessageRecipient.status, func.count())
        .where(MessageRecipient.message_id.in_(message_ids))
        .group_by(MessageRecipient.message_id, MessageRecipient.status)
    ).all()
    for message_id, status, number in rows:
        counts[message_id][RecipientStatus(status).value] = number
    return counts


def recipients_of(message: Message) -> list[MessageRecipient]:
    return list(
        db.session.scalars(
            select(MessageRecipient)
            .where(MessageRecipient.message_id == message.id)
            .order_by(MessageRecipient.id)
        )
    )


def csv_rows(
    actor: Actor, org: Organization, *, status=None, campaign_id=None
) -> Iterator[Message]:
    """The messages of the history's CSV, newest first, read in pages when iterated; the
    filters are checked at once (a refusal comes before the download starts)."""
    query = messages_query(actor, org, status=status, campaign_id=campaign_id)
    return _stream(query.limit(MAX_CSV_ROWS))


def _stream(query) -> Iterator[Message]:
    yield from db.session.scalars(query.execution_options(yield_per=500))
