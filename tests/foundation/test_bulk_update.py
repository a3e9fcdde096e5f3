"""tenants.core.bulk.update_rows: many rows, each to its own values, in one statement on
PostgreSQL (an UPDATE … FROM unnest of one array a column), executemany elsewhere."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, select, text

from tenants.core.bulk import pg_array, update_rows
from tenants.core.extensions import db
from tenants.models import AccountKind, SmsMessage


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


@pytest.mark.postgres_only
def test_an_array_literal_reads_back_as_the_values_it_was_made_of(app):
    """pg_array: one string PostgreSQL reads as the array — whatever a usage reference may
    hold (quotes, backslashes, braces, commas, spaces, NULL-like words, non-Latin text), dates
    and times in ISO form, enums by value, None as NULL."""
    texts = ['a"b', "c\\d", "{e}", "f,g", " h ", "NULL", "", "ñandú 送信", None]
    assert db.session.scalar(text("SELECT CAST(:v AS text[])"), {"v": pg_array(texts)}) == texts
    moments = [date(2026, 12, 4), datetime(2026, 12, 4, 23, 30, tzinfo=UTC)]
    assert db.session.execute(
        text("SELECT CAST(:d AS date[]), CAST(:t AS timestamptz[])"),
        {"d": pg_array(moments[:1]), "t": pg_array(moments[1:])},
    ).one() == ([moments[0]], [moments[1]])
    numbers = [Decimal("0.0605"), 3, None]
    assert db.session.scalar(text("SELECT CAST(:n AS numeric[])"), {"n": pg_array(numbers)}) == [
        Decimal("0.0605"),
        Decimal(3),
        None,
    ]
    assert db.session.scalar(
        text("SELECT CAST(:k AS text[])"), {"k": pg_array([AccountKind.SYSTEM])}
    ) == ["system"]
    # The joined-at-once forms: strings with no quote or backslash, plain integers.
    plain = ["{e}", "f,g", " h ", "NULL", "", "ñandú 送信", "org_01jabc"]
    assert db.session.scalar(text("SELECT CAST(:v AS text[])"), {"v": pg_array(plain)}) == plain
    integers = [0, -7, 10**15, 3]
    assert (
        db.session.scalar(text("SELECT CAST(:n AS bigint[])"), {"n": pg_array(iter(integers))})
        == integers
    )
    # Numbers and days unquoted, beside NULLs (a batch's window sums and days).
    bare = [Decimal("-0.0605"), Decimal("1E+2"), -3, None]
    assert db.session.scalar(text("SELECT CAST(:n AS numeric[])"), {"n": pg_array(bare)}) == [
        Decimal("-0.0605"),
        Decimal(100),
        Decimal(-3),
        None,
    ]
    days = [date(2026, 12, 4), None, date(1999, 1, 31)]
    assert db.session.scalar(text("SELECT CAST(:d AS date[])"), {"d": pg_array(days)}) == days
    assert db.session.execute(
        text("SELECT CAST(:b AS boolean[]), CAST(:e AS text[])"),
        {"b": pg_array([True, False]), "e": pg_array([])},
    ).one() == ([True, False], [])
    db.session.rollback()
