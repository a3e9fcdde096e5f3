"""B5 (campaign): a 100,000-recipient campaign from its send time to every delivery report
applied, through the sandbox gateway and two real ``flask jobs worker`` processes, beside a
plain-SQL floor of the same writes measured in the same run.

    .venv/bin/python bench/b5_campaign.py [--recipients 100000] [--spy DIR]

Creates a fresh PostgreSQL database; a prepaid organization (Spain) holding enough credits, a
contact list of ``--recipients`` numbers (COPY-ed in: the import is B5 contacts' figure), 1 %
of them ending in ``0000`` (the sandbox fails those: their credits come back as refunds).
Starts two ``flask jobs worker`` processes (the production command: RQ worker, scheduler,
relay, recycled child) on a queue of their own in BENCH_B5_REDIS_URL (Redis db 9, which no
other bench uses), with ``SMS_GATEWAY=sandbox``, the gateway's rate MESSAGE_GATEWAY_RATE and
MESSAGE_BATCH_SIZE as given below (``WORKER_NICE=0``: no web server here to yield to). Then
schedules a campaign (``create_campaign``, one GSM-7 segment) a few seconds ahead and waits for
its message to be ``done``: every recipient delivered or failed.

Measured: recipients / (the moment the message is done minus the run's due time): messages a
second end to end, RQ's scheduler picking the run up included. Target ≥ 2,000/s. Checked:
every recipient final, each reference handed to the gateway once, one refund per failed
recipient, the ledger conserved (held == bought - charged + refunded). The workers' memory:
the resident size of each worker's process tree (parent and recycled child) when idle before
the campaign and right after it; target within ±50 MB.

Baseline (the floor), in the same run after the workers stopped: one psycopg 3 connection
doing in plain SQL the rows' writes the pipeline must do, each set-based in one statement —
COPY of the recipients, INSERT … SELECT of the gateway's records, UPDATE to ``sent``, and the
reports (COPY-ed into a temporary table) applied by one UPDATE … FROM and one refund UPDATE of
the balance — no jobs, no batches, no pacing. What a single transaction of PostgreSQL needs
for the same rows on this machine: no pipeline that hands batches over and survives crashes
will reach it; the ratio says how far from it the pipeline is.

``--spy DIR``: records each worker's tree with py-spy (``pip install py-spy``, not a project
dependency; needs ptrace) into DIR/worker-N.txt (collapsed stacks, for speedscope or
flamegraph.pl) and prints where the jobs spent their samples: each job's share of all job
samples and its lines' shares (idle waiting for a job is left out).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import ROOT, VENV_BIN, fresh_database
from bench._report import figure

REDIS_URL = os.environ.get("BENCH_B5_REDIS_URL", "redis://127.0.0.1:6379/9")
TARGET_RATE = 2000.0
TOLERANCE_MB = 50
WORKERS = 2
GATEWAY_RATE = 5000  # messages/s the sandbox is configured to take (above the target)
BATCH_SIZE = 1000
TEXT = "B5: your order has shipped. Reply STOP to opt out."  # 1 GSM-7 segment
FAIL_EVERY = 100  # 1 % of the numbers end in 0000: the sandbox fails them
LEAD_SECONDS = 3  # the campaign is scheduled this far ahead of now


def numbers(count: int) -> list[str]:
    """Distinct Spanish mobiles in E.164; every FAIL_EVERY-th ends in 0000."""
    out = []
    for i in range(count):
        if i % FAIL_EVERY == 0:
            out.append(f"+347{i // FAIL_EVERY:04d}0000")
        else:
            out.append(f"+346{i + 10_000_000:08d}")
    return out


def psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def seed(url: str, mobiles: list[str]) -> dict[str, str]:
    """A reseller, a prepaid organization holding the credits, a list with ``mobiles``."""
    import psycopg

    from app import create_app
    from tenants.access.actors import SYSTEM
    from tenants.contacts import operations as contacts
    from tenants.core.extensions import db
    from tenants.core.types import new_ids, utcnow
    from tenants.credits import operations as credits
    from tenants.jobs.outbox import commit
    from tenants.models import Reseller
    from tenants.models.ledger import SYSTEM_ACCOUNT
    from tenants.organizations.operations import NewOrganization, create_organization
    from tenants.wholesale.operations import add_lot

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
    with app.app_context():
        db.create_all()
        reseller = Reseller(name="B5 campaign bench", slug=f"b5m-{uuid.uuid4().hex[:8]}")
        db.session.add(reseller)
        db.session.commit()
        # Its wholesale pool: the credits it gives its customer come out of it.
        add_lot(SYSTEM, reseller, credits=10**9, unit_cost=0, currency="EUR", opening_balance=True)
        org = create_organization(
            SYSTEM,
            reseller,
            NewOrganization(
                name="Campaign bench SL",
                country="ES",
                pricing_model="prepaid",
                owner_name="Owner",
                owner_email=f"owner-{uuid.uuid4().hex[:6]}@b5.example",
            ),
        )
        org.sender_name = "BENCH"
        credits.add_credits(SYSTEM, org, SYSTEM_ACCOUNT, 2 * len(mobiles))
        contact_list = contacts.create_list(SYSTEM, org, name="Everyone")
        commit()
        ids = {"org": org.id, "reseller": reseller.id, "list": contact_list.id}
        db.session.remove()
        db.engine.dispose()
    now = utcnow()
    with psycopg.connect(psycopg_url(url)) as conn:
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY contacts (id, reseller_id, organization_id, list_id, name, mobile,"
                " created_at) FROM STDIN"
            ) as copy,
        ):
            for id_, mobile in zip(new_ids("ct", len(mobiles)), mobiles, strict=True):
                copy.write_row((id_, ids["reseller"], ids["org"], ids["list"], None, mobile, now))
        conn.execute("ANALYZE")
    return ids


def start_workers(env: dict[str, str], logs: Path) -> list[subprocess.Popen]:
    procs = []
    for n in range(WORKERS):
        with (logs / f"worker-{n}.log").open("w") as log:
            procs.append(
                subprocess.Popen(
                    [str(VENV_BIN / "flask"), "--app", "app", "jobs", "worker"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    return procs


def wait_for_workers(queue_name: str, procs: list[subprocess.Popen]) -> None:
    """Until RQ lists every worker on the queue (each one's recycled child registered)."""
    from redis import Redis
    from rq import Queue, Worker

    connection = Redis.from_url(REDIS_URL)
    queue = Queue(queue_name, connection=connection)
    deadline = time.monotonic() + 120
    while len(Worker.all(queue=queue)) < len(procs):
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            raise SystemExit("the workers did not start (see their logs, printed above)")
        time.sleep(0.2)


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def forget_queue(queue: str) -> None:
    """The queue's keys in Redis (its finished jobs' hashes expire with RQ's result TTL)."""
    from redis import Redis

    connection = Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(f"*{queue}*"))
    if keys:
        connection.delete(*keys)
    connection.srem("rq:queues", f"rq:queue:{queue}")


