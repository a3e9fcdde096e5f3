"""gunicorn's settings for the portal: gunicorn reads this file from the directory it starts
in, the repository's root (the command line in README.md and docs/operations.md).

The worker count and address stay on that command line; this file holds what a command line
cannot: what a worker does once the app is loaded.
"""

from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    """The app is loaded in this worker: collect once, then move every object made so far --
    the modules, the app, SQLAlchemy's mappers -- out of the collector's reach (gc.freeze).
    A full collection then walks only what was made after, instead of about 200,000 objects
    that live as long as the worker: 96 ms once every few dozen batch requests, on the
    request it landed in (bench/README.md, session 16)."""
    gc.collect()
    gc.freeze()
