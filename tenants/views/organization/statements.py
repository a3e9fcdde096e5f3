"""Monthly statements from the Logs tab: the month picker's choices, and the PDF and CSV of
a month (credits for a prepaid organization, debt for a postpaid one)."""

from __future__ import annotations

from flask import Response, request, url_for
from flask_babel import gettext as _

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission
from tenants.billing import statement_files, statements
from tenants.billing.periods import period_of, previous_period
from tenants.core.types import utcnow
from tenants.credits.accounts import shown_members
from tenants.credits.export import attachment
from tenants.credits.movements import account_label
from tenants.credits.statements import read_in_one_snapshot
from tenants.models import AccountKind, Organization, PricingModel
from tenants.views.organization.blueprint import bp
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.locale import request_language


def statement_picker(actor: Actor, org: Organization) -> dict:
    """What the Logs tab's statement form offers: the month (the last one ended, this one
    at most) and, for those who read every account of a prepaid organization, the account."""
    zone = org.timezone or "UTC"
    this_month = period_of(utcnow(), zone)
    accounts = []
    if org.pricing_model == PricingModel.PREPAID and scoping.sees_every_account(actor):
        accounts = [
            ("", _("Every account")),
            ("system", account_label(AccountKind.SYSTEM)),
            *(
                (f"member:{member_id}", account_label(AccountKind.MEMBER, name))
                for member_id, name in shown_members(actor, org)
            ),
        ]
    return {
        "month": previous_period(this_month),
        "latest": this_month,
        "accounts": accounts,
        "pdf_url": url_for("organization.statement_pdf", org_id=org.id),
        "csv_url": url_for("organization.statement_csv", org_id=org.id),
    }


def _statement(org_id: str):
    actor, org = organization_for_view(org_id)
    month = statements.statement_month(org, request.args.get("month"))
    read_in_one_snapshot()
    statement = statements.month_statement(actor, org, month, request.args.get("account"))
    # TRANSLATORS: the start of a downloaded statement's file name: lowercase, hyphens, no
    # accents. (Outside the f-string: Babel does not extract calls inside one.)
    word = _("statement")
    name = f"{word}-{org.id}-{month}"
    return statement, month, name


@bp.route("/<org_id>/logs/statement.pdf")
@actor_required(Permission.VIEW_ORGANIZATION)
def statement_pdf(org_id: str):
    statement, month, name = _statement(org_id)
    pdf = statement_files.render_statement_pdf(statement, month, request_language())
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": attachment(f"{name}.pdf"),
            "Cache-Control": "private, no-store",
        },
    )


@bp.route("/<org_id>/logs/statement.csv")
@actor_required(Permission.VIEW_ORGANIZATION)
def statement_csv(org_id: str):
    statement, _month, name = _statement(org_id)
    return statement_files.statement_csv_response(statement, f"{name}.csv")
