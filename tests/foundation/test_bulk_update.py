"""tenants.core.bulk.update_rows: many rows, each to its own values, in one statement on
PostgreSQL (an UPDATE … FROM unnest of one array a column), executemany elsewhere."""

from __future__ import annotations

from sqlalchemy import event, select

from tenants.core.bulk import update_rows
from tenants.core.extensions import db
from tenants.models import SmsMessage


def sms(gateway: str) -> SmsMessage:
    message = SmsMessage(to="+34600000001", text="hi", gateway=gateway, status="queued")
    db.session.add(message)
    return message


def test_each_row_gets_its_own_values_where_the_condition_holds(app):
    first, second, other = sms("log"), sms("log"), sms("http")
    db.session.commit()
    ids = first.id, second.id, other.id
    table = SmsMessage.__table__
    changed = update_rows(
        table,
        "id",
        [
            {"id": ids[0], "gateway_reference": "one"},
            {"id": ids[1], "gateway_reference": None},
            {"id": ids[2], "gateway_reference": "three"},
        ],
        where=[table.c.gateway == "log"],
        values={"status": "sent"},
    )
    db.session.commit()
    assert changed == 2
    rows = {
        id_: (reference, status)
        for id_, reference, status in db.session.execute(
            select(table.c.id, table.c.gateway_reference, table.c.status)
        ).all()
    }
    assert rows[ids[0]] == ("one", "sent")
    assert rows[ids[1]] == (None, "sent")
    assert rows[ids[2]] == (None, "queued")  # the condition does not hold: untouched


def test_a_thousand_rows_are_one_statement(app):
    messages = [sms("log") for _ in range(1000)]
    db.session.commit()
    rows = [{"id": m.id, "gateway_reference": f"ref-{i}"} for i, m in enumerate(messages)]
    executed: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        executed.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        changed = update_rows(SmsMessage.__table__, "id", rows)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    db.session.commit()
    assert changed == 1000
    assert len([s for s in executed if s.lstrip().upper().startswith("UPDATE")]) == 1
    assert db.session.get(SmsMessage, messages[999].id).gateway_reference == "ref-999"


def test_values_that_are_all_null_are_written_as_null(app):
    """A gateway that gives no ids (the log gateway) answers None for every message."""
    first, second = sms("log"), sms("log")
    first.gateway_reference = second.gateway_reference = "old"
    db.session.commit()
    ids = first.id, second.id
    rows = [{"id": id_, "gateway_reference": None} for id_ in ids]
    assert update_rows(SmsMessage.__table__, "id", rows) == 2
    db.session.commit()
    db.session.expire_all()
    assert [db.session.get(SmsMessage, id_).gateway_reference for id_ in ids] == [None, None]
