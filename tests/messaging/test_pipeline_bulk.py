"""The sending pipeline's writes are set-based (bench/README.md, B5 campaign): a batch and
its delivery reports take the same statements whatever their size; the gateway's rate is
kept from one hand-over to the next; each report keeps its own error; and closing a
message after its last full batch never overwrites the ``done`` its last reports set."""

from __future__ import annotations

import threading
import time
from itertools import pairwise

import pytest
from sqlalchemy import event, select, update

from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.messaging import operations as messaging
from tenants.messaging import pipeline
from tenants.messaging.reports import apply_reports
from tenants.models import Message, MessageRecipient, MessageStatus, RecipientStatus
from tenants.notify.sms import DeliveryReport, SandboxGateway
from tests.jobs.conftest import burst_worker
from tests.messaging.conftest import pool


def numbers(count: int) -> list[str]:
    return [f"+3460000{i:04d}" for i in range(1, count + 1)]


def statements_to_send(app, shop, count: int) -> int:
    """Statements the workers run to send a message to ``count`` recipients in one batch
    and apply its reports (the sandbox reports them at once)."""
    sent = messaging.send_message(shop.actor, shop.acme, to=numbers(count), text="Hi")
    commit()
    executed: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        executed.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        burst_worker(app)
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    assert db.session.get(Message, sent.message.id).status == MessageStatus.DONE
    return len(executed)


def test_a_batch_and_its_reports_take_the_same_statements_whatever_their_size(app, redis, shop):
    app.config.update(MESSAGE_BATCH_SIZE=1000)
    burst_worker(app)  # the fixture's own jobs (invitations) first
    small = statements_to_send(app, shop, 3)
    large = statements_to_send(app, shop, 30)
    assert large == small
    assert pool(shop.acme) == 100 - 33


def test_batches_keep_the_gateway_rate(app, redis, shop, monkeypatch):
    """At 20 messages a second, batches of 2 are handed over at least 0.1 s apart, even
    though the workers take no time: the wait is between a batch's marks and its hand-over."""
    app.config.update(MESSAGE_GATEWAY_RATE=20, MESSAGE_BATCH_SIZE=2)
    handed: list[float] = []
    real = SandboxGateway.send_batch

    def timed(self, messages):
        handed.append(time.time())
        return real(self, messages)

    monkeypatch.setattr(SandboxGateway, "send_batch", timed)
    sent = messaging.send_message(shop.actor, shop.acme, to=numbers(6), text="Hi")
    commit()
    burst_worker(app)
    assert len(handed) == 3
    assert all(later - earlier >= 0.1 - 0.005 for earlier, later in pairwise(handed))
    assert db.session.get(Message, sent.message.id).status == MessageStatus.DONE


def test_each_report_keeps_its_own_error_and_is_applied_once(app, redis, shop):
    sent = messaging.send_message(shop.actor, shop.acme, to=numbers(3), text="Hi")
    commit()
    rows = db.session.scalars(
        select(MessageRecipient)
        .where(MessageRecipient.message_id == sent.message.id)
        .order_by(MessageRecipient.number)
    ).all()
    refs = [row.reference for row in rows]
    reports = [
        DeliveryReport(refs[0], "failed", "absent subscriber"),
        DeliveryReport(refs[1], "failed", "barred"),
        DeliveryReport(refs[2], "delivered"),
    ]
    assert apply_reports(reports) == 3
    commit()
    assert apply_reports(reports) == 0  # duplicates change nothing
    commit()
    db.session.expire_all()
    got = {
        row.number: (row.status, row.error, row.refunded)
        for row in db.session.scalars(
            select(MessageRecipient).where(MessageRecipient.message_id == sent.message.id)
        )
    }
    assert got == {
        numbers(3)[0]: (RecipientStatus.FAILED, "absent subscriber", True),
        numbers(3)[1]: (RecipientStatus.FAILED, "barred", True),
        numbers(3)[2]: (RecipientStatus.DELIVERED, None, False),
    }
    message = db.session.get(Message, sent.message.id)
    assert (message.status, message.refunded) == (MessageStatus.DONE, 2)
    assert pool(shop.acme) == 100 - 3 + 2


@pytest.mark.postgres_only
def test_closing_after_the_last_full_batch_keeps_the_done_of_its_last_reports(app, redis, shop):
    """The job after a message's last full batch finds nothing to send and closes the
    message while the other worker applies the last reports: the close waits for the
    message's row lock and leaves ``done`` as the reports set it (it used to write ``sent``
    over it, leaving the message never done)."""
    sent = messaging.send_message(shop.actor, shop.acme, to=numbers(2), text="Hi")
    commit()
    message_id = sent.message.id
    db.session.execute(
        update(MessageRecipient)
        .where(MessageRecipient.message_id == message_id)
        .values(status=RecipientStatus.SENT)
    )
    refs = list(
        db.session.scalars(
            select(MessageRecipient.reference).where(MessageRecipient.message_id == message_id)
        )
    )
    db.session.commit()
    applied, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def reports() -> None:
        with app.app_context():
            try:
                apply_reports([DeliveryReport(ref, "delivered") for ref in refs])
                applied.set()
                go.wait(10)
                db.session.commit()
            except BaseException as error:  # reported below
                errors.append(error)
                applied.set()
            finally:
                db.session.remove()

    def close() -> None:
        with app.app_context():
            try:
                pipeline._close(message_id)
                db.session.commit()
            except BaseException as error:  # reported below
                errors.append(error)
            finally:
                db.session.remove()

    first = threading.Thread(target=reports)
    first.start()
    assert applied.wait(10)
    second = threading.Thread(target=close)
    second.start()
    time.sleep(0.3)  # the close is now waiting for the message's row lock
    go.set()
    first.join(10)
    second.join(10)
    assert errors == []
    db.session.expire_all()
    assert db.session.get(Message, message_id).status == MessageStatus.DONE
