"""The command line as an operator runs it: migrations from empty, demo, admins, resellers.

Each command runs as a real `flask --app app ...` process against a brand-new database of
the suite's backend (tests/foundation/databases.py): a temporary SQLite file, or a PostgreSQL
database created for the test (and dropped when the test process ends) when TEST_DATABASE_URL
is set.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from tenants.core.extensions import db
from tenants.models.organizations import SEARCH_LINES_OBJECTS
from tests.foundation.databases import ROOT, run_flask


class Demo(NamedTuple):
    url: str  # the database `flask demo` filled
    output: str  # what the command printed


@pytest.fixture(scope="module")
def demo_template(databases, migrated_template, tmp_path_factory) -> Demo:
    """A migrated database `flask demo` filled, once for this module (the demo is a child
    process building a month of history: 5-10 s), and what the command printed. The tests
    that start from the demo copy it (``@pytest.mark.demo``), never use it."""
    url = databases.create(template=migrated_template)
    return Demo(url, run_flask(url, tmp_path_factory.mktemp("demo"), "demo").stdout)


@pytest.fixture
def empty_database(request, databases) -> str:
    """The URL of a database with no tables at all (``@pytest.mark.migrated``: migrated;
    ``@pytest.mark.demo``: filled by `flask demo`)."""
    if request.node.get_closest_marker("demo"):
        return databases.create(template=request.getfixturevalue("demo_template").url)
    if request.node.get_closest_marker("migrated"):
        return databases.create(template=request.getfixturevalue("migrated_template"))
    return databases.create()


@pytest.fixture
def flask_cli(empty_database, tmp_path):
    """Run `flask --app app <args>` in a child process on the test's database."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_flask(empty_database, tmp_path, *args, check=check)

    return run


@pytest.fixture
def portal(empty_database, tmp_path):
    """The portal on the database the commands filled, to try the logins they print."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": empty_database,
            "WTF_CSRF_ENABLED": False,
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "REDIS_URL": None,
            "MAIL_SERVER": None,
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def login_lands_on(app, email: str, password: str) -> str:
    response = app.test_client().post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, f"{email} could not log in: {response.status_code}"
    return response.headers["Location"]


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


# -- migrations --------------------------------------------------------------------------------


def test_db_upgrade_builds_every_table_from_an_empty_database(flask_cli, empty_database):
    assert table_names(empty_database) == set()
    flask_cli("db", "upgrade")
    tables = table_names(empty_database)
    assert {t.name for t in db.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables
    flask_cli("db", "upgrade")  # a second run is a no-op


@pytest.mark.migrated
def test_migrations_produce_exactly_the_models_schema(flask_cli, empty_database):
    engine = sa.create_engine(empty_database)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": _in_metadata}
            )
            differences = compare_metadata(context, db.metadata)
    finally:
        engine.dispose()
    assert differences == [], "models and migrations differ; run `flask db migrate`"


def _in_metadata(_object, name, _type, _reflected, _compare_to) -> bool:
    return name not in SEARCH_LINES_OBJECTS


def _search_lines_schema(url: str) -> tuple[set, set]:
    """The organizations table's generated columns and indexes, as PostgreSQL writes them."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            columns = set(
                conn.exec_driver_sql(
                    "SELECT column_name, data_type, generation_expression"
                    " FROM information_schema.columns"
                    " WHERE table_name = 'organizations' AND is_generated = 'ALWAYS'"
                )
            )
            indexes = set(
                conn.exec_driver_sql(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'organizations'"
                )
            )
    finally:
        engine.dispose()
    return columns, indexes


@pytest.mark.migrated
@pytest.mark.postgres_only
def test_migrations_make_the_line_start_search_as_the_models_do(flask_cli, empty_database):
    """The line-start search's columns and indexes live outside the models' metadata (they
    exist on PostgreSQL only): the migrations make them exactly as create_all does."""
    from tests.conftest import fresh_postgres_database

    migrated = _search_lines_schema(empty_database)
    with fresh_postgres_database("search_lines") as url:
        created = _search_lines_schema(url)
    assert migrated == created
    names = {row[0] for row in migrated[0]} | {row[0] for row in migrated[1]}
    assert names >= SEARCH_LINES_OBJECTS


