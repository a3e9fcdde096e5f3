"""Sending a message: the workers hand its recipients to the gateway in batches.

One job hands over one batch (MESSAGE_BATCH_SIZE recipients, at most MESSAGE_GATEWAY_RATE a
second) and asks for the next, so a long message never holds a worker and every batch is a
job the outbox owns until it is done. Each recipient is marked ``sending`` — committed —
before the hand-over, and ``sent`` after it: a worker that crashed in between leaves
``sending`` recipients, which the job's next run hands over again with the same unique
reference; the gateway takes a reference once, so nothing is sent twice.
"""

from __future__ import annotations

import time

from flask import current_app
from sqlalchemy import select, update

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.messaging.reports import FINAL
from tenants.models import Message, MessageRecipient, MessageStatus, RecipientStatus
from tenants.notify.sms import OutgoingSms, gateway

PENDING = (RecipientStatus.QUEUED, RecipientStatus.SENDING)


@job("send_message_batch")
def send_message_batch(message_id: str) -> None:
    """Hand the next batch of the message's recipients to the gateway."""
    config = current_app.config
    size = max(1, int(config.get("MESSAGE_BATCH_SIZE", 100)))
    rate = float(config.get("MESSAGE_GATEWAY_RATE", 50) or 0)
    message = db.session.get(Message, message_id)
    if message is None:
        return
    text, sender = message.text, message.sender
    batch = db.session.execute(
        select(MessageRecipient.id, MessageRecipient.number, MessageRecipient.reference)
        .where(MessageRecipient.message_id == message_id, MessageRecipient.status.in_(PENDING))
        .order_by(MessageRecipient.id)
        .limit(size)
    ).all()
    if not batch:
        _close(message)
        return
    ids = [row.id for row in batch]
    _mark(ids, RecipientStatus.QUEUED, RecipientStatus.SENDING)
    # Committed before the hand-over: the marks outlive a crash in it (and, on SQLite, the
    # sandbox gateway writes on its own connection while this session holds no lock).
    db.session.commit()
    outgoing = [OutgoingSms(row.number, text, row.reference, sender) for row in batch]
    chosen = gateway()
    started = time.monotonic()
    # A gateway that refuses (SmsGatewayError) fails the job, retried later: the same
    # references are handed over again.
    gateway_ids = chosen.send_batch(outgoing)
    _pace(len(outgoing), rate, started)
    now = utcnow()
    for row, gateway_id in zip(batch, gateway_ids, strict=True):
        db.session.execute(
            update(MessageRecipient)
            .where(
                MessageRecipient.id == row.id, MessageRecipient.status == RecipientStatus.SENDING
            )
            .values(status=RecipientStatus.SENT, sent_at=now, gateway_id=gateway_id)
            .execution_options(synchronize_session=False)
        )
    reports = chosen.take_reports()
    if reports:
        enqueue(
            "apply_delivery_reports",
            reports=[
                {"reference": r.reference, "status": r.status, "error": r.error} for r in reports
            ],
        )
    message = db.session.get(Message, message_id)
    if message.status == MessageStatus.QUEUED:
        message.status = MessageStatus.SENDING
    message.updated_at = now
    if len(batch) == size:
        enqueue("send_message_batch", message_id=message_id)
    else:
        _close(message)


def _mark(ids: list[str], before: RecipientStatus, after: RecipientStatus) -> None:
    db.session.execute(
        update(MessageRecipient)
        .where(MessageRecipient.id.in_(ids), MessageRecipient.status == before)
        .values(status=after)
        .execution_options(synchronize_session=False)
    )


def _pace(count: int, rate: float, started: float) -> None:
    """Keep to the gateway's rate: ``count`` messages take at least count / rate seconds."""
    if rate <= 0:
        return
    left = count / rate - (time.monotonic() - started)
    if left > 0:
        time.sleep(left)


def _close(message: Message) -> None:
    """Every recipient handed over: the message is ``sent`` (``done`` once all reported)."""
    if message.status == MessageStatus.DONE:
        return
    open_left = db.session.scalar(
        select(MessageRecipient.id)
        .where(MessageRecipient.message_id == message.id, MessageRecipient.status.not_in(FINAL))
        .limit(1)
    )
    message.status = MessageStatus.SENT if open_left else MessageStatus.DONE
    message.updated_at = utcnow()
