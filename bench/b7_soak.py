"""B7 (soak): mixed API traffic at a fixed rate for 30 minutes, with paid purchases whose
receipts are rendered and emailed by a real ``flask jobs worker``.

    .venv/bin/python bench/b7_soak.py [--minutes 30] [--rate 100] [--window 5]

Creates a fresh PostgreSQL database (100 prepaid organizations with individual user credits,
a reseller API key, a price list), an SMTP sink on loopback (aiosmtpd) that counts what it
receives, the portal under gunicorn (the README's worker count, sync workers) and one
``flask jobs worker`` (its scheduler, relay and recycling included), all as production runs
them. Then an open-loop client sends ``--rate`` requests a second — each one is due at a fixed
time, and its latency counts from that time, so a slow answer delays nothing that follows
and hides nothing (no coordinated omission). The mix, per 100 requests:

    25 GET  /organizations?limit=20        15 GET  /organizations/{id}
    15 GET  /organizations/{id}/balance    10 GET  /organizations/{id}/movements?limit=20
    25 POST /organizations/{id}/usage       5 POST /organizations/{id}/transfers
     5 POST /organizations/{id}/purchases  (sandbox card: paid at once, a receipt PDF emailed)

Baseline, same run, same rate and client: ``bench/floor_app.py`` (bare Flask + psycopg, usage
only) for one minute before the soak. Every ``--window`` minutes it prints the window's
requests, errors, p50/p99/max, the web and worker process trees' resident memory (from /proc)
and the receipts emailed so far. At the end it waits for every receipt and checks each paid
purchase was emailed exactly once. Exits 1 when a target is missed: 0 errors, p99 < 100 ms,
web and worker RSS within ±50 MB of their level at the end of the first window.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (
    REDIS_URL,
    ROOT,
    free_port,
    fresh_database,
    gunicorn,
    percentile,
    recommended_workers,
)
from bench._report import figure

ORGS = 100
TOLERANCE_MB = 50
MAX_P99_MS = 100.0
GOOD_CARD = "4242424242424242"
MIX = (
    ("list", 25),
    ("organization", 15),
    ("balance", 15),
    ("movements", 10),
    ("usage", 25),
    ("transfer", 5),
    ("purchase", 5),
)


# -- the SMTP sink --------------------------------------------------------------------------


class Sink:
    """An aiosmtpd server on loopback that counts messages per recipient and subject."""

    def __init__(self) -> None:
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.lock = threading.Lock()
        self.receipts: dict[str, int] = {}
        self.messages = 0
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        import email

        message = email.message_from_bytes(envelope.content)
        with self.lock:
            self.messages += 1
            receipt = message.get("X-Bench-Receipt") or _receipt_number(message)
            if receipt:
                self.receipts[receipt] = self.receipts.get(receipt, 0) + 1
        return "250 OK"

    def stop(self) -> None:
        self.controller.stop()


def _receipt_number(message) -> str | None:
    """The receipt's PDF file name: one per receipt, whatever the language of the mail."""
    for part in message.walk():
        name = part.get_filename()
        if name and name.lower().endswith(".pdf"):
            return name
    return None


# -- seeding --------------------------------------------------------------------------------


