"""``flask billing run-monthly``: issue the monthly invoices of postpaid organizations."""

from __future__ import annotations

import sys

import click

from tenants.billing import monthly_run, periods
from tenants.core.errors import DomainError


@click.group("billing")
def billing() -> None:
    """Postpaid billing."""


@billing.command("run-monthly")
@click.option("--period", default=None, help="YYYY-MM; default: the month that just ended.")
def run_monthly(period: str | None) -> None:
    """Invoice every postpaid organization for a month that has ended.

    Safe to run again, or on two machines at once: nothing is invoiced twice, and a run
    that was interrupted completes the rest.
    """
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="Invoicing", file=sys.stderr)
            bar.__enter__()
        bar.update(1)

    try:
        period = periods.require_ended(period or periods.last_ended_period())
        result = monthly_run.run_monthly(period, progress=progress if sys.stderr.isatty() else None)
    except DomainError as error:
        details = "; ".join(f"{value}" for value in error.fields.values())
        raise click.ClickException(f"{error.message} {details}".strip()) from None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(
        f"Period {period}: {result.invoiced} invoiced, {result.skipped} skipped, "
        f"{result.failed} failed."
    )
    if result.failed:
        raise click.ClickException("Some organizations failed; run the command again.")


@billing.command("check-invoices")
def check_invoices() -> None:
    """Check that every issued invoice's lines sum to its subtotal; exit 1 naming the ones
    that do not."""
    from tenants.invoices.integrity import invoices_not_adding_up

    wrong = 0
    for item in invoices_not_adding_up():
        wrong += 1
        click.echo(
            f"{item.number} ({item.invoice_id}): lines {item.lines_total}, subtotal {item.subtotal}"
        )
    if wrong:
        raise click.ClickException(f"{wrong} invoice(s) whose lines do not sum to the subtotal.")
    click.echo("Every invoice's lines sum to its subtotal.")
