"""Fixtures: an app per test on SQLite or PostgreSQL, factories, actors, log-in helper, real SMTP.

Set TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres to run the
suite on PostgreSQL: a fresh database is created for the run (one per xdist worker) and
emptied between tests.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import g
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
for _name in ("DATABASE_URL", "DATABASE_REPLICA_URL", "REDIS_URL", "MAIL_SERVER"):
    os.environ.pop(_name, None)

from app import create_app  # noqa: E402
from tenants.access.actors import SYSTEM, Actor  # noqa: E402
from tenants.core.extensions import db  # noqa: E402
from tenants.jobs.outbox import commit  # noqa: E402
from tenants.models import (  # noqa: E402
    Member,
    MemberRole,
    Organization,
    PlatformRole,
    Reseller,
    ResellerRole,
    User,
)
from tenants.resellers import pricing  # noqa: E402
from tests.app_reuse import (  # noqa: E402
    TEMPLATE_CODE,
    compile_url_builders_once,
    freeze_what_is_loaded,
    parse_url_rules_once,
    share_compiled_sql,
)

PASSWORD = "correct horse battery"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
compile_url_builders_once()
parse_url_rules_once()
share_compiled_sql()


def using_postgres() -> bool:
    return POSTGRES_URL.startswith("postgresql")


# ---------------------------------------------------------------------------
# Databases


# Test databases are named <prefix>_<pid of the process that made it>_<random>.
TEST_DATABASE_NAME = re.compile(r"^(portal_[a-z_]+|search_lines)_(\d+)_[0-9a-f]{6}$")


@contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database named ``<prefix>_<pid>_<random>`` with every table; its URL.

    It is not dropped on exit: DROP DATABASE waits for an immediate checkpoint, 20-28 s while
    the other xdist worker writes (the slowest "teardowns" of a run); the next run drops the
    databases whose process is gone (``drop_leftover_databases``), when that costs nothing."""
    admin_url = make_url(POSTGRES_URL)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    assert TEST_DATABASE_NAME.match(name), name
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    db.metadata.create_all(engine)
    engine.dispose()
    yield url
    # Connections a test left open (a server it started, a pool) would keep working on a
    # database nobody reads: end them.
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        )
    admin.dispose()


def drop_leftover_databases() -> list[str]:
    """Drop the test databases of earlier runs (their process is gone); their names."""
    admin = sa.create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    dropped = []
    with admin.connect() as conn:
        for (name,) in conn.exec_driver_sql("SELECT datname FROM pg_database"):
            match = TEST_DATABASE_NAME.match(name)
            if match is None or _alive(int(match.group(2))):
                continue
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            dropped.append(name)
    admin.dispose()
    return dropped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pytest_sessionstart(session):
    """Before a PostgreSQL run (once, in the xdist controller): drop earlier runs' databases."""
    if using_postgres() and not hasattr(session.config, "workerinput"):
        drop_leftover_databases()


@pytest.fixture(scope="session")
def postgres_database(worker_id="master"):
    """A fresh PostgreSQL database for this run (and xdist worker), dropped at the end."""
    if not using_postgres():
        yield None
        return
    with fresh_postgres_database("portal_test") as url:
        yield url


_EMPTYING_ENGINES: dict[str, sa.Engine] = {}


def _empty_postgres(url: str) -> None:
    """Empty every table a test wrote to, and restart the sequences.

    A TRUNCATE of all 41 tables took 0.35-0.9 s a test (each table's files are replaced,
    with CASCADE pulling in every table that references one); a test writes to a few of
    them, so the tables holding a row are found in one query and emptied by DELETE, with
    the foreign keys' and immutability triggers off for this transaction
    (``session_replication_role``): a few milliseconds."""
    engine = _EMPTYING_ENGINES.get(url)
    if engine is None:
        engine = _EMPTYING_ENGINES[url] = sa.create_engine(url, poolclass=sa.NullPool)
    names = [t.name for t in db.metadata.sorted_tables]
    with engine.begin() as conn:
        # A connection a failed test left open in a transaction (a half-read download, say)
        # would hold its locks and make the DELETE wait forever: end it first.
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND state IN ('idle in transaction', 'idle in transaction (aborted)')"
        )
        conn.exec_driver_sql("SET LOCAL lock_timeout = '60s'")
        written = [
            row[0]
            for row in conn.exec_driver_sql(
                " UNION ALL ".join(f"(SELECT '{name}' FROM \"{name}\" LIMIT 1)" for name in names)
            )
        ]
        if written:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for name in written:
                conn.exec_driver_sql(f'DELETE FROM "{name}"')
        for (sequence,) in conn.exec_driver_sql(
            "SELECT sequence_name FROM information_schema.sequences"
            " WHERE sequence_schema = current_schema()"
        ):
            conn.exec_driver_sql(f'ALTER SEQUENCE "{sequence}" RESTART')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path | None:
    """A SQLite file with every table, made once per run (and xdist worker): each test
    starts from a copy of it (half a millisecond) instead of creating 41 tables (60 ms)."""
    if using_postgres():
        return None
    path = tmp_path_factory.mktemp("template") / "schema.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    db.metadata.create_all(engine)
    engine.dispose()
    return path


