"""Heavy reads from a PostgreSQL streaming replica (``DATABASE_REPLICA_URL``, SPEC §9).

Nothing reads from the replica unless it asks: a read-only block is opted in with
``replica_reads()`` (pages use the ``reads_replica`` decorator of tenants.web.replica, which
also keeps a person's next pages after their own write on the primary). Inside the block
``db.session``'s plain SELECTs go to the replica (tenants.core.database.RoutingSession);
writes stay on the primary.

The block falls back to the primary, with no error, when

- no replica is configured, or the caller asks for the primary (``wanted=False``);
- the replica cannot be reached (stopped, restarting, refusing connections);
- the replica is not in recovery (not a replica: promoted, or the URL names a primary);
- the replica lags: it has not replayed what the primary had written at the last check,
  and its last replayed commit is older than ``REPLICA_MAX_LAG_SECONDS``.

The check costs one small query on each side (``pg_current_wal_lsn()`` on the primary,
``pg_last_wal_replay_lsn()`` and ``pg_last_xact_replay_timestamp()`` on the replica) and its
answer is kept per process for ``REPLICA_CHECK_SECONDS``; a replica found unreachable is not
tried again within that time either, so an outage costs one failed connection per process
per interval, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tenants.core.database import REPLICA_READS, is_outage
from tenants.core.extensions import db

logger = logging.getLogger(__name__)

REPLICA_BIND = "replica"


@dataclass(frozen=True)
class ReplicaState:
    usable: bool
    reason: str  # "ok", "unreachable", "not_in_recovery", "lagging"
    lag_seconds: float | None
    checked_at: float  # time.monotonic()


_states: dict[str, ReplicaState] = {}
_lock = threading.Lock()


def replica_engine() -> Engine | None:
    """The replica's engine when ``DATABASE_REPLICA_URL`` is set and the primary is
    PostgreSQL too, else None."""
    engine = db.engines.get(REPLICA_BIND)
    if engine is None or db.engine.dialect.name != "postgresql":
        return None
    return engine


def forget_replica_state() -> None:
    """Check the replica again on the next read (tests; after a failover)."""
    with _lock:
        _states.clear()


def last_replica_state() -> ReplicaState | None:
    engine = replica_engine()
    return None if engine is None else _states.get(_key(engine))


@contextmanager
def replica_reads(wanted: bool = True) -> Iterator[bool]:
    """Within the block, ``db.session``'s plain reads go to the replica if one is configured,
    ``wanted``, reachable and caught up (within REPLICA_MAX_LAG_SECONDS), else to the
    primary. Yields whether the replica serves them. Writes never go to the replica."""
    session = db.session()
    engine = _usable_replica() if wanted else None
    previous = session.info.get(REPLICA_READS)
    if engine is not None:
        session.info[REPLICA_READS] = engine
    try:
        yield engine is not None
    finally:
        if previous is None:
            session.info.pop(REPLICA_READS, None)
        else:
            session.info[REPLICA_READS] = previous


def reading_engine() -> Engine:
    """The engine a read that takes its own connection (the CSV COPY) should use: the
    replica inside a ``replica_reads`` block that got it, else the primary."""
    return db.session().info.get(REPLICA_READS) or db.engine


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _usable_replica() -> Engine | None:
    engine = replica_engine()
    if engine is None:
        return None
    key = _key(engine)
    interval = float(current_app.config.get("REPLICA_CHECK_SECONDS", 2))
    state = _states.get(key)
    if state is None or time.monotonic() - state.checked_at >= interval:
        state = _remember(key, _check(engine))
    if not state.usable:
        return None
    # The replica's connection is taken now, into the session's transaction: a replica that
    # went away since the last check fails here, and the block reads from the primary
    # instead of failing the page halfway.
    try:
        db.session.connection(bind_arguments={"bind": engine})
    except sa_exc.DBAPIError as error:
        if not is_outage(error):
            raise
        _remember(key, _unreachable(error))
        return None
    return engine


def _check(engine: Engine) -> ReplicaState:
    """Whether the replica answers, is a replica, and has replayed what the primary had
    written a moment ago (or else how long ago it replayed its last commit). On connections
    of its own, so a failure leaves the request's session untouched."""
    max_lag = float(current_app.config.get("REPLICA_MAX_LAG_SECONDS", 5))
    # The primary's position first: whatever the replica has replayed by the time it is
    # asked, it then has at least this.
    with db.engine.connect() as primary:
        primary_lsn = primary.execute(text("SELECT pg_current_wal_lsn()")).scalar()
    try:
        with engine.connect() as replica:
            row = replica.execute(
                text(
                    "SELECT pg_is_in_recovery(),"
                    " pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn),"
                    " EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())"
                ),
                {"lsn": primary_lsn},
            ).one()
    except sa_exc.DBAPIError as error:
        if not is_outage(error):
            raise
        return _unreachable(error)
    in_recovery, caught_up, since_replay = row
    now = time.monotonic()
    if not in_recovery:
        logger.warning("the read replica is not in recovery; reading from the primary")
        return ReplicaState(False, "not_in_recovery", None, now)
    if caught_up:
        return ReplicaState(True, "ok", 0.0, now)
    lag = None if since_replay is None else float(since_replay)
    if lag is None or lag > max_lag:
        logger.warning("the read replica lags (%s s); reading from the primary", lag)
        return ReplicaState(False, "lagging", lag, now)
    return ReplicaState(True, "ok", lag, now)


def _unreachable(error: BaseException) -> ReplicaState:
    logger.warning("the read replica cannot be reached; reading from the primary: %s", error)
    return ReplicaState(False, "unreachable", None, time.monotonic())


def _remember(key: str, state: ReplicaState) -> ReplicaState:
    with _lock:
        _states[key] = state
    return state
