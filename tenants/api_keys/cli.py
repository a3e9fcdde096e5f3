"""`flask api-key create`: a reseller or organization API key, printed once."""

from __future__ import annotations

import click
from sqlalchemy import select

from tenants.access.actors import SYSTEM
from tenants.api_keys.operations import create_api_key
from tenants.core.errors import DomainError
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import Organization, Reseller


@click.group("api-key")
def api_key() -> None:
    """API keys for the JSON API."""


@api_key.command("create")
@click.option("--reseller", "reseller_slug", default=None, help="The reseller's slug.")
@click.option("--organization", "organization_id", default=None, help="The organization's id.")
@click.option("--name", default=None, help="A name to recognize the key by.")
def create(reseller_slug: str | None, organization_id: str | None, name: str | None) -> None:
    """Create a key; the key alone is printed on the last line and never shown again."""
    if bool(reseller_slug) == bool(organization_id):
        raise click.UsageError("Give exactly one of --reseller SLUG or --organization ID.")
    organization = None
    if organization_id:
        organization = db.session.get(Organization, organization_id)
        if organization is None:
            raise click.ClickException(f"No organization {organization_id}.")
        reseller = db.session.get(Reseller, organization.reseller_id)
    else:
        reseller = db.session.scalar(select(Reseller).where(Reseller.slug == reseller_slug))
        if reseller is None:
            raise click.ClickException(f"No reseller with the slug {reseller_slug}.")
    try:
        key, secret = create_api_key(
            SYSTEM, reseller=reseller, organization=organization, name=name
        )
        commit()
    except DomainError as error:
        details = "; ".join(f"{k}: {v}" for k, v in error.fields.items())
        raise click.ClickException(f"{error.message} {details}".strip()) from error
    owner = f"organization {organization.name}" if organization else f"reseller {reseller.name}"
    click.echo(f"API key {key.prefix} created for {owner}. It is shown only once:")
    click.echo(secret)