@pytest.fixture
def database_url(tmp_path, postgres_database, sqlite_template):
    if postgres_database:
        _empty_postgres(postgres_database)
        return postgres_database
    shutil.copyfile(sqlite_template, tmp_path / "test.db")
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def app_config(tmp_path, database_url):
    """Override in a test module to change configuration before the app is made."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "REDIS_URL": None,
        "MAIL_SERVER": None,
        "PORTAL_URL": "http://portal.test",
        "RATELIMIT_ENABLED": True,
        # scrypt costs ~0.2 s a hash; the tests create hundreds of users.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }


class FreshRequestClient(FlaskClient):
    """A client whose every request starts with an empty ``g``, as in production.

    The ``app`` fixture keeps one app context pushed for the whole test and Flask reuses it
    for each request, so ``g`` (Flask-Login's cached user, the actor, the timezone
    organization) would otherwise leak from one request, and one client, into the next.
    """

    def open(self, *args, **kwargs):
        vars(g._get_current_object()).clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def app(app_config, database_url):
    app = create_app(app_config)
    app.test_client_class = FreshRequestClient
    app.jinja_env.bytecode_cache = TEMPLATE_CODE
    with app.app_context():
        # A copy of sqlite_template has every table (asking for each costs ~10 ms a test);
        # a test module's own SQLite database gets them here.
        if not using_postgres() and app.config["SQLALCHEMY_DATABASE_URI"] != database_url:
            db.create_all()
        yield app
        db.session.remove()
        for engine in db.engines.values():  # the primary's, and a replica's (test_read_replica)
            engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# ---------------------------------------------------------------------------
# Factories (Indico-style create_* fixtures)


@pytest.fixture
def create_user(app):
    def _create(email=None, name="Test User", password=PASSWORD, language=None, **extra) -> User:
        user = User(
            email=email or f"user-{uuid.uuid4().hex[:8]}@example.com",
            name=name,
            language=language,
            **extra,
        )
        if password:
            user.set_password(password)
        db.session.add(user)
        commit()
        return user

    return _create


@pytest.fixture
def create_platform_staff(app, create_user):
    def _create(role=PlatformRole.ADMIN, **kwargs) -> User:
        from tenants.models import PlatformStaff

        user = create_user(**kwargs)
        db.session.add(PlatformStaff(user_id=user.id, role=PlatformRole(role)))
        commit()
        return user

    return _create


# What a test reseller's wholesale pool holds unless the test says otherwise.
TEST_POOL = 10**9


def reseller_with_pool(name=None, default_language="en", pool=TEST_POOL) -> Reseller:
    """A reseller whose wholesale pool holds ``pool`` credits (an opening-balance lot, cost
    0, as migrated resellers have): the tests that give customers credits are not about the
    pool; the pool's own tests pass a small one, or 0 for none. Committed."""
    from tenants.resellers.operations import create_reseller as create
    from tenants.wholesale.operations import add_lot

    reseller = create(
        SYSTEM, name or f"Reseller {uuid.uuid4().hex[:6]}", default_language=default_language
    )
    if pool:
        add_lot(SYSTEM, reseller, credits=pool, unit_cost=0, currency="EUR", opening_balance=True)
    commit()
    return reseller


@pytest.fixture
def create_reseller(app):
    return reseller_with_pool


def new_reference() -> str:
    """A usage reference no usage had: each use is a new usage (a reference is charged once
    per organization; a test repeats one only to test that)."""
    return f"sms-{uuid.uuid4().hex[:12]}"


SPAIN_TAX = {"ES": "21"}


def set_prices(
    reseller: Reseller,
    prepaid: str | Decimal = "0.045",
    postpaid: str | Decimal = "0.05",
    *,
    taxes: Mapping[str, str | Decimal] | None = SPAIN_TAX,
    currency: str = "EUR",
) -> None:
    """Replace ``reseller``'s price list with one row (a unit price per pricing model) and
    its tax table with ``taxes`` (country: percent; None leaves the table as it is), through
    the pricing services, committed."""
    row = {
        "currency": currency,
        "prepaid_unit_price": Decimal(prepaid),
        "postpaid_unit_price": Decimal(postpaid),
    }
    pricing.set_price_list(SYSTEM, reseller, [row])
    if taxes is not None:
        rates = [{"country": country, "percent": Decimal(p)} for country, p in taxes.items()]
        pricing.set_tax_rates(SYSTEM, reseller, rates)
    commit()