def seed(url: str) -> tuple[list[tuple[str, str]], str]:
    """ORGS prepaid organizations with individual user credits and a funded pool;
    ([(org id, owner member id)], reseller API key)."""
    from app import create_app
    from tenants.access.actors import SYSTEM
    from tenants.api_keys.operations import create_api_key
    from tenants.core.extensions import db
    from tenants.jobs.outbox import commit
    from tenants.organizations.operations import NewOrganization, create_organization
    from tenants.resellers.operations import create_reseller
    from tenants.wholesale.operations import add_lot
    from tests.conftest import owner_of, set_prices
    from tests.credits.conftest import fund

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
    orgs = []
    with app.app_context():
        db.create_all()
        reseller = create_reseller(SYSTEM, f"Soak {uuid.uuid4().hex[:6]}")
        # Its wholesale pool: the credits it gives its customers come out of it.
        add_lot(SYSTEM, reseller, credits=10**9, unit_cost=0, currency="EUR", opening_balance=True)
        commit()
        set_prices(reseller)
        for i in range(ORGS):
            org = create_organization(
                SYSTEM,
                reseller,
                NewOrganization(
                    name=f"Soak {i:03d}",
                    country="ES",
                    pricing_model="prepaid",
                    owner_name=f"Owner {i:03d}",
                    owner_email=f"owner{i:03d}@soak.example",
                ),
            )
            org.individual_user_credits = True
            commit()
            fund(org, 10**6)  # 30 minutes use about 500 credits an organization
            fund(org, 10**6, f"member:{owner_of(org).id}")
            orgs.append((org.id, owner_of(org).id))
        _key, secret = create_api_key(SYSTEM, reseller=reseller, name="b7")
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        db.session.remove()
        db.engine.dispose()
    return orgs, secret


# -- the client -----------------------------------------------------------------------------


@dataclass
class Window:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    purchases: int = 0


class Client:
    """Open loop: request n is due at start + n / rate; a pool of threads, each with its own
    keep-alive connection, sends it; latency counts from the due time."""

    def __init__(self, port: int, secret: str, orgs: list[tuple[str, str]], floor: bool):
        self.port, self.secret, self.orgs, self.floor = port, secret, orgs, floor
        self.local = threading.local()
        self.lock = threading.Lock()
        self.window = Window()
        self.paid: list[str] = []
        self.run = uuid.uuid4().hex[:8]
        self.numbers = itertools.count()
        self.accounts: list[str] = []
        self.first_answers: dict[str, bytes] = {}  # the first answer of each kind of error
        self.by_kind: dict[str, list[float]] = {}

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        return conn

    def _request(self, kind: str) -> tuple[str, str, dict | None]:
        org, member = random.choice(self.orgs)
        base = f"/api/v1/organizations/{org}"
        if self.floor:
            account = random.choice(self.accounts)
            body = {"credits": 1, "reference": f"b7-{self.run}-{next(self.numbers)}"}
            return "POST", f"/accounts/{account}/usage", body
        if kind == "list":
            return "GET", "/api/v1/organizations?limit=20", None
        if kind == "organization":
            return "GET", base, None
        if kind == "balance":
            return "GET", f"{base}/balance", None
        if kind == "movements":
            return "GET", f"{base}/movements?limit=20", None
        if kind == "usage":
            body = {
                "credits": 1,
                "account": f"member:{member}",
                "reference": f"b7-{self.run}-{next(self.numbers)}",
            }
            return "POST", f"{base}/usage", body
        if kind == "transfer":
            return (
                "POST",
                f"{base}/transfers",
                {"from": "system", "to": f"member:{member}", "credits": 1},
            )
        body = {
            "credits": 100,
            "account": "system",
            "payment_method": "sandbox",
            "card_number": GOOD_CARD,
        }
        return "POST", f"{base}/purchases", body

    def send(self, kind: str, due: float) -> None:
        method, path, body = self._request(kind)
        headers = {"Authorization": f"Bearer {self.secret}"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        error, answer = None, b""
        try:
            conn = self._connection()
            try:
                conn.request(method, path, payload, headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()  # a keep-alive connection the server closed: once more
                conn.request(method, path, payload, headers)
                response = conn.getresponse()
            answer = response.read()
            if response.status >= 400:
                error = f"{kind} {response.status}"
                self.first_answers.setdefault(error, answer[:300])
        except OSError as exc:
            self.local.conn = None
            error = f"{kind} {type(exc).__name__}"
        latency = (time.monotonic() - due) * 1000
        with self.lock:
            self.window.latencies.append(latency)
            self.by_kind.setdefault(kind, []).append(latency)
            if error:
                self.window.errors[error] = self.window.errors.get(error, 0) + 1
            elif kind == "purchase":
                self.window.purchases += 1
                self.paid.append(json.loads(answer)["id"])

    def take_window(self) -> Window:
        with self.lock:
            window, self.window = self.window, Window()
        return window


def drive(client: Client, rate: float, seconds: float, on_window, window_seconds: float) -> None:
    """Send ``rate`` requests a second for ``seconds``; call ``on_window`` every window."""
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    started = time.monotonic()
    next_window = started + window_seconds
    with ThreadPoolExecutor(max_workers=64) as pool:
        for n in itertools.count():
            due = started + n / rate
            if due - started >= seconds:
                break
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            pool.submit(client.send, random.choice(kinds), due)
            if time.monotonic() >= next_window:
                on_window(time.monotonic() - started)
                next_window += window_seconds
    on_window(time.monotonic() - started)


# -- processes ------------------------------------------------------------------------------


def master_pid(port: int) -> int:
    """gunicorn's master on ``port`` (its workers are its children)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if f"127.0.0.1:{port}".encode() in cmdline and b"gunicorn" in b" ".join(cmdline):
                parent = int(stat[1])
                parent_cmd = Path(f"/proc/{parent}/cmdline").read_bytes()
                if b"gunicorn" not in parent_cmd:
                    return int(entry)
    raise RuntimeError(f"no gunicorn master on port {port}")


def tree_memory(pid: int) -> list[tuple[int, int, str, float, float]]:
    """Each process of ``pid``'s tree: pid, parent, name, RSS and PSS (shared pages divided
    among the processes sharing them) in MB, from /proc."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                    head, tail = stat.read().rsplit(")", 1)
            except OSError:
                continue
            parents[int(entry)] = int(tail.split()[1])
            names[int(entry)] = head.split("(", 1)[1]
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        memory = {"Rss:": 0.0, "Pss:": 0.0}
        try:
            with open(f"/proc/{current}/smaps_rollup", encoding="ascii") as rollup:
                for line in rollup:
                    key = line.split(":", 1)[0] + ":"
                    if key in memory:
                        memory[key] = int(line.split()[1]) / 1024
        except OSError:
            continue
        row = (current, parents.get(current, 0), names.get(current, "?"))
        found.append((*row, round(memory["Rss:"], 1), round(memory["Pss:"], 1)))
        todo.extend(child for child, parent in parents.items() if parent == current)
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time of a process, its live descendants and the children it has reaped."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        todo.extend(children.get(current, ()))
    return total / os.sysconf("SC_CLK_TCK")


