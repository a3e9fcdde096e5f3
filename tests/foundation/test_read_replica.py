"""The read replica (SPEC §9, DATABASE_REPLICA_URL) against a real streaming replica: a second
PostgreSQL cluster on this machine (scripts/pg_replica.sh, made by scripts/test.sh, which
exports TEST_DATABASE_REPLICA_URL). The Customer app list, the dashboards and the CSV
exports read from it; a person's next pages after their own write read the primary; a
replica that is stopped or lags beyond the bound leaves the reads to the primary, with no
error. Proof that a page was served by the replica: a row written to the primary while
the replica's replay is paused is missing from it, and appears once replay resumes.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tenants.core.extensions import db
from tenants.core.replica import (
    REPLICA_BIND,
    forget_replica_state,
    last_replica_state,
    replica_reads,
)
from tenants.jobs.outbox import commit
from tenants.models import Organization, Reseller
from tenants.web.replica import WROTE_AT, read_your_writes_seconds
from tests.conftest import POSTGRES_URL, AuthActions
from tests.credits.conftest import fund

pytestmark = pytest.mark.postgres_only

REPLICA_ADMIN_URL = os.environ.get("TEST_DATABASE_REPLICA_URL", "")
LOCK_FILE = "/tmp/portal-tests-read-replica.lock"
REPLAY_TIMEOUT = 120.0


# ---------------------------------------------------------------------------
# The replica cluster


@pytest.fixture(scope="module")
def primary_admin():
    engine = sa.create_engine(POSTGRES_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def replica_admin():
    """The replica's ``postgres`` database; the tests fail (never skip) without one."""
    if not REPLICA_ADMIN_URL:
        pytest.fail(
            "TEST_DATABASE_REPLICA_URL is not set: the read-replica tests need a streaming "
            "replica of the test cluster (scripts/pg_replica.sh makes one; scripts/test.sh "
            "runs it and sets the variable)"
        )
    engine = sa.create_engine(
        REPLICA_ADMIN_URL,
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )
    try:
        with engine.connect() as conn:
            in_recovery = conn.scalar(sa.text("SELECT pg_is_in_recovery()"))
    except sa.exc.OperationalError as error:
        pytest.fail(f"the replica at {REPLICA_ADMIN_URL} does not answer: {error}")
    assert in_recovery, f"{REPLICA_ADMIN_URL} is not a replica (not in recovery)"
    yield engine
    engine.dispose()


