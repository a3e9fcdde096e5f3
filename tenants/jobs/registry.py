"""The job registry: ``@job("name")`` where a job is defined; the outbox runs jobs by name.

It knows no feature. The composition root (``app.register_jobs``) imports the modules whose
functions carry ``@job``, so every name is known before the first job is asked for. A name is
stored in queued_jobs rows and in Redis: renaming a job strands the rows that name it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

Job = TypeVar("Job", bound=Callable[..., object])

JOBS: dict[str, Callable[..., object]] = {}
# What ``flask jobs worker`` runs once in its parent before forking the processes that run
# jobs (tenants.jobs.recycle): loading a heavy library there, once, instead of in each child.
WARM_UPS: list[Callable[[], object]] = []


def job(name: str) -> Callable[[Job], Job]:
    """Register the decorated function as the job ``name`` (it takes ids, never objects)."""

    def register(func: Job) -> Job:
        known = JOBS.get(name)
        # Re-importing the same module registers the same function again: harmless.
        if known is not None and _where(known) != _where(func):
            raise ValueError(f"job {name} is defined twice: {_where(known)} and {_where(func)}")
        JOBS[name] = func
        return func

    return register


def _where(func: Callable[..., object]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def warm_up(func: Job) -> Job:
    """Register ``func`` (no arguments) to run once in the job worker's parent at start: the
    children it forks inherit what it loaded."""
    if func not in WARM_UPS:
        WARM_UPS.append(func)
    return func
