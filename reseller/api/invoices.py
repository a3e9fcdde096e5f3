"""API: invoices and receipts — an organization's list, one invoice, its PDF."""

from __future__ import annotations

from flask import Response, current_app, request

import reseller.api.serializers as serializers
from reseller.api.core import done, endpoint
from reseller.api.schemas_credits import Invoice, InvoiceList
from reseller.api.spec import ListQuery
from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.invoices import documents as invoices

TAG = "Invoices"
INVOICE = "/invoices/<invoice_id>"


@endpoint(
    "/organizations/<org_id>/invoices",
    "GET",
    summary="List invoices and receipts",
    tag=TAG,
    query=ListQuery,
    response=InvoiceList,
    refusals={"cursor": "a page link this list did not give"},
    description="Newest first: the receipts of purchases and the monthly invoices, line "
    "descriptions in the language of `Accept-Language` (English by default).",
)
def list_invoices(actor: Actor, org_id: str, query: ListQuery) -> Response:
    org = scoping.get_organization(actor, org_id, include_deleted=True)
    page = invoices.invoice_page(actor, org, limit=query.limit, cursor=query.cursor)
    return done({"data": serializers.invoices(page.items), "next_cursor": page.next_cursor})


@endpoint(
    INVOICE,
    "GET",
    summary="Read an invoice",
    tag=TAG,
    response=Invoice,
    description="As issued (billing details, seller, lines and tax per rate); the line "
    "descriptions in the language of `Accept-Language` (English by default).",
)
def get_invoice(actor: Actor, invoice_id: str) -> Response:
    return done(serializers.invoice(scoping.get_invoice(actor, invoice_id)))


@endpoint(
    f"{INVOICE}.pdf",
    "GET",
    summary="Download an invoice as PDF",
    tag=TAG,
    media_type="application/pdf",
    description="In the language of `Accept-Language` when sent, else the buyer's; with "
    "the billing details and tax as they were when issued.",
)
def invoice_pdf(actor: Actor, invoice_id: str) -> Response:
    invoice = scoping.get_invoice(actor, invoice_id)
    language = None
    if "Accept-Language" in request.headers:
        language = request.accept_languages.best_match(list(current_app.config["LANGUAGES"]))
    pdf = invoices.render_invoice_pdf(invoice, language)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{invoice.number}.pdf"'},
    )
