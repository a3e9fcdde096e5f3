"""A receipt's PDF, for those who may follow its purchase."""

from __future__ import annotations

from flask import Response

from tenants.access import scoping
from tenants.access.policy import Permission
from tenants.invoices import documents as invoices
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.locale import request_language


@actor_required(Permission.VIEW_ORGANIZATION)
def receipt_pdf(org_id: str, invoice_id: str):
    actor, org = organization_for_view(org_id)
    # A member reaches the receipts of their own purchases only.
    invoice = scoping.get_invoice(actor, invoice_id, org)
    pdf = invoices.render_invoice_pdf(invoice, request_language())
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{invoice.number}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
