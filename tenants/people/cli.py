"""``flask people overlaps``: who is both staff and a customer member (SPEC §2).

The services refuse new overlaps (tenants.people.identity); this lists those that data from
before the rule still holds, so an operator can remove one of the two roles. Such a person
already gets no member context: they reach the organization only through a support session.
"""

from __future__ import annotations

import click

from tenants.people.identity import overlaps as find_overlaps


@click.group("people")
def people() -> None:
    """People: staff and customer members."""


@people.command("overlaps")
def overlaps() -> None:
    """List every email that is both staff and a customer member; exit 1 when there is one."""
    found = find_overlaps()
    if not found:
        click.echo("No overlaps: no staff email is a customer member.")
        return
    for overlap in found:
        click.echo(overlap.email)
        click.echo(f"  staff: {'; '.join(overlap.staff_roles)}")
        click.echo(f"  member of: {'; '.join(overlap.organizations)}")
    click.echo(f"{len(found)} email(s) are both staff and a customer member.", err=True)
    raise SystemExit(1)
