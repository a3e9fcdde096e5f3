"""Engine behaviour per database, what counts as the database being unreachable, and the
session that sends a read-only block's reads to the replica.

SQLite gets WAL, foreign keys and BEGIN IMMEDIATE. A server database gets a connect timeout
(a database host that does not answer fails the request instead of hanging it) and its
pooled connections checked on checkout, so the first request after a database restart gets
a fresh connection instead of a dead one.
"""

from __future__ import annotations

import re
import select
import sqlite3
import time
import weakref
from typing import Any

from flask_sqlalchemy.session import Session
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.sql.elements import TextClause

# A pooled connection idle for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 10.0

# SQLite answers these with OperationalError too, but they are bugs, not outages.
_SQLITE_BUGS = ("no such ", "syntax error", "has no column", "already exists")

# Session.info key: the replica engine while a block reads from it (tenants.core.replica).
REPLICA_READS = "replica_reads"
_PLAIN_SELECT = re.compile(r"\s*select\b", re.IGNORECASE)
_LOCKING = re.compile(r"\bfor\s+(update|share|no\s+key\s+update|key\s+share)\b", re.IGNORECASE)

# The libc collations that sort text by code point (UTF-8's byte order), as glibc's C.UTF-8
# does; PostgreSQL 15 treats only C and POSIX as such in its planner.
_CODE_POINT_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8"})
_code_point_order: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()
# datlocprovider is PostgreSQL 15's (ICU as the default collation); absent before.
_COLLATION = (
    "SELECT datcollate, to_jsonb(d) ->> 'datlocprovider' FROM pg_database d"
    " WHERE datname = current_database()"
)


class RoutingSession(Session):
    """``db.session``: everything on the primary, except inside a read-replica block
    (``tenants.core.replica.replica_reads``) where plain SELECTs — ORM queries, ``get``,
    lazy loads, ``text("SELECT ...")`` — go to the replica engine the block put in
    ``info``. Flushes, INSERT/UPDATE/DELETE, ``SELECT ... FOR UPDATE`` and the bare
    ``session.connection()`` (raw SQL of any kind) stay on the primary: a write never goes
    to the replica, even from a read-only page."""

    def get_bind(
        self,
        mapper: Any | None = None,
        clause: Any | None = None,
        bind: Engine | Connection | None = None,
        **kwargs: Any,
    ) -> Engine | Connection:
        replica = self.info.get(REPLICA_READS)
        if replica is not None and bind is None and not self._flushing and reads_only(clause):
            return replica
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def reads_only(clause: Any) -> bool:
    """Whether ``clause`` is a statement a hot standby can answer: a SELECT (or UNION) that
    locks no rows, or the text of one."""
    if isinstance(clause, TextClause):
        return bool(_PLAIN_SELECT.match(clause.text)) and not _LOCKING.search(clause.text)
    return bool(getattr(clause, "is_select", False)) and (
        getattr(clause, "_for_update_arg", None) is None
    )


def code_point_order(connection: Connection) -> bool:
    """Whether the connection's database is PostgreSQL and sorts text by code point (its
    default collation C, POSIX or C.UTF-8 from libc): a prefix is then one range of a btree
    index in the default order. Asked once per engine."""
    engine = connection.engine
    known = _code_point_order.get(engine)
    if known is None:
        known = connection.dialect.name == "postgresql" and _sorts_by_code_point(
            connection.exec_driver_sql(_COLLATION).one()
        )
        _code_point_order[engine] = known
    return known


def _sorts_by_code_point(row: Any) -> bool:
    collation, provider = row
    return collation in _CODE_POINT_COLLATIONS and provider in (None, "c")


def configure_engine_events(
    engine: Engine, connect_timeout: int = 5, sqlite_busy_ms: int = 30_000
) -> None:
    """``connect_timeout`` (s): how long PostgreSQL may take to accept a connection;
    ``sqlite_busy_ms``: how long a SQLite write waits for another writer's lock."""
    if engine.dialect.name != "sqlite":

        @event.listens_for(engine, "do_connect")
        def _connect_timeout(_dialect, _record, _cargs, cparams):
            cparams.setdefault("connect_timeout", connect_timeout)

        @event.listens_for(engine, "first_connect")
        def _collation(dbapi_connection, _record):
            # Read with the dialect's own first queries, not in a request (code_point_order).
            if engine.dialect.name == "postgresql":
                cursor = dbapi_connection.cursor()
                cursor.execute(_COLLATION)
                _code_point_order[engine] = _sorts_by_code_point(cursor.fetchone())
                cursor.close()
                dbapi_connection.rollback()

        _ping_idle_connections(engine)
        return

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record):
        # Let SQLAlchemy (not pysqlite) start transactions, so they can begin IMMEDIATE:
        # concurrent writers then wait for the lock instead of failing to upgrade it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(sqlite_busy_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the database could not be reached or used
    for now: a refused or lost connection, a pool timeout, a locked SQLite file; the request
    can be sent again in a moment (503), unlike a bug (500)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_outage(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_outage(error: BaseException) -> bool:
    if isinstance(error, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa_exc.OperationalError):
        error = error.orig
    if isinstance(error, sqlite3.OperationalError):
        return not any(bug in str(error).lower() for bug in _SQLITE_BUGS)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error, psycopg.OperationalError)


def _ping_idle_connections(engine: Engine) -> None:
    """``pool_pre_ping``, but only for connections that may be dead.

    ``pool_pre_ping`` sends a ``SELECT 1`` on every checkout: one more round trip on every
    request (a tenth of a usage charge's time in bench B1). Instead a connection is pinged
    when it sat idle (a firewall dropping quiet connections) or when the server closed it
    meanwhile (a database restart, a terminated backend, a proxy cut: its socket turns
    readable, which the kernel says without a round trip). A dead one is replaced by the pool
    (DisconnectionError makes it retry with a new connection), so the first request after a
    restart succeeds.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        if record is not None:
            record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        since = record.info.get("checked_in_at")
        if since is None:
            return  # a new connection
        idle = time.monotonic() - since >= IDLE_PING_SECONDS
        if not idle and not _closed_by_server(dbapi_connection):
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError() from error
        if not alive:
            raise DisconnectionError()


def _closed_by_server(dbapi_connection) -> bool:
    """Whether an idle connection's socket has something to read: between requests the
    server sends nothing, unless it is closing the connection (or sends a notice; then the
    ping is only wasted)."""
    try:
        fd = dbapi_connection.fileno()
    except Exception:  # closed or broken on our side
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
