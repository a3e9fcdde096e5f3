"""The platform's view of a reseller's margin report (SPEC §4b): the same month, table,
chart and CSV as the reseller's own page (reseller.settings.margin), read only — the month's
rates are the reseller's to enter."""

from __future__ import annotations

from flask import render_template, request, url_for

from reseller.platform.blueprint import bp
from reseller.settings.margin import margin_csv_response, read_period, report_context
from tenants.access import scoping
from tenants.access.policy import Permission
from tenants.web.decorators import actor_required, the_actor
from tenants.wholesale.margin import margin_report


@bp.route("/resellers/<reseller_id>/margin")
@actor_required(Permission.VIEW_ALL_CUSTOMERS)
def margin_page(reseller_id: str):
    reseller = scoping.get_reseller(the_actor(), reseller_id)
    period, errors = read_period(request.args.get("period"))
    return render_template(
        "platform/margin.html",
        reseller=reseller,
        picker_url=url_for("platform.margin_page", reseller_id=reseller.id),
        csv_url=url_for("platform.margin_csv", reseller_id=reseller.id, period=period),
        **report_context(reseller.id, period, errors),
    ), (422 if errors else 200)


@bp.route("/resellers/<reseller_id>/margin.csv")
@actor_required(Permission.VIEW_ALL_CUSTOMERS)
def margin_csv(reseller_id: str):
    reseller = scoping.get_reseller(the_actor(), reseller_id)
    period, errors = read_period(request.args.get("period"))
    if errors:
        return margin_page(reseller_id)
    return margin_csv_response(margin_report(reseller.id, period), reseller.slug)
