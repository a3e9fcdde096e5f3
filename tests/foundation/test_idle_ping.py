"""Pooled connections are pinged only after sitting idle; a dead idle one is replaced."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tenants.core import database
from tenants.core.extensions import db

pytestmark = pytest.mark.postgres_only


def _backend_pid() -> int:
    pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
    db.session.rollback()  # back to the pool
    return pid


def _kill(pid: int) -> None:
    other = sa.create_engine(db.engine.url)  # not the app's pool
    with other.begin() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()


def test_a_connection_killed_while_idle_is_replaced_without_an_error(app, monkeypatch):
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)  # every checkout counts as idle
    first = _backend_pid()
    _kill(first)
    assert _backend_pid() != first  # the ping found it dead; the pool reconnected


def test_a_connection_used_moments_ago_is_not_pinged(app, monkeypatch):
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 3600.0)
    _backend_pid()
    statements: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    pings: list[bool] = []
    original = db.engine.dialect.do_ping
    monkeypatch.setattr(
        db.engine.dialect, "do_ping", lambda conn: pings.append(True) or original(conn)
    )
    _backend_pid()
    assert pings == []
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
    _backend_pid()
    assert pings == [True]
