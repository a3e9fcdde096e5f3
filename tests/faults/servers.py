"""Real servers a fault test breaks: a private ``redis-server`` it can SIGKILL and start again
empty, a ``flask jobs worker`` subprocess it can SIGKILL, and a gate in front of an SMTP
server that holds each new connection (a job stays mid-send) until the test opens it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from redis import Redis

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


def wait_until(condition, timeout: float = 30.0, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


class RedisServer:
    """``redis-server`` on a free loopback port without persistence: a restart is empty."""

    def __init__(self) -> None:
        # scripts/test.sh installs Redis; a missing server is a broken machine, not a skip.
        assert shutil.which("redis-server"), "redis-server is not installed"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"), *NO_PERSISTENCE],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            assert wait_until(self._answers(client), timeout=10), "redis-server did not start"
        finally:
            client.close()

    @staticmethod
    def _answers(client: Redis):
        def ping() -> bool:
            try:
                return bool(client.ping())
            except Exception:
                return False

        return ping

    def kill(self) -> None:
        """SIGKILL: everything it held is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        self.kill()


class WorkerProcess:
    """``flask --app app jobs worker`` (no burst: it runs until stopped or killed)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log_path = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "jobs", "worker"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class SmtpGate:
    """A loopback port in front of an SMTP server: while closed, each new connection waits
    (counted in ``waiting``); once opened, it and every later one reach the server."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.opened = threading.Event()
        self.stopped = threading.Event()
        self.waiting = 0
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="smtp-gate", daemon=True).start()

    def open(self) -> None:
        self.opened.set()

    def close(self) -> None:
        self.opened.clear()

    def stop(self) -> None:
        self.stopped.set()
        self.opened.set()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.sockets.append(client)
            threading.Thread(target=self._hold, args=(client,), daemon=True).start()

    def _hold(self, client: socket.socket) -> None:
        self.waiting += 1
        self.opened.wait()
        self.waiting -= 1
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        self.sockets.append(upstream)
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.close()


def fast_worker_env(env: dict[str, str]) -> dict[str, str]:
    """Short housekeeping periods so a test sees the reaper and relay within seconds."""
    return {
        **env,
        "JOB_RELAY_SECONDS": "1",
        "JOB_LOST_AFTER_SECONDS": "2",
        "JOB_HEARTBEAT_SECONDS": "0.5",
        "JOB_HEALTH_SECONDS": "10",
        "PYTHONUNBUFFERED": "1",
        "PATH": os.environ.get("PATH", ""),
    }
