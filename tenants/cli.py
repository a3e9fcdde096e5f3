"""Flask CLI commands: administrators, resellers, demo data, translations, generated docs;
the groups of the feature packages (api-key, billing, jobs, people)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import func, select

from reseller.api.reference import api_reference
from tenants.access.actors import SYSTEM
from tenants.api_keys.cli import api_key
from tenants.billing.cli import billing
from tenants.core.errors import DomainError
from tenants.core.extensions import db
from tenants.demo import build_demo
from tenants.jobs.outbox import commit
from tenants.jobs.worker import jobs_cli
from tenants.messaging.replies import messaging_cli
from tenants.models import PlatformRole, ResellerRole, User
from tenants.people.cli import people
from tenants.people.passwords import validate_password
from tenants.resellers import operations as resellers
from tenants.wholesale.cli import reseller_cli

ROOT = Path(__file__).resolve().parent.parent


def _fail(error: DomainError) -> None:
    details = "; ".join(f"{k}: {v}" for k, v in error.fields.items())
    raise click.ClickException(f"{error.message} {details}".strip())


def register(app: Flask) -> None:
    app.cli.add_command(create_admin)
    app.cli.add_command(create_reseller)
    app.cli.add_command(demo)
    app.cli.add_command(translate)
    app.cli.add_command(docs)
    app.cli.add_command(api_key)
    app.cli.add_command(billing)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(messaging_cli)
    app.cli.add_command(people)
    app.cli.add_command(reseller_cli)


@click.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", default="Platform admin", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin(email: str, name: str, password: str) -> None:
    """Create a platform admin (or make an existing user one)."""
    try:
        validate_password(password)
        staff = resellers.add_platform_staff(SYSTEM, email, name, PlatformRole.ADMIN)
        staff.user.set_password(password)
        commit()
    except DomainError as error:
        _fail(error)
    click.echo(f"Platform admin {staff.user.email} is ready.")


@click.command("create-reseller")
@click.argument("name")
@click.option("--admin-email", required=True)
@click.option("--admin-password", required=True)
@click.option("--admin-name", default=None, help="Defaults to 'NAME admin'.")
@click.option("--language", type=click.Choice(["en", "es"]), default="en", show_default=True)
def create_reseller(
    name: str, admin_email: str, admin_password: str, admin_name: str | None, language: str
) -> None:
    """Create a reseller with its first admin; prints the reseller's slug."""
    try:
        validate_password(admin_password)
        reseller = resellers.create_reseller(SYSTEM, name, default_language=language)
        staff = resellers.add_reseller_staff(
            SYSTEM,
            reseller,
            admin_email,
            admin_name or f"{reseller.name} admin",
            ResellerRole.ADMIN,
        )
        staff.user.set_password(admin_password)
        commit()
    except DomainError as error:
        _fail(error)
    click.echo(f"Reseller {reseller.name} created; admin {staff.user.email}.")
    click.echo(reseller.slug)


@click.command("demo")
@click.option("--password", default=None, help="One password for every demo login.")
def demo(password: str | None) -> None:
    """Fill an empty database with a demo platform and print the logins."""
    if db.session.scalar(select(func.count()).select_from(User)):
        raise click.ClickException("The database is not empty; the demo only fills an empty one.")
    password = password or secrets.token_urlsafe(9)
    try:
        logins = build_demo(password)
        commit()
    except DomainError as error:
        _fail(error)
    click.echo(f"Demo data created. Logins (password for all: {password}):")
    width = max(len(role) for role, _ in logins)
    for role, email in logins:
        click.echo(f"  {role.ljust(width)}  {email}")


@click.group("translate")
def translate() -> None:
    """Translation catalogs: extract, update, compile (wraps pybabel)."""


def _pybabel(*args: str) -> None:
    from babel.messages.frontend import CommandLineInterface

    previous = Path.cwd()
    os.chdir(ROOT)
    try:
        CommandLineInterface().run(["pybabel", *args])
    finally:
        os.chdir(previous)


@translate.command("extract")
def translate_extract() -> None:
    """Collect marked strings into translations/messages.pot."""
    _pybabel(
        "extract",
        "-F",
        "translations/babel.cfg",
        "-k",
        "_l",
        "--no-location",
        "--sort-output",
        "-o",
        "translations/messages.pot",
        ".",
    )


@translate.command("update")
def translate_update() -> None:
    """Extract, then merge new strings into every language catalog."""
    translate_extract.callback()
    _pybabel(
        "update", "-i", "translations/messages.pot", "-d", "translations", "--no-fuzzy-matching"
    )


@translate.command("compile")
def translate_compile() -> None:
    """Compile the catalogs (.po → .mo)."""
    _pybabel("compile", "-d", "translations", "--statistics")


@click.group("docs")
def docs() -> None:
    """Generated documentation: the API reference."""


@docs.command("api")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=ROOT / "docs" / "api.md",
    show_default="docs/api.md",
    help="Where to write the reference.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the file is out of date.")
def docs_api(output: Path, check: bool) -> None:
    """Render /api/v1/openapi.json into docs/api.md."""
    text = api_reference()
    current = output.read_text(encoding="utf-8") if output.exists() else None
    if check:
        if current != text:
            raise click.ClickException(
                f"{output} is out of date with the OpenAPI document: "
                "run `flask --app app docs api`."
            )
        click.echo(f"{output} is up to date.")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {output} ({'unchanged' if current == text else 'updated'}).")
