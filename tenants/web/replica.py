"""Pages that read from the streaming replica, and the window after a person's own write
in which their pages read from the primary instead (SPEC §9: "a person's own writes stay
visible to them at once").

A page opts in with ``@reads_replica``, placed directly on the view function (under
``actor_required``), so the log-in, session and permission checks keep reading the
primary. Every state-changing request (POST, PUT, PATCH, DELETE) of a browser stamps its
session; for ``read_your_writes_seconds()`` after the stamp that browser's replica pages
read the primary. The API reads the primary always: its clients hold no cookie to stamp.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, request, session
from flask.wrappers import Response

from tenants.core.replica import replica_engine, replica_reads
from tenants.web.paths import is_api_request

WROTE_AT = "wrote_at"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def read_your_writes_seconds() -> float:
    """READ_YOUR_WRITES_SECONDS, but never less than the lag the replica may have and still
    be read (REPLICA_MAX_LAG_SECONDS) plus how stale its last check may be
    (REPLICA_CHECK_SECONDS): past that, the replica holds the write."""
    config = current_app.config
    return max(
        float(config["READ_YOUR_WRITES_SECONDS"]),
        float(config["REPLICA_MAX_LAG_SECONDS"]) + float(config["REPLICA_CHECK_SECONDS"]),
    )


def recently_wrote() -> bool:
    """Whether this browser sent a state-changing request within the window."""
    wrote_at = session.get(WROTE_AT)
    if not isinstance(wrote_at, (int, float)):
        return False
    return time.time() - wrote_at < read_your_writes_seconds()


def remember_writes(response: Response) -> Response:
    """After-request hook: a browser's state-changing request stamps its session (only
    when a replica is configured: otherwise nothing reads it)."""
    if request.method not in SAFE_METHODS and not is_api_request() and replica_engine() is not None:
        session[WROTE_AT] = round(time.time(), 3)
    return response


def reads_replica(view: Callable[..., Any]) -> Callable[..., Any]:
    """The view's reads go to the replica when it is configured, reachable and caught up,
    and this browser wrote nothing within the window; else to the primary."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        with replica_reads(wanted=not recently_wrote()):
            return view(*args, **kwargs)

    return wrapped