@pytest.fixture
def create_priced_reseller(create_reseller):
    """A reseller whose customers can buy and be billed: by default €0.045 a prepaid credit,
    €0.05 a postpaid SMS and 21 % tax in Spain (``set_prices`` takes the other keywords)."""

    def _create(name=None, default_language="en", pool=TEST_POOL, **prices) -> Reseller:
        reseller = create_reseller(name, default_language=default_language, pool=pool)
        set_prices(reseller, **prices)
        return reseller

    return _create


@pytest.fixture
def create_reseller_staff(app, create_user):
    def _create(reseller: Reseller, role=ResellerRole.AGENT, **kwargs) -> User:
        from tenants.models import ResellerStaff

        user = create_user(**kwargs)
        db.session.add(ResellerStaff(reseller_id=reseller.id, user_id=user.id, role=role))
        commit()
        return user

    return _create


@pytest.fixture
def create_organization(app, create_reseller):
    def _create(
        reseller: Reseller | None = None,
        name=None,
        country="ES",
        pricing_model="prepaid",
        owner_email=None,
        owner_password=PASSWORD,
        **kwargs,
    ) -> Organization:
        from tenants.organizations.operations import NewOrganization
        from tenants.organizations.operations import create_organization as create

        reseller = reseller or create_reseller()
        org = create(
            SYSTEM,
            reseller,
            NewOrganization(
                name=name or f"Org {uuid.uuid4().hex[:6]}",
                country=country,
                pricing_model=pricing_model,
                owner_name="Owner Person",
                owner_email=owner_email or f"owner-{uuid.uuid4().hex[:8]}@example.com",
                **kwargs,
            ),
        )
        owner = owner_of(org)
        if owner_password:
            owner.user.set_password(owner_password)
        commit()
        return org

    return _create


def owner_of(org: Organization) -> Member:
    return db.session.scalar(
        sa.select(Member).where(
            Member.organization_id == org.id,
            Member.role == MemberRole.OWNER,
            Member.removed_at.is_(None),
        )
    )


def member_actor(member: Member, **extra) -> Actor:
    """The actor ``member`` is when signed in to their organization (``real_user_id=`` for
    staff acting as them)."""
    return Actor(
        user_id=member.user_id,
        reseller_id=member.reseller_id,
        organization_id=member.organization_id,
        member_id=member.id,
        member_role=MemberRole(member.role),
        **extra,
    )


def owner_actor(org: Organization, **extra) -> Actor:
    """The actor ``org``'s current owner is when signed in."""
    return member_actor(owner_of(org), **extra)


def staff_actor(reseller: Reseller, user: User, role: ResellerRole = ResellerRole.AGENT) -> Actor:
    """The actor ``user`` is when signed in as ``reseller``'s staff."""
    return Actor(user_id=user.id, reseller_id=reseller.id, reseller_role=role)


@pytest.fixture
def create_member(app):
    def _create(
        org: Organization,
        role="member",
        portal_access=True,
        email=None,
        password=PASSWORD,
        name="Member Person",
    ) -> Member:
        from tenants.organizations.members import add_member

        member = add_member(
            SYSTEM,
            org,
            name=name,
            email=email or f"member-{uuid.uuid4().hex[:8]}@example.com",
            role=role,
            portal_access=portal_access,
        )
        if password:
            member.user.set_password(password)
        commit()
        return member

    return _create


# ---------------------------------------------------------------------------
# Logging in


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email: str, password: str = PASSWORD, follow: bool = False, **extra):
        return self._client.post(
            "/login",
            data={"email": email, "password": password, **extra},
            follow_redirects=follow,
        )

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


# ---------------------------------------------------------------------------
# A real SMTP server on loopback


@dataclass
class SMTPRecorder:
    messages: list[EmailMessage] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
        assert len(self.messages) >= count, f"expected {count} emails, got {len(self.messages)}"
        return self.messages

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    """aiosmtpd on a loopback port; the app sends real SMTP to it."""
    recorder = SMTPRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    yield recorder
    controller.stop()


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message: EmailMessage) -> str:
    match = re.search(r"https?://\S+", text_of(message))
    assert match, "no link in the email"
    return match.group(0)


def pytest_collection_modifyitems(config, items):
    """The suite runs twice, on SQLite and on PostgreSQL; a test is deselected (not skipped)
    in the run it does not belong to: ``postgres_only`` in the SQLite run; ``sqlite_run``
    (the embedded SQLite file, or no difference between the databases: run once) and the
    browser journeys in the PostgreSQL run."""
    postgres = using_postgres()
    keep, drop = [], []
    for item in items:
        if postgres:
            elsewhere = item.get_closest_marker("sqlite_run") or item.get_closest_marker("browser")
        else:
            elsewhere = item.get_closest_marker("postgres_only")
        (drop if elsewhere else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


freeze_what_is_loaded()  # last: after every fixture and helper above is defined