def _triggers(url: str) -> set[tuple[str, str]]:
    """The database's own triggers and (PostgreSQL) the functions they run, as it writes them."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                queries = (
                    "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
                    "SELECT proname, prosrc FROM pg_proc"
                    " WHERE pronamespace = 'public'::regnamespace"
                    " AND prorettype = 'trigger'::regtype",
                )
            else:
                queries = ("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'",)
            # Compared word for word: a migration indents a body as its own file does.
            return {
                (name, " ".join(text.split()))
                for query in queries
                for name, text in conn.exec_driver_sql(query)
            }
    finally:
        engine.dispose()


@pytest.mark.migrated
def test_migrations_make_the_models_triggers(flask_cli, empty_database, tmp_path):
    """The triggers live outside the models' metadata: the migrations must create exactly
    those create_all does -- immutable ledger entries and charges, an entry's account checked
    against its organization and reseller, accounts never deleted nor re-keyed, a usage
    reference's organization checked against its reseller and kept."""
    migrated = _triggers(empty_database)
    if empty_database.startswith("postgresql"):
        from tests.conftest import fresh_postgres_database

        with fresh_postgres_database("portal_triggers") as url:
            created = _triggers(url)
        expected = {
            "ledger_entries_immutable",
            "charges_immutable",
            "ledger_entries_accounts_known",
            "credit_accounts_not_deleted",
            "credit_accounts_not_rekeyed",
            "usage_references_owner_known",
            "usage_references_not_moved",
            "organizations_references_kept",
            "organizations_references_not_rekeyed",
        }
    else:
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'created.db'}")
        db.metadata.create_all(engine)
        engine.dispose()
        created = _triggers(f"sqlite:///{tmp_path / 'created.db'}")
        expected = {
            "ledger_entries_no_update",
            "ledger_entries_no_delete",
            "charges_no_update",
            "charges_no_delete",
            "ledger_entries_account_known",
            "credit_accounts_not_deleted",
            "credit_accounts_not_rekeyed",
            "usage_references_owner_known",
            "usage_references_not_moved",
            "organizations_references_kept",
            "organizations_references_not_rekeyed",
        }
    assert migrated == created
    assert expected <= {name for name, _definition in migrated}


