"""A receipt's PDF, for those who may follow its purchase."""

from __future__ import annotations

from flask import Response
from sqlalchemy import or_, select

from tenants.access import scoping
from tenants.access.policy import Permission
from tenants.core.errors import NotFound
from tenants.core.extensions import db
from tenants.invoices import documents as invoices
from tenants.models import Invoice, Purchase
from tenants.views.credits.lookup import page_organization, request_language
from tenants.web.decorators import actor_required


@actor_required(Permission.VIEW_ORGANIZATION)
def receipt_pdf(org_id: str, invoice_id: str):
    actor, org = page_organization(org_id)
    if len(invoice_id) > 40:
        raise NotFound()
    query = select(Invoice).where(
        Invoice.id == invoice_id,
        Invoice.organization_id == org.id,
        Invoice.reseller_id == org.reseller_id,
    )
    if not scoping.sees_every_account(actor):
        # A member reaches the receipts of their own purchases only.
        query = query.where(
            Invoice.id.in_(
                select(Purchase.receipt_id).where(
                    Purchase.organization_id == org.id,
                    or_(
                        Purchase.account == f"member:{actor.member_id}",
                        Purchase.created_by_user_id == actor.user_id,
                    ),
                )
            )
        )
    invoice = db.session.scalar(query)
    if invoice is None:
        raise scoping.not_found(actor, Invoice, invoice_id)
    pdf = invoices.render_invoice_pdf(invoice, request_language())
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{invoice.number}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
