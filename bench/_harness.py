"""Shared pieces of the bench scripts: a throw-away database, gunicorn, wrk, percentiles."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def recommended_workers() -> int:
    """The README's production worker count: 2 x cores + 1."""
    return 2 * (os.cpu_count() or 1) + 1


@contextmanager
def fresh_database(prefix: str):
    """Create a new PostgreSQL database; yield its SQLAlchemy URL; drop it afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(target: str, env: dict[str, str], *, chdir: Path = ROOT, workers: int = 0):
    """Start gunicorn on a loopback port (sync workers, as the README runs it); yield the port."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "-w",
            str(workers or recommended_workers()),
            "-b",
            f"127.0.0.1:{port}",
            "--chdir",
            str(chdir),
            target,
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the workers are stopped with it
    )
    try:
        deadline = time.monotonic() + 600
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn {target} exited:\n{proc.stderr.read()[-3000:]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/nope", timeout=1)
            except urllib.error.HTTPError:
                break  # answering
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn {target} did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop gunicorn and its workers (also workers still booting when the master gave up)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the master is gone; a worker still booting is not yet
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(1)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * _UNITS[unit]


def ensure_wrk() -> str:
    """The wrk binary; installed with apt-get when missing and running as root, else a clear
    message and exit (the benchmark needs it; it is no Python dependency)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"]
        if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
            subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=False)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(
        "This benchmark needs wrk (the HTTP load generator): install it with "
        "`sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`, then run again."
    )


def wrk(url: str, script: Path, *, seconds: int, connections: int = 16) -> dict[str, float]:
    """Run wrk (loopback only); requests/s, p50, p99 (ms) and the count of non-2xx answers."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("loopback only")
    out = subprocess.run(
        [
            ensure_wrk(),
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rate": rate,
        "p50": p50,
        "p99": p99,
        "bad": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def in_process_app(url: str, name: str):
    """The portal's app on ``url`` with the benches' settings (Redis rate limiting on, a
    limit no bench reaches), for the in-process profiles (b1_profile, b6_profile)."""
    os.environ.update(DATABASE_URL=url, REDIS_URL=REDIS_URL)
    from app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": name,
            "API_RATE_LIMIT": "1000000000/minute",
        }
    )


@contextmanager
def py_spy(path: str | None, *, wall: bool = False):
    """py-spy recording this process for the block, 200 samples a second, into ``path`` (.txt:
    collapsed stacks, else a flame graph); only samples holding the GIL (CPU), or with
    ``wall`` the waits too. Nothing when ``path`` is None. py-spy is not a project
    dependency: ``pip install py-spy`` into the venv."""
    if path is None:
        yield
        return
    spy = subprocess.Popen(
        [
            str(VENV_BIN / "py-spy"),
            "record",
            "-r",
            "200",
            "--format",
            "raw" if path.endswith(".txt") else "flamegraph",
            "-o",
            path,
            "-p",
            str(os.getpid()),
            "--nonblocking",
            "--idle" if wall else "--gil",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.5)  # attached before the first sample
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait()