def oldest_open_job_seconds(url: str) -> float:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        row = conn.execute(
            "SELECT EXTRACT(EPOCH FROM now() - min(created_at)) FROM queued_jobs "
            "WHERE finished_at IS NULL"
        ).fetchone()
    return float(row[0] or 0)


def floor_baseline(url: str, env: dict, rate: float, seconds: float) -> Window:
    """The bare floor app at the same rate with the same client: usage only."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        accounts = [
            row[0] for row in conn.execute("SELECT id FROM credit_accounts WHERE kind = 'system'")
        ]
    with gunicorn("floor_app:app", env, chdir=ROOT / "bench") as port:
        client = Client(port, "", [("", "")], floor=True)
        client.accounts = accounts
        drive(client, rate, seconds, lambda _elapsed: None, seconds + 60)
        return client.take_window()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=100, help="requests a second")
    parser.add_argument("--window", type=float, default=5, help="minutes per printed line")
    parser.add_argument("--baseline", type=float, default=60, help="seconds of floor_app")
    parser.add_argument(
        "--memory-log",
        default=str(Path(tempfile.gettempdir()) / "b7_memory.csv"),
        help="each second, every process of the worker's tree: pid, parent, RSS and PSS in MB",
    )
    parser.add_argument(
        "--worker-log",
        default=str(Path(tempfile.gettempdir()) / "b7_worker.log"),
        help="where the job worker's log is kept after the run (INFO: every job, recycle)",
    )
    args = parser.parse_args()
    workers = recommended_workers()
    failed = False
    with (
        fresh_database("bench_b7") as url,
        tempfile.TemporaryDirectory(prefix="b7-") as tmpdir,
    ):
        sink = Sink()
        orgs, secret = seed(url)
        env = {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "RQ_QUEUE": f"b7-{uuid.uuid4().hex[:8]}",
            "SECRET_KEY": "b7-soak-" + uuid.uuid4().hex,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(sink.port),
            "OUTBOX_DIR": str(Path(tmpdir) / "outbox"),
            # One key sends everything here; production keys get 6,000 a minute each.
            "API_RATE_LIMIT": "1000000/minute",
        }
        base = floor_baseline(url, env, args.rate, args.baseline)
        print(
            f"baseline floor_app, usage only, {args.rate:.0f}/s for {args.baseline:g} s: "
            f"{len(base.latencies)} requests, errors {sum(base.errors.values())}, "
            f"p50 {percentile(base.latencies, 0.5):.1f} ms, "
            f"p99 {percentile(base.latencies, 0.99):.1f} ms"
        )
        from tenants.jobs.recycle import tree_rss_mb

        log = Path(args.worker_log).open("w")  # noqa: SIM115 - closed in the finally below
        print(f"job worker log: {args.worker_log}")
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "jobs", "worker"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            with gunicorn("app:create_app()", env, workers=workers) as port:
                web = master_pid(port)
                client = Client(port, secret, orgs, floor=False)
                time.sleep(5)  # the worker's first jobs (invitations) out of the way
                print(
                    f"\nB7 soak: gunicorn -w {workers} (sync) + flask jobs worker, "
                    f"{args.rate:.0f} requests/s for {args.minutes:g} min"
                )
                print(
                    "minute  requests  errors   p50 ms   p99 ms   max ms  web MB  "
                    "worker MB  purchases  emailed  oldest job s  web CPU ms/request  worker CPU"
                )
                rows: list[dict] = []
                peak = {"worker": 0.0}

                memory_log = Path(args.memory_log).open("w")  # noqa: SIM115 - closed below
                memory_log.write("second,pid,parent,name,rss_mb,pss_mb\n")
                print(f"worker memory log: {args.memory_log}")
                started = time.monotonic()

                def watch() -> None:
                    while worker.poll() is None and not stop.is_set():
                        peak["worker"] = max(peak["worker"], tree_rss_mb(worker.pid))
                        second = time.monotonic() - started
                        for pid, parent, name, rss, pss in tree_memory(worker.pid):
                            memory_log.write(f"{second:.0f},{pid},{parent},{name},{rss},{pss}\n")
                        stop.wait(1)
                    memory_log.close()

                stop = threading.Event()
                watcher = threading.Thread(target=watch, daemon=True)
                watcher.start()
                paid_total = [0]
                cpu = {"web": cpu_seconds(web), "worker": cpu_seconds(worker.pid)}

                def on_window(elapsed: float) -> None:
                    window = client.take_window()
                    if not window.latencies:
                        return
                    paid_total[0] += window.purchases
                    spent = {
                        name: cpu_seconds(pid)
                        for name, pid in (("web", web), ("worker", worker.pid))
                    }
                    web_ms = (spent["web"] - cpu["web"]) * 1000 / len(window.latencies)
                    worker_share = (spent["worker"] - cpu["worker"]) / (elapsed - cpu.get("at", 0))
                    cpu.update(spent, at=elapsed)
                    row = {
                        "minute": elapsed / 60,
                        "requests": len(window.latencies),
                        "errors": sum(window.errors.values()),
                        "error_kinds": window.errors,
                        "p50": percentile(window.latencies, 0.5),
                        "p99": percentile(window.latencies, 0.99),
                        "max": max(window.latencies),
                        "web": tree_rss_mb(web),
                        "worker": peak["worker"],
                        "purchases": paid_total[0],
                        "emailed": len(sink.receipts),
                        "oldest": oldest_open_job_seconds(url),
                        "latencies": window.latencies,
                        "web_ms": web_ms,
                        "worker_share": worker_share,
                    }
                    peak["worker"] = 0.0
                    rows.append(row)
                    print(
                        f"{row['minute']:6.1f}  {row['requests']:8d}  {row['errors']:6d}  "
                        f"{row['p50']:7.1f}  {row['p99']:7.1f}  {row['max']:7.0f}  "
                        f"{row['web']:6.0f}  {row['worker']:9.0f}  {row['purchases']:9d}  "
                        f"{row['emailed']:7d}  {row['oldest']:12.0f}  "
                        f"{row['web_ms']:6.1f}  {row['worker_share']:6.0%}"
                        + (f"  {row['error_kinds']}" if row["errors"] else ""),
                        flush=True,
                    )

                # Warm-up, not counted: each gunicorn worker's first requests load its code.
                drive(client, args.rate, 30, lambda _elapsed: None, 60)
                client.take_window()
                client.by_kind.clear()
                drive(client, args.rate, args.minutes * 60, on_window, args.window * 60)
                deadline = time.monotonic() + 300
                while len(sink.receipts) < len(client.paid) and time.monotonic() < deadline:
                    time.sleep(1)
                stop.set()
        finally:
            os.killpg(worker.pid, 15)
            worker.wait(timeout=60)
            log.close()
            sink.stop()
        if len(rows) > 1 and rows[-1]["requests"] < args.rate * 30:
            rows.pop()  # a stub last window
        everything = [ms for r in rows for ms in r["latencies"]]
        errors = sum(r["errors"] for r in rows)
        p99 = percentile(everything, 0.99)
        web_level, worker_level = rows[0]["web"], rows[0]["worker"]
        web_drift = max(abs(r["web"] - web_level) for r in rows)
        worker_drift = max(abs(r["worker"] - worker_level) for r in rows)
        doubles = [n for n, count in sink.receipts.items() if count > 1]
        print(
            f"\nall: {len(everything)} requests, errors {errors}, "
            f"p50 {percentile(everything, 0.5):.1f} ms, p99 {p99:.1f} ms "
            f"(floor at the same rate: p99 {percentile(base.latencies, 0.99):.1f} ms)"
        )
        print(
            f"memory: web {web_level:.0f} MB at the first line, largest distance "
            f"{web_drift:.0f} MB; worker {worker_level:.0f} MB, largest distance "
            f"{worker_drift:.0f} MB (tolerance ±{TOLERANCE_MB})"
        )
        print(
            f"receipts: {len(client.paid)} paid purchases, {len(sink.receipts)} receipts "
            f"emailed, {len(doubles)} emailed twice; {sink.messages} messages in all"
        )
        for kind, samples in sorted(client.by_kind.items()):
            print(
                f"  {kind:<12} {len(samples):7d} requests  p50 {percentile(samples, 0.5):6.1f} ms"
                f"  p99 {percentile(samples, 0.99):6.1f} ms"
            )
        for error, answer in client.first_answers.items():
            print(f"first {error}: {answer.decode(errors='replace')}")
        floor_p99 = percentile(base.latencies, 0.99)
        once = len(sink.receipts) == len(client.paid) and not doubles
        rate = f"{args.rate:g}/s for {args.minutes:g} min"
        checks = [
            figure("B7", f"errors at {rate}", errors, "", "0", errors == 0),
            figure(
                "B7",
                f"p99 at {rate}",
                p99,
                "ms",
                f"< {MAX_P99_MS:.0f} ms",
                p99 < MAX_P99_MS,
                baseline=floor_p99,
                ratio=p99 / floor_p99 if floor_p99 else None,
            ),
            figure(
                "B7",
                "web RSS drift",
                web_drift,
                "MB",
                f"≤ {TOLERANCE_MB} MB",
                web_drift <= TOLERANCE_MB,
            ),
            figure(
                "B7",
                "worker RSS drift",
                worker_drift,
                "MB",
                f"≤ {TOLERANCE_MB} MB",
                worker_drift <= TOLERANCE_MB,
            ),
            figure(
                "B7",
                "receipts emailed twice or not at all",
                len(doubles) + abs(len(client.paid) - len(sink.receipts)),
                "",
                "0",
                once,
            ),
        ]
        failed |= not all(checks)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