def spy(procs: list[subprocess.Popen], out: Path) -> list[subprocess.Popen]:
    """py-spy on each worker's tree (``--subprocesses``: the recycled children), raw output."""
    py_spy = VENV_BIN / "py-spy"
    return [
        subprocess.Popen(
            [
                str(py_spy),
                "record",
                "--pid",
                str(proc.pid),
                "--subprocesses",
                "--format",
                "raw",
                "--rate",
                "100",
                "--output",
                str(out / f"worker-{n}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n, proc in enumerate(procs)
    ]


def _frame(text: str) -> str:
    """``function (path:line)`` with the repository's and the venv's prefixes cut."""
    name, _, where = text.partition(" (")
    where = where.rstrip(")").replace(str(ROOT) + "/", "")
    return f"{name} ({where.split('site-packages/')[-1]})"


def profile_summary(directory: Path, top: int = 12) -> None:
    """The jobs' samples (under ``run_queued_job``): per job, then per line of the jobs."""
    from collections import Counter

    jobs: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    total = 0
    for path in sorted(directory.glob("worker-*.txt")):
        for row in path.read_text().splitlines():
            stack, _, count = row.rpartition(" ")
            frames = stack.split(";")
            at = next((i for i, f in enumerate(frames) if f.startswith("run_queued_job ")), None)
            if at is None or not count.isdigit():
                continue
            total += int(count)
            below = frames[at + 1 : at + 3]
            job = below[0].split(" (")[0] if below else "run_queued_job"
            jobs[job] += int(count)
            if len(below) == 2:
                lines[f"{_frame(below[0])} > {_frame(below[1])}"] += int(count)
    if not total:
        print("py-spy recorded no job (is ptrace allowed?)")
        return
    print(f"\nprofile: {total:,} samples in jobs (100 a second)")
    for job, count in jobs.most_common(top):
        print(f"  {count / total:6.1%}  {job}")
    print("top lines (job > call):")
    for line, count in lines.most_common(top):
        print(f"  {count / total:6.1%}  {line}")


def schedule_campaign(app, ids: dict[str, str]) -> tuple[str, float]:
    """The campaign, LEAD_SECONDS ahead (its run handed to RQ's scheduler): (campaign id, the
    run's due time as a Unix time)."""
    from tenants.campaigns.operations import create_campaign
    from tenants.core.extensions import db
    from tenants.core.types import utcnow
    from tenants.jobs.outbox import commit
    from tenants.models import Organization
    from tests.conftest import owner_actor

    with app.app_context():
        org = db.session.get(Organization, ids["org"])
        due = utcnow().replace(microsecond=0) + timedelta(seconds=LEAD_SECONDS)
        campaign = create_campaign(
            owner_actor(org),
            org,
            name="B5 bench",
            list_id=ids["list"],
            text=TEXT,
            starts_at=due.isoformat(),
            repeat="none",
        )
        commit()
        campaign_id = campaign.id
        db.session.remove()
    return campaign_id, due.timestamp()


def wait_done(app, campaign_id: str, procs, samples: list) -> tuple[float, str]:
    """Poll (4 a second) until the run's message is done; (when, message id). Samples each
    worker's tree RSS meanwhile."""
    from sqlalchemy import select

    from tenants.core.extensions import db
    from tenants.jobs.recycle import tree_rss_mb
    from tenants.models import CampaignRun, Message, MessageStatus

    deadline = time.monotonic() + 1800
    message_id = None
    with app.app_context():
        while time.monotonic() < deadline:
            samples.append([tree_rss_mb(p.pid) for p in procs])
            if message_id is None:
                message_id = db.session.scalar(
                    select(CampaignRun.message_id).where(CampaignRun.campaign_id == campaign_id)
                )
            if message_id is not None:
                status = db.session.scalar(select(Message.status).where(Message.id == message_id))
                if status == MessageStatus.DONE:
                    db.session.remove()
                    return time.time(), message_id
            db.session.rollback()
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker exited during the campaign (see its log, printed above)")
            time.sleep(0.25)
    raise SystemExit("the campaign was not done in 30 minutes")


def check(url: str, ids: dict[str, str], message_id: str, count: int) -> dict[str, object]:
    """Every invariant the pipeline keeps, read in SQL."""
    import psycopg

    failing = len(range(0, count, FAIL_EVERY))
    with psycopg.connect(psycopg_url(url)) as conn:

        def one(sql: str, *args):
            return conn.execute(sql, args).fetchone()

        by_status = dict(
            conn.execute(
                "SELECT status, count(*) FROM message_recipients WHERE message_id = %s"
                " GROUP BY status",
                (message_id,),
            ).fetchall()
        )
        refunded = one(
            "SELECT count(*) FROM message_recipients WHERE message_id = %s AND refunded",
            message_id,
        )[0]
        sends, distinct = one(
            "SELECT count(*), count(DISTINCT gateway_reference) FROM sms_messages"
            " WHERE gateway = 'sandbox'"
        )
        credits, message_refunded = one(
            "SELECT credits, refunded FROM messages WHERE id = %s", message_id
        )
        refunds = one(
            "SELECT coalesce(sum(credits), 0) FROM ledger_entries WHERE organization_id = %s"
            " AND type = 'refund' AND account_kind = 'system'",
            ids["org"],
        )[0]
        held, reserved = one(
            "SELECT balance, reserved FROM credit_accounts WHERE organization_id = %s"
            " AND kind = 'system'",
            ids["org"],
        )
        times = one(
            "SELECT min(sent_at), max(sent_at), max(reported_at) FROM message_recipients"
            " WHERE message_id = %s",
            message_id,
        )
        created = one("SELECT created_at FROM messages WHERE id = %s", message_id)[0]
        jobs = conn.execute(
            "SELECT name, count(*), avg(extract(epoch FROM finished_at - started_at)),"
            " avg(extract(epoch FROM started_at - created_at)) FROM queued_jobs"
            " WHERE finished_at IS NOT NULL GROUP BY name ORDER BY name"
        ).fetchall()
    bought = 2 * count
    checks = {
        "every recipient final": by_status == {"delivered": count - failing, "failed": failing},
        "each reference handed over once": sends == distinct == count,
        "one refund per failed recipient": refunded == failing == refunds == message_refunded,
        "ledger conserved": held == bought - credits + refunds and credits == count,
        "reservation released": reserved == 0,
    }
    return {
        "checks": checks,
        "by_status": by_status,
        "held": held,
        "refunds": refunds,
        "jobs": jobs,
        "times": {
            "charged": created,
            "first sent": times[0],
            "last sent": times[1],
            "last report": times[2],
        },
    }


def floor(url: str, ids: dict[str, str], message_id: str, mobiles: list[str]) -> float:
    """The plain-SQL floor (see the module's docstring): seconds for the same rows' writes."""
    import psycopg

    from tenants.core.types import new_id, new_ids, utcnow

    floor_id = new_id("msg")
    now = utcnow()
    began = time.monotonic()
    with psycopg.connect(psycopg_url(url)) as conn:
        conn.execute(
            "INSERT INTO messages (id, reseller_id, organization_id, account, sender, text,"
            " encoding, segments, recipients, skipped, credits, refunded, postpaid, status,"
            " created_at, updated_at) SELECT %s, reseller_id, organization_id, account,"
            " sender, text, encoding, segments, recipients, skipped, credits, 0, postpaid,"
            " 'queued', created_at, updated_at FROM messages WHERE id = %s",
            (floor_id, message_id),
        )
        ids_, refs = new_ids("rcp", len(mobiles)), new_ids("ref", len(mobiles))
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY message_recipients (id, message_id, organization_id, number, status,"
                " reference, refunded) FROM STDIN"
            ) as copy,
        ):
            for id_, ref, mobile in zip(ids_, refs, mobiles, strict=True):
                copy.write_row((id_, floor_id, ids["org"], mobile, "queued", ref, False))
        conn.execute(
            'INSERT INTO sms_messages (id, "to", text, gateway, status, gateway_reference,'
            " created_at) SELECT 'sms' || substr(r.id, 4), r.number, m.text, 'floor', 'sent',"
            " r.reference, %s FROM message_recipients r JOIN messages m ON m.id = r.message_id"
            " WHERE r.message_id = %s",
            (now, floor_id),
        )
        conn.execute(
            "UPDATE message_recipients SET status = 'sent', sent_at = %s,"
            " gateway_id = 'sbx-' || reference WHERE message_id = %s AND status = 'queued'",
            (now, floor_id),
        )
        conn.execute("CREATE TEMPORARY TABLE reports (reference text, status text) ON COMMIT DROP")
        with conn.cursor() as cur, cur.copy("COPY reports FROM STDIN") as copy:
            for ref, mobile in zip(refs, mobiles, strict=True):
                copy.write_row((ref, "failed" if mobile.endswith("0000") else "delivered"))
        failed = conn.execute(
            "UPDATE message_recipients r SET status = p.status, reported_at = %s,"
            " refunded = p.status = 'failed' FROM reports p WHERE r.reference = p.reference"
            " AND r.status NOT IN ('delivered', 'failed') RETURNING r.status = 'failed'",
            (now,),
        ).fetchall()
        refund = sum(1 for (f,) in failed if f)
        conn.execute(
            "UPDATE credit_accounts SET balance = balance + %s WHERE organization_id = %s"
            " AND kind = 'system'",
            (refund, ids["org"]),
        )
        conn.execute(
            "UPDATE messages SET status = 'done', refunded = %s WHERE id = %s", (refund, floor_id)
        )
        conn.commit()  # after the pipeline's rows were checked
    return time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--spy", type=Path, help="record the workers with py-spy into DIR")
    args = parser.parse_args()
    mobiles = numbers(args.recipients)
    load = os.getloadavg()
    print(f"B5 campaign: {args.recipients:,} recipients, {WORKERS} workers, load {load[0]:.2f}")
    with fresh_database("bench_b5m") as url:
        ids = seed(url, mobiles)
        queue = f"b5m-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "RQ_QUEUE": queue,
            "SECRET_KEY": "b5-bench-" + uuid.uuid4().hex,
            "SMS_GATEWAY": "sandbox",
            "MESSAGE_GATEWAY_RATE": str(GATEWAY_RATE),
            "MESSAGE_BATCH_SIZE": str(BATCH_SIZE),
            "WORKER_NICE": "0",
            "FLASK_APP": "app",
        }
        env.pop("MAIL_SERVER", None)
        logs = Path(tempfile.mkdtemp(prefix=f"{queue}-"))
        print(f"workers' logs in {logs}")
        from app import create_app

        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": REDIS_URL, "RQ_QUEUE": queue}
        )
        procs = start_workers(env, logs)
        spies: list[subprocess.Popen] = []
        try:
            wait_for_workers(queue, procs)
            time.sleep(2)  # the workers' first rounds (relay, schedule) done
            from tenants.jobs.recycle import tree_rss_mb

            rss_start = [tree_rss_mb(p.pid) for p in procs]
            if args.spy:
                args.spy.mkdir(parents=True, exist_ok=True)
                spies = spy(procs, args.spy)
            campaign_id, due = schedule_campaign(app, ids)
            samples: list[list[float]] = []
            done, message_id = wait_done(app, campaign_id, procs, samples)
            rss_end = [tree_rss_mb(p.pid) for p in procs]
        finally:
            for s in spies:
                s.send_signal(signal.SIGINT)
                s.wait(timeout=60)
            stop(procs)
            forget_queue(queue)
        seconds = done - due
        rate = args.recipients / seconds
        found = check(url, ids, message_id, args.recipients)
        baseline = floor(url, ids, message_id, mobiles)
    floor_rate = args.recipients / baseline
    peaks = [max(s[i] for s in samples) for i in range(WORKERS)]
    drift = max(abs(e - s) for s, e in zip(rss_start, rss_end, strict=True))
    print(f"campaign  {seconds:8.2f} s  {rate:10,.0f} messages/s (due → every report applied)")
    print(f"floor     {baseline:8.2f} s  {floor_rate:10,.0f} messages/s (plain SQL, set-based)")
    due_at = found["times"]["charged"].timestamp() - due
    print(
        f"timeline (s after due): charged {due_at:.2f}; "
        + ", ".join(
            f"{name} {moment.timestamp() - due:.2f}"
            for name, moment in found["times"].items()
            if name != "charged"
        )
    )
    print(f"recipients {found['by_status']}; refunds {found['refunds']}; held {found['held']}")
    for name, jobs, run, wait in found["jobs"]:
        print(f"  {jobs:4d} x {name}: {1000 * run:7.1f} ms running, {1000 * wait:7.1f} ms waiting")
    for name, ok in found["checks"].items():
        print(f"  {'ok    ' if ok else 'BROKEN'} {name}")
    for n in range(WORKERS):
        print(
            f"worker {n}: tree RSS start {rss_start[n]:.0f} MB, end {rss_end[n]:.0f} MB"
            f" ({rss_end[n] - rss_start[n]:+.0f}), peak {peaks[n]:.0f} MB"
        )
    if args.spy:
        profile_summary(args.spy)
    print(f"load average at the end {os.getloadavg()[0]:.2f} (at the start {load[0]:.2f})")
    correct = all(found["checks"].values())
    met_rate = figure(
        "B5",
        f"{args.recipients:,}-recipient campaign, {WORKERS} workers, end to end",
        rate,
        "messages/s",
        f"≥ {TARGET_RATE:,.0f} messages/s, every invariant kept",
        rate >= TARGET_RATE and correct,
        baseline=floor_rate,
        ratio=rate / floor_rate,
    )
    met_memory = figure(
        "B5",
        "campaign worker RSS, start to end (largest of the 2)",
        drift,
        "MB",
        f"within ±{TOLERANCE_MB} MB",
        drift <= TOLERANCE_MB,
    )
    return 0 if met_rate and met_memory else 1


if __name__ == "__main__":
    sys.exit(main())
