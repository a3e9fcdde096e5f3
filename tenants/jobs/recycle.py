"""Bounded worker memory: the job worker runs in a child process that is replaced now and then.

Rendering a PDF with WeasyPrint leaves ~300 KB behind in native memory (Pango, fontconfig,
the allocator) that neither Python's garbage collector nor ``malloc_trim`` gives back (see
bench/README.md, "Worker memory"). So ``flask jobs worker`` forks a child that runs the RQ
worker; the child stops itself cleanly after WORKER_MAX_JOBS jobs or, after a job, once its
resident memory passes WORKER_MAX_RSS_MB, and exits with ``RECYCLE_EXIT``; the parent then
forks a fresh one. The parent never runs a job, so its memory stays as it was at start.

A fork, not a new interpreter: the child shares the parent's imported code and app (no
start-up cost). It drops what it must not share: SQLAlchemy's pool (``dispose(close=False)``
leaves the parent's connections open for the parent) and the cached Redis clients. The child
gets a process group of its own, so a Ctrl-C reaches it once, forwarded by the parent, and it
is killed if the parent dies. The parent keeps the supervisor's other parts (scheduler,
relay, monitor: tenants.jobs.supervisor), which run no job.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

RECYCLE_EXIT = 75  # the child finished its share of jobs: start a new one
# Held by the supervisor's threads around each round and by the fork: a thread forked in the
# middle of a query could leave a lock (SQLAlchemy's caches, a pool) held forever in the child.
FORK_LOCK = threading.Lock()
_PR_SET_PDEATHSIG = 1


def rss_mb(pid: int | str = "self") -> float | None:
    """The resident memory of a process in MB (Linux /proc), None where unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def tree_rss_mb(pid: int) -> float:
    """The resident memory of a process and all its descendants in MB (shared pages counted
    in each process, as ``ps`` does); 0 where /proc is not there."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += rss_mb(current) or 0.0
        todo.extend(children.get(current, ()))
    return total


class RecyclingWorker:
    """Stands in for the RQ worker in ``flask jobs worker`` (its supervisor pings
    ``connection``, calls ``work`` and reads ``_stop_requested``): ``work`` runs real workers
    from ``make_worker`` in forked children, each stopping after ``max_jobs`` jobs (or above
    its memory, ``spent``) and replaced by a fresh one, until one stops for another reason."""

    def __init__(
        self, make_worker: Callable[[], object], prepare_child: Callable[[], None], max_jobs: int
    ) -> None:
        self.make_worker, self.prepare_child = make_worker, prepare_child
        self.max_jobs = max_jobs or None
        self.connection = make_worker().connection  # the parent's, for the supervisor's ping
        self.max_connection_wait_time = 60.0
        self._stop_requested = False

    def work(self, **kwargs) -> bool:
        status, self._stop_requested = run_generations(lambda: self._generation(kwargs))
        return status == 0

    def _generation(self, kwargs: dict) -> int:
        self.prepare_child()
        worker = self.make_worker()
        worker.max_connection_wait_time = self.max_connection_wait_time
        worker.work(max_jobs=self.max_jobs, **kwargs)
        return RECYCLE_EXIT if worker.spent(self.max_jobs) else 0


def run_generations(child: Callable[[], int]) -> tuple[int, bool]:
    """Run ``child`` in forked processes, one after another while each exits with
    RECYCLE_EXIT; the last one's exit status (0 for a recycle, 1 for a signal that ended
    it) and whether SIGTERM or SIGINT asked this process to stop (forwarded to the child)."""
    stopping = False
    pid = 0

    def forward(signum, frame):
        nonlocal stopping
        stopping = True
        if pid:
            os.kill(pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            with FORK_LOCK:  # no other thread is mid-query, holding a lock the child needs
                pid = os.fork()
            if pid == 0:  # pragma: no cover - the child leaves through os._exit
                os._exit(_run_child(child, previous))
            status = _wait(pid)
            if status != RECYCLE_EXIT or stopping:
                return (0 if status == RECYCLE_EXIT else status), stopping
            log.info("job worker %s recycled; starting a fresh one", pid)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_child(child: Callable[[], int], handlers: dict) -> int:
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
    try:
        os.setpgid(0, 0)
        _die_with_parent()
        return child()
    except BaseException:  # a child must never return into the parent's loop
        log.exception("job worker child failed")
        return 1
    finally:
        logging.shutdown()


def _wait(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
        if os.WIFEXITED(status):
            return os.WEXITSTATUS(status)
        return 1


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (elsewhere: nothing): a worker
    killed is killed with its job, which the reaper hands over again (jobs are idempotent);
    a stop asked for (SIGTERM, Ctrl-C) reaches the child through the parent instead."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
