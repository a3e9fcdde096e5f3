"""``flask reseller credits add SLUG CREDITS --unit-cost 0.020 --currency EUR``: a lot in a
reseller's wholesale pool (SPEC §8)."""

from __future__ import annotations

import click
from sqlalchemy import select

from tenants.access.actors import SYSTEM
from tenants.core.errors import DomainError
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import Reseller
from tenants.wholesale import operations as wholesale


@click.group("reseller")
def reseller_cli() -> None:
    """Resellers' wholesale credits."""


@reseller_cli.group("credits")
def credits_cli() -> None:
    """The wholesale pool: credits the platform sells a reseller, in lots."""


@credits_cli.command("add")
@click.argument("slug")
@click.argument("credits", type=int)
@click.option("--unit-cost", required=True, help="What each credit costs the reseller, e.g. 0.020.")
@click.option("--currency", required=True, help="The cost's currency (ISO 4217), e.g. EUR.")
def add(slug: str, credits: int, unit_cost: str, currency: str) -> None:
    """Add a lot of CREDITS to the pool of the reseller SLUG; prints the new pool balance."""
    reseller = db.session.scalar(select(Reseller).where(Reseller.slug == slug))
    if reseller is None:
        raise click.ClickException(f"No reseller has the slug {slug!r}.")
    try:
        added = wholesale.add_lot(
            SYSTEM, reseller, credits=credits, unit_cost=unit_cost, currency=currency
        )
    except DomainError as error:
        details = "; ".join(f"{field}: {value}" for field, value in error.fields.items())
        raise click.ClickException(f"{error.message} {details}".strip()) from None
    commit()
    click.echo(added.pool_credits)