@pytest.fixture
def replica_to_ourselves():
    """One test at a time pauses or stops the replica (xdist runs workers side by side)."""
    with open(LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
        fcntl.flock(lock, fcntl.LOCK_UN)


def wait_for_replay(primary_admin, replica_admin) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    with primary_admin.connect() as conn:
        lsn = conn.scalar(sa.text("SELECT pg_current_wal_lsn()"))
    deadline = time.monotonic() + REPLAY_TIMEOUT
    while time.monotonic() < deadline:
        with replica_admin.connect() as conn:
            done = conn.scalar(
                sa.text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"), {"lsn": lsn}
            )
        if done:
            return
        time.sleep(0.1)
    pytest.fail(f"the replica did not replay up to {lsn} within {REPLAY_TIMEOUT} s")


@pytest.fixture
def replica_url(database_url, replica_admin, primary_admin, replica_to_ourselves):
    """The test database on the replica, once replay has created it there."""
    name = make_url(database_url).database
    wait_for_replay(primary_admin, replica_admin)
    with replica_admin.connect() as conn:
        assert conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    return make_url(REPLICA_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def app_config(app_config, replica_url):
    forget_replica_state()
    return app_config | {
        "SQLALCHEMY_BINDS": {REPLICA_BIND: replica_url},
        "REPLICA_CHECK_SECONDS": 0,  # every request checks: no state carried between steps
        "REPLICA_MAX_LAG_SECONDS": 3600,  # a paused replica still counts as caught up
        "READ_YOUR_WRITES_SECONDS": 5,
    }


@pytest.fixture
def replayed(primary_admin, replica_admin):
    return lambda: wait_for_replay(primary_admin, replica_admin)


@contextmanager
def replay_paused(replica_admin) -> Iterator[None]:
    """The replica keeps receiving the primary's WAL but applies none of it meanwhile."""
    with replica_admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_wal_replay_pause()"))
        deadline = time.monotonic() + 30
        while conn.scalar(sa.text("SELECT pg_get_wal_replay_pause_state()")) != "paused":
            assert time.monotonic() < deadline, "replay did not pause"
            time.sleep(0.05)
    try:
        yield
    finally:
        with replica_admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_wal_replay_resume()"))


def _cluster() -> tuple[str, str]:
    """The Debian cluster (version, name) listening on the replica's port."""
    port = make_url(REPLICA_ADMIN_URL).port or 5432
    listing = subprocess.run(
        ["pg_lsclusters", "-h"], capture_output=True, text=True, check=True
    ).stdout
    for line in listing.splitlines():
        version, name, cluster_port, *_ = line.split()
        if int(cluster_port) == port:
            return version, name
    pytest.fail(f"no local PostgreSQL cluster listens on port {port} (pg_lsclusters)")


def _pg_ctlcluster(action: str, *extra: str) -> None:
    version, name = _cluster()
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action, *extra]
    if os.geteuid() != 0:
        command = ["sudo", "-n", *command]
    subprocess.run(command, check=True, capture_output=True)


@contextmanager
def replica_stopped(replica_admin) -> Iterator[None]:
    _pg_ctlcluster("stop", "-m", "fast")
    try:
        yield
    finally:
        _pg_ctlcluster("start")
        deadline = time.monotonic() + REPLAY_TIMEOUT
        while True:
            try:
                with replica_admin.connect() as conn:
                    if conn.scalar(
                        sa.text("SELECT status = 'streaming' FROM pg_stat_wal_receiver")
                    ):
                        break
            except sa.exc.OperationalError:
                pass
            assert time.monotonic() < deadline, "the replica did not stream again after restart"
            time.sleep(0.2)


# ---------------------------------------------------------------------------
# Helpers


def page(client, url: str):
    """A GET with a database session of its own, as every request has in production (the
    test's app context would otherwise keep one session, and its connections, across
    requests and into the test's own writes)."""
    db.session.remove()
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    body = response.get_data(as_text=True)
    db.session.remove()
    return body


def forget_own_writes(client) -> None:
    """Logging in is a write: it stamps the session. The tests that watch the replica start
    with the stamp gone, as it is a few seconds after logging in."""
    with client.session_transaction() as session:
        assert WROTE_AT in session
        session.pop(WROTE_AT)


def logged_in(app, email: str) -> object:
    client = app.test_client()
    assert AuthActions(client).login(email).status_code == 302
    forget_own_writes(client)
    return client


def on_replica() -> bool:
    state = last_replica_state()
    assert state is not None
    return state.usable


def primary_has(name: str) -> str | None:
    """The id of the organization named ``name`` on the primary."""
    db.session.remove()
    return db.session.scalar(sa.select(Organization.id).where(Organization.name == name))


def row_of(org_id: str) -> str:
    """The Customer app list's View link of an organization: its row is on the page."""
    return f'href="/organizations/{org_id}/"'


@pytest.fixture
def agent_reseller(create_reseller, create_reseller_staff, create_organization):
    reseller = create_reseller(name="Replica Telecom")
    agent = create_reseller_staff(reseller)
    alpha = create_organization(reseller, name="Alpha Replayed SL")
    fund(alpha, 10, reference="ref-alpha-replayed")
    return reseller.id, agent.email, alpha.id


def the_reseller(reseller_id: str) -> Reseller:
    return db.session.get(Reseller, reseller_id)


# ---------------------------------------------------------------------------
# Tests


def test_the_customer_list_dashboards_and_csv_exports_are_served_by_the_replica(
    app,
    replayed,
    replica_admin,
    agent_reseller,
    create_organization,
    create_reseller,
    create_platform_staff,
):
    reseller_id, agent, alpha_id = agent_reseller
    admin = create_platform_staff().email
    browser = logged_in(app, agent)
    platform = logged_in(app, admin)
    replayed()

    with replay_paused(replica_admin):
        # Written to the primary after the replica stopped applying changes.
        beta = create_organization(the_reseller(reseller_id), name="Beta Unreplayed SL")
        fund(beta, 10, reference="ref-beta-unreplayed")
        alpha = db.session.get(Organization, alpha_id)
        fund(alpha, 5, reference="ref-alpha-unreplayed")
        create_reseller(name="Zeta Unreplayed Telecom")
        assert primary_has("Beta Unreplayed SL")

        listing = page(browser, "/customers/")
        assert "Alpha Replayed SL" in listing
        assert "Beta Unreplayed SL" not in listing
        assert on_replica()

        everyone = page(browser, "/credits/reseller-log.csv")
        assert "ref-alpha-replayed" in everyone
        assert "ref-beta-unreplayed" not in everyone
        log = page(browser, f"/organizations/{alpha_id}/credits/log.csv")
        assert "ref-alpha-replayed" in log
        assert "ref-alpha-unreplayed" not in log
        shown = page(browser, f"/organizations/{alpha_id}/credits/log")
        assert "ref-alpha-replayed" in shown
        assert "ref-alpha-unreplayed" not in shown

        overview = page(platform, "/platform/")
        assert "Replica Telecom" in overview
        assert "Zeta Unreplayed Telecom" not in overview

    replayed()
    assert "Beta Unreplayed SL" in page(browser, "/customers/")
    assert on_replica()
    assert "ref-beta-unreplayed" in page(browser, "/credits/reseller-log.csv")
    assert "ref-alpha-unreplayed" in page(browser, f"/organizations/{alpha_id}/credits/log.csv")
    assert "Zeta Unreplayed Telecom" in page(platform, "/platform/")


def test_in_a_replica_block_reads_run_on_the_replica_and_writes_on_the_primary(
    app, replayed, create_reseller
):
    reseller = create_reseller(name="Block Telecom")
    reseller_id = reseller.id
    replayed()
    recovery = sa.select(sa.func.pg_is_in_recovery())

    with replica_reads() as from_replica:
        assert from_replica
        assert db.session.scalar(recovery) is True
        assert db.session.scalar(sa.text("SELECT pg_is_in_recovery()")) is True
        assert db.session.get(Reseller, reseller_id).name == "Block Telecom"
        # Writes, row locks and raw connections: the primary (the replica would refuse them).
        db.session.get(Reseller, reseller_id).name = "Block Telecom Renamed"
        db.session.flush()
        db.session.execute(
            sa.update(Reseller).where(Reseller.id == reseller_id).values(name="Block Renamed")
        )
        locked = db.session.execute(
            sa.select(Reseller.name, sa.func.pg_is_in_recovery())
            .where(Reseller.id == reseller_id)
            .with_for_update()
        ).one()
        assert tuple(locked) == ("Block Renamed", False)
        assert db.session.connection().scalar(sa.text("SELECT pg_is_in_recovery()")) is False
    commit()
    assert db.session.scalar(recovery) is False

    with replica_reads(wanted=False) as from_replica:
        assert not from_replica
        assert db.session.scalar(recovery) is False


def test_a_persons_next_pages_after_their_own_write_read_the_primary(
    app, replayed, replica_admin, agent_reseller, create_reseller_staff
):
    reseller_id, agent, _alpha_id = agent_reseller
    colleague = create_reseller_staff(the_reseller(reseller_id)).email
    mine = logged_in(app, agent)
    theirs = logged_in(app, colleague)
    replayed()

    with replay_paused(replica_admin):
        db.session.remove()
        created = mine.post(
            "/customers/new",
            data={
                "name": "Gamma Own Write SL",
                "country": "ES",
                "currency": "",
                "timezone": "",
                "pricing_model": "prepaid",
                "billing_type": "company",
                "billing_email": "billing@gamma.example",
                "owner_name": "Gina Owner",
                "owner_email": "gina@gamma.example",
            },
        )
        assert created.status_code == 302
        gamma = primary_has("Gamma Own Write SL")
        assert gamma

        # The writer sees it at once; a colleague, reading the paused replica, not yet.
        assert row_of(gamma) in page(mine, "/customers/")
        assert row_of(gamma) not in page(theirs, "/customers/")
        assert on_replica()

        # Once the window is over the writer reads the replica too.
        with mine.session_transaction() as session:
            session[WROTE_AT] -= read_your_writes_seconds() + 1
        assert row_of(gamma) not in page(mine, "/customers/")

    replayed()
    assert row_of(gamma) in page(theirs, "/customers/")


def test_a_stopped_replica_leaves_the_reads_to_the_primary_without_an_error(
    app, replayed, replica_admin, agent_reseller, create_organization
):
    reseller_id, agent, alpha_id = agent_reseller
    browser = logged_in(app, agent)
    replayed()
    assert "Alpha Replayed SL" in page(browser, "/customers/")
    assert on_replica()  # a pooled connection to the replica now exists
    attempts: list[bool] = []
    sa.event.listen(db.engines[REPLICA_BIND], "do_connect", lambda *args: attempts.append(True))

    with replica_stopped(replica_admin):
        create_organization(the_reseller(reseller_id), name="Delta While Down SL")
        assert "Delta While Down SL" in page(browser, "/customers/")
        assert last_replica_state().reason == "unreachable"
        assert "ref-alpha-replayed" in page(browser, "/credits/reseller-log.csv")
        assert "ref-alpha-replayed" in page(browser, f"/organizations/{alpha_id}/credits/log.csv")

        # Within REPLICA_CHECK_SECONDS a replica found down is not tried again.
        app.config["REPLICA_CHECK_SECONDS"] = 60
        tried = len(attempts)
        assert "Delta While Down SL" in page(browser, "/customers/")
        assert len(attempts) == tried
        app.config["REPLICA_CHECK_SECONDS"] = 0

    replayed()
    assert "Delta While Down SL" in page(browser, "/customers/")
    assert on_replica()


def test_a_replica_lagging_beyond_the_bound_leaves_the_reads_to_the_primary(
    app, replayed, replica_admin, agent_reseller, create_organization
):
    reseller_id, agent, _alpha_id = agent_reseller
    browser = logged_in(app, agent)
    replayed()
    app.config["REPLICA_MAX_LAG_SECONDS"] = 1

    with replay_paused(replica_admin):
        create_organization(the_reseller(reseller_id), name="Epsilon Lagging SL")
        time.sleep(1.5)  # the replica's last replayed commit is now older than the bound
        assert "Epsilon Lagging SL" in page(browser, "/customers/")
        state = last_replica_state()
        assert (state.usable, state.reason) == (False, "lagging")
        assert state.lag_seconds > 1

        # Within the bound, the same paused replica is read (and the row is not there yet).
        app.config["REPLICA_MAX_LAG_SECONDS"] = 3600
        assert "Epsilon Lagging SL" not in page(browser, "/customers/")
        assert on_replica()

    replayed()
    assert "Epsilon Lagging SL" in page(browser, "/customers/")
    assert on_replica()
