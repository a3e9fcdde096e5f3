"""Platform administration of a reseller's wholesale pool: its credits, forecast and lots,
and adding a lot (typed, then confirmed: the amounts as they were read, formatted)."""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _

from reseller.platform.blueprint import bp
from tenants.access import scoping
from tenants.access.policy import Permission, can
from tenants.core.checks import collect_field_errors
from tenants.core.errors import DomainError, ValidationFailed
from tenants.core.validation import clean_credits, clean_currency, currency_choices
from tenants.jobs.outbox import commit, rollback
from tenants.web.decorators import actor_required, the_actor
from tenants.web.forms import amount_example, parse_amount, whole_number
from tenants.web.locale import select_locale
from tenants.wholesale import operations as wholesale
from tenants.wholesale.pool import pool_summary, recent_lots

# The confirmation hands the parsed numbers back as plain digits, whatever the language.
PLAIN_COST = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,4})?")
PLAIN_CREDITS = re.compile(r"[0-9]{1,15}")


def _page(reseller_id: str, status: int = 200, errors: dict | None = None, typed=None):
    actor = the_actor()
    reseller = scoping.get_reseller(actor, reseller_id)
    return render_template(
        "platform/wholesale.html",
        reseller=reseller,
        pool=pool_summary(reseller.id),
        lots=recent_lots(reseller.id),
        can_manage=can(actor, Permission.MANAGE_PLATFORM),
        currencies=currency_choices(str(select_locale())),
        errors=errors or {},
        typed=typed or {},
    ), status


@bp.route("/resellers/<reseller_id>/wholesale")
@actor_required(Permission.VIEW_ALL_CUSTOMERS)
def wholesale_pool(reseller_id: str):
    return _page(reseller_id)


def _typed() -> dict[str, str]:
    return {name: request.form.get(name, "").strip()[:40] for name in ("credits", "unit_cost")} | {
        "currency": request.form.get("currency", "").strip()[:3]
    }


@bp.route("/resellers/<reseller_id>/wholesale/review", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def review_wholesale_lot(reseller_id: str):
    """Step one: the lot as typed in the reader's locale, checked and shown for confirmation."""
    reseller = scoping.get_reseller(the_actor(), reseller_id)
    typed = _typed()
    try:
        values = collect_field_errors(
            {
                "credits": lambda: clean_credits(whole_number(typed["credits"])),
                "unit_cost": lambda: wholesale.clean_unit_cost(
                    parse_amount(typed["unit_cost"], "unit_cost", 4)
                ),
                "currency": lambda: clean_currency(typed["currency"]),
            }
        )
    except ValidationFailed as error:
        return _page(reseller_id, 422, error.fields, typed)
    return render_template(
        "platform/wholesale_confirm.html",
        reseller=reseller,
        lot=values,
        plain_cost=format(values["unit_cost"], "f"),
        typed=typed,
    )


@bp.route("/resellers/<reseller_id>/wholesale/lots", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def add_wholesale_lot(reseller_id: str):
    """Step two, Confirm: adds the lot the confirmation page showed."""
    actor = the_actor()
    reseller = scoping.get_reseller(actor, reseller_id)
    typed = _typed()
    try:
        if not PLAIN_CREDITS.fullmatch(typed["credits"]):
            raise ValidationFailed(fields={"credits": _("Enter a whole number of credits.")})
        if not PLAIN_COST.fullmatch(typed["unit_cost"]):
            raise ValidationFailed(
                fields={
                    "unit_cost": _("Write the amount like %(example)s.", example=amount_example())
                }
            )
        added = wholesale.add_lot(
            actor,
            reseller,
            credits=int(typed["credits"]),
            unit_cost=typed["unit_cost"],
            currency=typed["currency"],
        )
    except DomainError as error:
        rollback()
        return _page(reseller_id, error.status, error.fields or {"credits": str(error)}, typed)
    commit()
    flash(
        _(
            "%(credits)s credits added. The pool holds %(pool)s credits.",
            credits=format_decimal(added.lot.credits),
            pool=format_decimal(added.pool_credits),
        ),
        "success",
    )
    return redirect(url_for("platform.wholesale_pool", reseller_id=reseller.id))