def _partial_indexes(url: str) -> set[tuple[str, str]]:
    """The database's partial indexes (those with a WHERE), as it writes them."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            else:
                query = "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            return {
                (name, " ".join(text.replace('"', "").split()))
                for name, text in conn.exec_driver_sql(query)
                if text and " WHERE " in text
            }
    finally:
        engine.dispose()


@pytest.mark.migrated
def test_migrations_make_the_models_partial_indexes(flask_cli, empty_database, tmp_path):
    """A partial index's WHERE is not compared by alembic (the schema test above): the
    migrations must write each as create_all does -- the ledger's listing indexes holding
    movements only among them."""
    migrated = _partial_indexes(empty_database)
    if empty_database.startswith("postgresql"):
        from tests.conftest import fresh_postgres_database

        with fresh_postgres_database("portal_partial") as url:
            created = _partial_indexes(url)
    else:
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'created.db'}")
        db.metadata.create_all(engine)
        engine.dispose()
        created = _partial_indexes(f"sqlite:///{tmp_path / 'created.db'}")
    assert migrated == created
    movements = {name: text for name, text in migrated if "ledger_entries" in text}
    assert set(movements) == {
        "ix_ledger_entries_org_occurred_id",
        "ix_ledger_entries_reseller_occurred",
    }
    assert all("balance_after IS NOT NULL" in text for text in movements.values())


# -- demo --------------------------------------------------------------------------------------

DEMO_LOGIN = re.compile(r"^\s+(?P<role>.+?)\s{2,}(?P<email>\S+@\S+)$")


@pytest.mark.demo  # on a migrated database; the upgrade from empty: test_db_upgrade_builds…
def test_demo_fills_an_empty_database_its_logins_work_and_it_refuses_to_run_twice(
    flask_cli, portal, demo_template
):
    output = demo_template.output

    password = re.search(r"password for all: (\S+?)\)", output).group(1)
    logins = {m["role"]: m["email"] for m in map(DEMO_LOGIN.match, output.splitlines()) if m}
    roles = " | ".join(logins)
    for expected in (
        "Platform admin",
        "Support agent",
        "Reseller admin",
        "Reseller agent",
        "Organization owner",
        "Organization admin",
        "Organization member",
    ):
        assert expected in roles, output

    homes = {role: login_lands_on(portal, email, password) for role, email in logins.items()}
    for role, home in homes.items():
        if role.startswith(("Platform admin", "Support agent")):
            assert home == "/platform/", role
        elif role.startswith("Reseller"):
            assert home == "/customers/", role
        else:
            assert re.fullmatch(r"/organizations/[^/]+/", home), role

    again = flask_cli("demo", "--password", "second demo password", check=False)
    assert again.returncode != 0
    assert "not empty" in again.stdout + again.stderr
    # Nothing was changed: the first demo's password still works.
    assert login_lands_on(portal, logins["Platform admin"], password) == "/platform/"


def _run_sh_asks_if_empty(url: str, tmp_path: Path) -> str:
    """What scripts/run.sh's own check (the Python between its ``<<'PY'`` and ``PY``) says of
    the database at ``url``: "yes" when it holds no user, so the demo is filled."""
    script = (ROOT / "scripts" / "run.sh").read_text()
    check = re.search(r"<<'PY'\n(.*?)\nPY\n", script, re.DOTALL).group(1)
    env = {**os.environ, "DATABASE_URL": url, "OUTBOX_DIR": str(tmp_path / "outbox")}
    for name in ("REDIS_URL", "MAIL_SERVER", "FLASK_APP"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-"], input=check, cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.migrated
def test_run_sh_fills_the_demo_into_an_empty_database_only(
    empty_database, databases, demo_template, tmp_path
):
    """The README's first command decides with its own Python whether the database is empty
    (then `flask demo`): that Python runs against the code as it is (it imported a module
    that had moved, and the command stopped there)."""
    assert _run_sh_asks_if_empty(empty_database, tmp_path) == "yes"
    filled = databases.create(template=demo_template.url)
    assert _run_sh_asks_if_empty(filled, tmp_path) == "no"


@pytest.mark.demo
def test_demo_builds_organizations_of_both_models_in_four_countries(empty_database):
    engine = sa.create_engine(empty_database)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT country, pricing_model FROM organizations")).all()
            members = conn.execute(sa.text("SELECT count(*) FROM members")).scalar_one()
            entries = dict(
                conn.execute(
                    sa.text("SELECT type, count(*) FROM ledger_entries GROUP BY type")
                ).all()
            )
            invoices = dict(
                conn.execute(sa.text("SELECT kind, count(*) FROM invoices GROUP BY kind")).all()
            )
            prices = conn.execute(sa.text("SELECT count(*) FROM price_list_entries")).scalar_one()
    finally:
        engine.dispose()
    assert len(rows) >= 6
    assert {country for country, _ in rows} >= {"ES", "MX", "US", "GB"}
    assert {str(model).lower() for _, model in rows} == {"prepaid", "postpaid"}
    assert members > len(rows)
    # A month of history to look at: purchases, transfers, usage, receipts, invoices.
    assert {"purchase", "transfer_in", "transfer_out", "usage", "invoice"} <= set(entries)
    assert invoices.get("receipt", 0) >= 4 and invoices.get("invoice", 0) >= 1
    assert prices >= 4


# -- administrators and resellers ---------------------------------------------------------


@pytest.mark.migrated
def test_create_admin_makes_a_platform_admin_who_can_log_in(flask_cli, portal):
    output = flask_cli(
        "create-admin", "--email", "Root@Example.com", "--password", "admin password 1"
    ).stdout
    assert "root@example.com" in output
    assert login_lands_on(portal, "root@example.com", "admin password 1") == "/platform/"


@pytest.mark.migrated
def test_create_admin_refuses_a_short_password(flask_cli):
    result = flask_cli(
        "create-admin", "--email", "a@example.com", "--password", "short", check=False
    )
    assert result.returncode != 0
    assert "10 characters" in result.stdout + result.stderr


@pytest.mark.migrated
def test_create_reseller_prints_the_slug_alone_on_the_last_line(flask_cli, portal):
    output = flask_cli(
        "create-reseller",
        "Nova Telecom Ibérica",
        "--admin-email",
        "boss@nova.example",
        "--admin-password",
        "reseller password 1",
    ).stdout
    slug = output.strip().splitlines()[-1]
    assert re.fullmatch(r"nova-telecom-ib[a-z]*rica", slug), output
    assert login_lands_on(portal, "boss@nova.example", "reseller password 1") == "/customers/"

    second = flask_cli(
        "create-reseller",
        "Nova Telecom Ibérica",
        "--admin-email",
        "other@nova.example",
        "--admin-password",
        "reseller password 2",
        check=False,
    )
    if second.returncode == 0:  # a second reseller of the same name gets its own slug
        assert second.stdout.strip().splitlines()[-1] != slug
