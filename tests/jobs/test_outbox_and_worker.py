"""No job is ever lost: the outbox row survives Redis being down, the relay hands it over, a
real RQ worker (in a subprocess and in process) delivers it; retries and the failed jobs page."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import Job

from tenants.core.extensions import db
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import JOBS
from tenants.jobs.worker import relay
from tenants.models import Organization, QueuedJob
from tests.conftest import PASSWORD, text_of
from tests.jobs.conftest import REDIS_URL, burst_worker, dead_redis_url, worker_process


def _pending() -> list[QueuedJob]:
    return db.session.scalars(
        sa.select(QueuedJob).where(
            QueuedJob.dispatched_at.is_(None), QueuedJob.finished_at.is_(None)
        )
    ).all()


def test_redis_down_the_portal_still_creates_an_organization_and_the_relay_delivers_later(
    app, client, auth, redis, smtp_server, create_reseller, create_reseller_staff
):
    reseller = create_reseller(name="Down Telecom")
    agent = create_reseller_staff(reseller, name="Andy Agent")
    assert auth.login(agent.email).status_code == 302
    app.config["REDIS_URL"] = dead_redis_url()

    response = client.post(
        "/customers/new",
        data={
            "name": "Outage SL",
            "country": "ES",
            "currency": "",
            "timezone": "",
            "pricing_model": "prepaid",
            "billing_type": "company",
            "billing_email": "billing@outage.example",
            "owner_name": "Olga Owner",
            "owner_email": "olga@outage.example",
        },
    )
    assert response.status_code == 302
    org = db.session.scalar(sa.select(Organization).where(Organization.name == "Outage SL"))
    assert response.headers["Location"].endswith(f"/organizations/{org.id}/")
    (job,) = _pending()
    assert job.name == "send_invitation"
    job_id = job.id
    assert smtp_server.messages == []

    # Redis is back: one relay run hands the row over; a real worker process delivers it.
    app.config["REDIS_URL"] = redis.connection_pool.connection_kwargs and app.config["REDIS_URL"]
    app.config["REDIS_URL"] = REDIS_URL
    assert relay() == 1
    assert _pending() == []
    worker_process(app, "worker", "--burst")

    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "olga@outage.example"
    assert "Outage SL" in text_of(message)
    job = db.session.get(QueuedJob, job_id)
    assert job.finished_at is not None and job.attempts == 1


def test_a_committed_service_change_survives_redis_down_and_runs_once_after_relay(
    app, redis, smtp_server, create_reseller, create_organization
):
    app.config["REDIS_URL"] = dead_redis_url()
    org = create_organization(create_reseller(), owner_email="kept@example.com")
    assert org.id  # the change committed although Redis is down
    (job,) = _pending()
    app.config["REDIS_URL"] = REDIS_URL
    assert relay() == 1
    assert relay() == 0  # handed over once
    burst_worker(app)
    burst_worker(app)
    smtp_server.wait_for(1)
    assert [m["To"] for m in smtp_server.messages] == ["kept@example.com"]
    assert db.session.get(QueuedJob, job.id).finished_at is not None


def test_the_relay_command_hands_the_backlog_over(
    app, runner, redis, create_reseller, create_organization
):
    app.config["REDIS_URL"] = dead_redis_url()
    create_organization(create_reseller())
    result = runner.invoke(args=["jobs", "relay"])
    assert "0 pending job(s)" in result.output
    app.config["REDIS_URL"] = REDIS_URL
    result = runner.invoke(args=["jobs", "relay"])
    assert "1 pending job(s) handed over" in result.output, result.output
    assert _pending() == []


def test_jobs_are_handed_to_rq_with_retries_and_growing_backoff(
    app, redis, create_reseller, create_organization
):
    app.config["JOB_RETRY_INTERVALS"] = [10, 60, 300]
    create_organization(create_reseller())
    (job_id,) = db.session.scalars(sa.select(QueuedJob.id)).all()
    rq_job = Job.fetch(job_id, connection=redis)
    assert rq_job.retries_left == 3
    assert rq_job.retry_intervals == [10, 60, 300]
    assert rq_job.args == (job_id,)


def test_a_failing_job_is_recorded_listed_and_retried_from_the_platform_page(
    app, client, auth, redis, create_platform_staff, create_reseller, create_organization
):
    # SMTP unreachable: the invitation fails, is retried once (interval 0), then gives up.
    from tests.conftest import free_port

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), WTF_CSRF_ENABLED=True)
    org = create_organization(create_reseller(), owner_email="late@example.com")
    burst_worker(app)
    db.session.expire_all()
    (job,) = db.session.scalars(sa.select(QueuedJob)).all()
    assert job.finished_at is None
    assert job.attempts == 2  # the first try and its retry
    assert "ConnectionRefusedError" in job.last_error
    assert job.failed_at is not None  # gave up: the reaper leaves it to the page's Retry

    admin = create_platform_staff(email="root@platform.example")
    login = client.get("/login")
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', login.data).group(1)
    client.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token})
    overview = client.get("/platform/")
    assert b"/platform/jobs" in overview.data
    page = client.get("/platform/jobs")
    assert page.status_code == 200
    assert job.id.encode() in page.data and b"send_invitation" in page.data
    assert b"ConnectionRefusedError" in page.data
    row = re.search(rb'<tr data-job-id="' + job.id.encode() + rb'"[^>]*>.*?</tr>', page.data, re.S)
    assert b'data-status="failed"' in row.group(0) and b"Gave up" in row.group(0)
    assert b"/retry" in row.group(0)

    # Without the CSRF token nothing happens.
    assert client.post(f"/platform/jobs/{job.id}/retry").status_code == 400

    # SMTP is back; Retry requeues the job and the worker delivers it.
    from aiosmtpd.controller import Controller

    from tests.conftest import SMTPRecorder

    recorder = SMTPRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=app.config["MAIL_PORT"])
    controller.start()
    try:
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.data).group(1)
        response = client.post(f"/platform/jobs/{job.id}/retry", data={"csrf_token": token})
        assert response.status_code == 302
        burst_worker(app)
        (message,) = recorder.wait_for(1)
        assert message["To"] == "late@example.com"
    finally:
        controller.stop()
    db.session.expire_all()
    assert db.session.get(QueuedJob, job.id).finished_at is not None
    assert job.id.encode() not in client.get("/platform/jobs").data
    assert org.id


def test_a_job_rq_still_retries_is_listed_as_retrying_without_a_retry_button(
    app, client, auth, create_platform_staff
):
    """A failure with an attempt left is no failure yet: the page says Retrying and offers
    no Retry (RQ's scheduler runs it again); a job that gave up says Gave up, with Retry."""
    retrying = QueuedJob(
        name="send_invitation", kwargs={}, attempts=1, last_error="boom\nSMTP down"
    )
    gave_up = QueuedJob(name="send_invitation", kwargs={}, attempts=5, last_error="boom\nrefused")
    db.session.add_all([retrying, gave_up])
    db.session.flush()
    gave_up.failed_at = gave_up.created_at
    db.session.commit()
    admin = create_platform_staff(email="root@platform.example")
    auth.login(admin.email)
    for language, retrying_label, gave_up_label in (
        ("en", b"Retrying", b"Gave up"),
        ("es", b"Reintentando", b"Abandonado"),
    ):
        admin.language = language
        db.session.commit()
        page = client.get("/platform/jobs")
        assert page.status_code == 200
        rows = {
            match.group(1): match.group(0)
            for match in re.finditer(rb'<tr data-job-id="([^"]+)"[^>]*>.*?</tr>', page.data, re.S)
        }
        assert b'data-status="retrying"' in rows[retrying.id.encode()]
        assert retrying_label in rows[retrying.id.encode()]
        assert b"/retry" not in rows[retrying.id.encode()]
        assert b'data-status="failed"' in rows[gave_up.id.encode()]
        assert gave_up_label in rows[gave_up.id.encode()]
        assert b"/retry" in rows[gave_up.id.encode()]


def test_only_platform_admins_see_the_jobs_and_sms_pages(
    client, auth, create_platform_staff, create_reseller, create_reseller_staff
):
    from tenants.models import PlatformRole

    support = create_platform_staff(role=PlatformRole.SUPPORT)
    auth.login(support.email)
    assert client.get("/platform/jobs").status_code == 403
    assert client.get("/platform/sms").status_code == 403
    auth.logout()
    agent = create_reseller_staff(create_reseller())
    auth.login(agent.email)
    assert client.get("/platform/jobs").status_code == 403
    assert client.post("/platform/jobs/job_00000000000000000000000000/retry").status_code == 403


def test_without_redis_jobs_run_in_process_after_commit(
    app, smtp_server, create_reseller, create_organization
):
    create_organization(create_reseller(), owner_email="embedded@example.com")
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "embedded@example.com"
    (job,) = db.session.scalars(sa.select(QueuedJob)).all()
    assert job.finished_at is not None and job.dispatched_at is None


@pytest.mark.parametrize("registered", [False, True])
def test_the_monthly_invoice_run_is_scheduled_by_job_name(app, redis, monkeypatch, registered):
    from tenants.jobs import registry, worker

    calls = []
    if registered:
        monkeypatch.setitem(registry.JOBS, worker.MONTHLY_INVOICES_JOB, lambda: calls.append(1))
    else:
        monkeypatch.delitem(registry.JOBS, worker.MONTHLY_INVOICES_JOB, raising=False)
    redis.delete(*redis.keys("portal:schedule:*") or ["none"])
    first = worker.schedule_monthly_invoices()
    second = worker.schedule_monthly_invoices()  # same hour: asked once across workers
    assert (first, second) == (registered, False)
    if registered:
        burst_worker(app)
        assert calls == [1]
    redis.delete(*redis.keys("portal:schedule:*") or ["none"])


def test_a_job_queued_under_the_old_dotted_path_still_runs(
    app, redis, smtp_server, create_reseller, create_organization
):
    # Jobs handed to Redis before the registry name "tenants.jobs.run_queued_job".
    app.config["REDIS_URL"] = dead_redis_url()
    create_organization(create_reseller(), owner_email="queued.before@example.com")
    (job,) = _pending()
    app.config["REDIS_URL"] = REDIS_URL
    Queue(app.config["RQ_QUEUE"], connection=redis).enqueue(
        "tenants.jobs.run_queued_job", job.id, job_id=job.id
    )
    burst_worker(app)
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "queued.before@example.com"
    db.session.expire_all()
    assert db.session.get(QueuedJob, job.id).finished_at is not None


def test_a_job_name_nobody_registered_is_refused(app):
    with pytest.raises(KeyError):
        enqueue("send_carrier_pigeon", organization_id="org_x")
    assert db.session.scalars(sa.select(QueuedJob)).all() == []


def test_every_job_name_stored_in_queued_rows_is_registered(app):
    # Rows already in queued_jobs name these jobs: renaming one strands them.
    assert sorted(JOBS) == sorted(
        [
            "send_password_reset",
            "send_invitation",
            "send_invoice_email",
            "run_monthly_invoices",
            "send_receipt",
            "send_low_balance_email",
            "send_low_balance_sms",
            "send_low_pool_email",
            "auto_top_up",
            "send_auto_top_up_failed",
            "send_support_session_started",
            "expire_pending_purchases",
            "send_organization_suspended",
            "send_change_request_received",
            "send_change_request_decided",
            "expire_ownership_transfers",
            "send_ownership_transfer_email",
            "send_message_batch",
            "apply_delivery_reports",
            "refresh_forecasts",
            "send_forecast_email",
            "send_forecast_sms",
            "run_campaign",
            "report_campaign_run",
            "send_campaign_approval_request",
            "send_campaign_notice",
        ]
    )


def test_jobs_health_says_which_parts_beat_lately_and_the_oldest_incomplete_job(
    app, runner, redis, create_reseller, create_organization
):
    from tenants.jobs.supervisor import record_beats

    create_organization(create_reseller())  # one invitation handed over, not run yet
    result = runner.invoke(args=["jobs", "health"])
    assert result.exit_code == 1
    assert "worker: DOWN (never seen)" in result.output
    # The invitation was recorded just now (a second or two on a busy machine).
    assert re.search(r"oldest incomplete job: [0-5] s\n", result.output), result.output
    assert "UNHEALTHY" in result.output

    burst_worker(app)
    # Beats recorded after the run: how long the run took on a loaded machine is not the
    # subject here (a part that beat 30 s ago or more is DOWN, tested above and below).
    record_beats(["worker", "scheduler", "relay"])
    result = runner.invoke(args=["jobs", "health"])
    assert result.exit_code == 0, result.output
    assert "scheduler: alive" in result.output and "oldest incomplete job: none" in result.output


def test_a_worker_stops_at_once_however_its_command_listener_was_left(app, redis):
    """RQ's command listener waits 60 s for a message; once it has seen the unsubscribe it is
    no longer subscribed and redis-py sleeps that long, and stopping joins it. A burst's end
    (and a SIGTERM) took up to a minute; the portal's worker waits a second at most."""
    import time

    from tenants.jobs.outbox import rq_queue, worker_redis_connection
    from tenants.jobs.worker import PortalWorker

    connection = worker_redis_connection()
    worker = PortalWorker([rq_queue(connection)], connection=connection, app=app)
    try:
        worker.subscribe()
        time.sleep(0.3)  # the listener is waiting for a message
        worker.pubsub.unsubscribe()
        time.sleep(0.5)  # it has seen the unsubscribe and waits again, subscribed to nothing
        started = time.monotonic()
        worker.pubsub_thread.stop()
        worker.pubsub_thread.join(timeout=90)
        assert time.monotonic() - started < 5
    finally:
        connection.close()


@pytest.mark.parametrize("recycling", [True, False], ids=["recycling", "one-process"])
def test_an_idle_worker_stops_on_sigterm(app, redis, recycling, tmp_path):
    """``flask jobs worker`` waiting for jobs stops on one SIGTERM (systemd's stop, docker
    stop), whether or not it recycles its job process. RQ raises its stop while idle
    without marking the worker stopped, so the one-process worker used to start RQ's loop
    again and run until killed."""
    import signal
    import subprocess
    import sys
    import time

    from tests.jobs.conftest import ROOT, worker_env

    app.config.update(
        WORKER_MAX_JOBS=100 if recycling else 0, WORKER_MAX_RSS_MB=400 if recycling else 0
    )
    log = tmp_path / "worker.log"
    db.session.remove()
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "jobs", "worker"],
            cwd=ROOT,
            env=worker_env(app),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "Listening on" not in log.read_text() and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()
            time.sleep(0.2)
        time.sleep(1)  # idle: waiting for a job
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        raise AssertionError("the worker did not stop on SIGTERM:\n" + log.read_text()) from None
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, log.read_text()
