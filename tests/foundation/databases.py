"""Brand-new databases for the command-line and migration tests, and `flask` in a child process.

A database comes empty, or as a copy of the one `flask db upgrade` made once for this test
process (the ``migrated_template`` fixture of tests/foundation/conftest.py): a SQLite file
copied, or a PostgreSQL ``CREATE DATABASE … TEMPLATE``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, using_postgres

ROOT = Path(__file__).resolve().parents[2]


class Databases:
    """Brand-new databases of the suite's backend: SQLite files, or PostgreSQL databases."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.created: list[str] = []
        self.admin = (
            sa.create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
            if (using_postgres())
            else None
        )

    def create(self, template: str | None = None) -> str:
        """An empty database, or a copy of ``template`` (a URL such an object made)."""
        name = f"portal_cli_{uuid.uuid4().hex[:10]}"
        if self.admin is None:
            path = self.directory / f"{name}.db"
            if template:
                shutil.copyfile(make_url(template).database, path)
            return f"sqlite:///{path}"
        copy = f' TEMPLATE "{make_url(template).database}"' if template else ""
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
        self.created.append(name)
        return self.admin.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.admin is None:
            return
        with self.admin.connect() as conn:
            for name in self.created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


def run_flask(url: str, tmp_path: Path, *args: str, check: bool = True):
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "PYTHONWARNINGS": "ignore",
    }
    for name in ("REDIS_URL", "MAIL_SERVER", "FLASK_APP"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def migrate(url: str, tmp_path: Path, command: str, revision: str = "head") -> None:
    """``flask db upgrade`` / ``flask db downgrade REVISION`` on ``url``, run in this process:
    the same Flask-Migrate call on the app the command loads (its environment as run_flask
    gives it), without a child process importing the app (about 3 s each). The command
    line itself is tried by tests/foundation/test_cli.py."""
    import flask_migrate

    from app import create_app
    from tenants.core.extensions import db

    if command not in ("upgrade", "downgrade"):
        raise ValueError(command)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "REDIS_URL": None,
            "MAIL_SERVER": None,
        }
    )
    with app.app_context():
        getattr(flask_migrate, command)(revision=revision)
        db.session.remove()
        db.engine.dispose()
