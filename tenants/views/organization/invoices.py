"""An organization's Invoices section: the invoices and receipts, and one invoice's detail
(its Logs section is logs.py)."""

from __future__ import annotations

from flask import abort, render_template, request

from tenants.access import scoping
from tenants.access.policy import Permission
from tenants.core.errors import ValidationFailed
from tenants.invoices import documents as invoices
from tenants.invoices import reading
from tenants.views.organization.blueprint import bp
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.locale import request_language

INVOICE_PAGE_SIZE = 50


@bp.route("/<org_id>/invoices", endpoint="invoices")
@actor_required(Permission.MANAGE_CREDITS)
def invoices_list(org_id: str):
    actor, org = organization_for_view(org_id)
    cursor = request.args.get("cursor", "")
    try:
        page = invoices.invoice_page(actor, org, limit=INVOICE_PAGE_SIZE, cursor=cursor or None)
    except ValidationFailed:
        abort(404)
    return render_template(
        "organization/invoices.html",
        org=org,
        page=page,
        first_page=not cursor,
        active_section="invoices",
    )


@bp.route("/<org_id>/invoices/<invoice_id>")
@actor_required(Permission.MANAGE_CREDITS)
def invoice(org_id: str, invoice_id: str):
    actor, org = organization_for_view(org_id)
    found = scoping.get_invoice(actor, invoice_id, org)
    return render_template(
        "organization/invoice.html",
        org=org,
        invoice=found,
        lines=reading.shown_lines(found, invoices.invoice_lines(found), request_language()),
        seller=reading.seller_of(found),
        taxes=reading.taxes_of(found),
        active_section="invoices",
    )
