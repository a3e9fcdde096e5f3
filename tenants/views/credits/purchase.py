"""Buying credits: form → quote and billing → payment → confirmation and receipt.

Retrying a declined card starts a new purchase (the "Try another card" button): a declined
purchase stays declined for the record, and every pay POST is tied to one pending purchase,
so no double submit of any page can charge or credit twice.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, format_timedelta, ngettext
from flask_babel import gettext as _

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, can
from tenants.core.errors import DomainError, Forbidden, NotFound, ValidationFailed
from tenants.core.extensions import db
from tenants.credits import operations as credits
from tenants.credits import purchases, topups
from tenants.credits.accounts import AccountLine, account_lines, account_name, purchasable
from tenants.credits.payments import provider_for
from tenants.invoices import documents as invoices
from tenants.jobs.outbox import commit, rollback
from tenants.models import Invoice, Organization, Purchase, PurchaseStatus
from tenants.notify import recipients
from tenants.views.credits.forms import (
    CardForm,
    ConfirmForm,
    ConfirmPurchaseForm,
    OfflinePaymentForm,
    PurchaseForm,
    StartAgainForm,
    _refused,
)
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import whole_number
from tenants.web.locale import request_language


def _payment_methods(actor: Actor) -> list[tuple[str, str]]:
    methods = [("sandbox", _("Card (test payments)"))]
    if provider_for("offline").allowed_for(actor):
        methods.append(("offline", _("Payment recorded by the reseller (bank transfer, cash)")))
    return methods


@actor_required(Permission.VIEW_ORGANIZATION)
def purchase(org_id: str):
    actor, org = organization_for_view(org_id)
    accounts = purchasable(account_lines(actor, org), actor)
    if not accounts:
        raise Forbidden()
    form = PurchaseForm()
    form.account.choices = [(a.value, a.label) for a in accounts]
    if request.method == "GET":
        wanted = request.args.get("account")
        if wanted in {a.value for a in accounts}:
            form.account.data = wanted
    if form.validate_on_submit():
        try:
            quote = _quote(org, accounts, form.account.data, form.credits.data)
        except DomainError as error:
            _refused(form, error)
        else:
            return _render_confirm(actor, org, form.account.data, quote)
    return render_template(
        "credits/purchase.html",
        org=org,
        form=form,
        recent=purchases.recent_purchases(actor, org),
        shown_status=purchases.shown_status,
        pending_period=format_timedelta(purchases.pending_max_age(), threshold=1),
        account_names={a.value: a.label for a in account_lines(actor, org)},
        active_section="payment",
    )


def _quote(org: Organization, accounts: list[AccountLine], account: str, typed: str | None):
    """What the order costs, once the account is one the actor may buy for."""
    if account not in {a.value for a in accounts}:
        raise ValidationFailed(fields={"account": _("Choose an account.")})
    credits.require_prepaid_and_usable(org)
    return purchases.quote(org, whole_number(typed))


def _render_confirm(actor: Actor, org: Organization, account: str, quote: purchases.Quote):
    """The confirmation step: the order, the billing details (to edit, or whom to ask), and
    the payment method."""
    form = ConfirmPurchaseForm(formdata=None)
    form.account.data = account
    form.credits.data = str(quote.credits)
    form.payment_method.choices = _payment_methods(actor)
    can_edit_billing = can(actor, Permission.EDIT_ORGANIZATION_SETTINGS)
    return render_template(
        "credits/purchase_confirm.html",
        org=org,
        form=form,
        quote=quote,
        account_name=account_name(org, account),
        billing=invoices.billing_snapshot(org),
        can_edit_billing=can_edit_billing,
        billing_contacts=[] if can_edit_billing else recipients.admins_of(org),
        active_section="payment",
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def review_purchase(org_id: str):
    """The confirmation step again, re-quoted, for an order in the address (where the
    billing step returns to)."""
    actor, org = organization_for_view(org_id)
    accounts = purchasable(account_lines(actor, org), actor)
    if not accounts:
        raise Forbidden()
    account = request.args.get("account", "")
    try:
        quote = _quote(org, accounts, account, request.args.get("credits"))
    except (NotFound, Forbidden):
        raise
    except DomainError:
        flash(_("Please check the purchase again."), "warning")
        known = account if account in {a.value for a in accounts} else None
        return redirect(url_for(".purchase", org_id=org.id, account=known))
    return _render_confirm(actor, org, account, quote)


@actor_required(Permission.VIEW_ORGANIZATION)
def confirm_purchase(org_id: str):
    actor, org = organization_for_view(org_id)
    if not purchasable(account_lines(actor, org), actor):
        raise Forbidden()  # e.g. platform staff: they see the organization, never buy
    form = ConfirmPurchaseForm()
    form.payment_method.choices = _payment_methods(actor)
    if form.validate_on_submit():
        try:
            new = purchases.start_purchase(
                actor,
                org,
                credit_count=whole_number(form.credits.data),
                account=form.account.data,
                payment_method=form.payment_method.data,
                language=request_language(),
                reuse_pending=True,  # a double click continues the same purchase
            )
        except DomainError as error:
            _refused(None, error)
        else:
            commit()
            return redirect(url_for(".pay", org_id=org.id, purchase_id=new.id))
    # Back to the first step with what was chosen (the quote may have changed).
    flash(_("Please check the purchase again."), "warning")
    return redirect(url_for(".purchase", org_id=org.id, account=form.account.data or None))


@actor_required(Permission.VIEW_ORGANIZATION)
def pay(org_id: str, purchase_id: str):
    actor, org = organization_for_view(org_id)
    purchase = scoping.get_purchase(actor, org, purchase_id)
    if purchase.status == PurchaseStatus.PAID:
        # Double submit or reload after paying: nothing more happens, show what was bought.
        return redirect(url_for(".purchase_done", org_id=org.id, purchase_id=purchase.id))
    offline = purchase.payment_method == "offline"
    if offline and not provider_for("offline").allowed_for(actor):
        raise Forbidden()
    form = OfflinePaymentForm() if offline else CardForm()
    expired = purchases.is_expired(purchase)
    if purchase.status == PurchaseStatus.PENDING and not expired and form.validate_on_submit():
        if offline:
            details = {"note": form.note.data}
        else:
            details = {"card_number": form.card_number.data, "expiry": form.expiry.data or ""}
        try:
            purchases.pay(actor, purchase, details)
            if (
                not offline
                and form.save_card.data
                and purchase.status == PurchaseStatus.PAID
                and _may_save_card(actor, purchase)
            ):
                topups.save_card(actor, org, details)
        except purchases.PaymentDeclined:
            rollback()
            db.session.refresh(purchase)
        except DomainError as error:
            _refused(form, error)
        else:
            commit()
            if purchase.status == PurchaseStatus.PAID:
                added = ngettext(
                    "Payment approved: %(count)s credit added.",
                    "Payment approved: %(count)s credits added.",
                    purchase.credits,
                    count=format_decimal(purchase.credits),
                )
                flash(added, "success")
                return redirect(url_for(".purchase_done", org_id=org.id, purchase_id=purchase.id))
    return render_template(
        "credits/pay.html",
        org=org,
        purchase=purchase,
        form=form,
        offline=offline,
        expired=expired,
        decline_text=purchases.decline_text(purchase),
        may_save_card=_may_save_card(actor, purchase),
        retry_form=StartAgainForm() if expired else ConfirmForm(),
        account_name=account_name(org, purchase.account),
        active_section="payment",
    )


def _may_save_card(actor: Actor, purchase: Purchase) -> bool:
    """Cards for automatic top-ups of the system pool; never saved while acting as someone."""
    return (
        purchase.account == "system"
        and can(actor, Permission.MANAGE_CREDITS)
        and not actor.real_user_id
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def retry_purchase(org_id: str, purchase_id: str):
    """After a decline: a new purchase of the same credits, re-quoted, to pay with another
    card."""
    actor, org = organization_for_view(org_id)
    old = scoping.get_purchase(actor, org, purchase_id)
    if not purchasable(account_lines(actor, org), actor):
        raise Forbidden()
    form = ConfirmForm()
    retryable = old.status == PurchaseStatus.DECLINED or purchases.is_expired(old)
    if not form.validate_on_submit() or not retryable:
        return redirect(url_for(".pay", org_id=org.id, purchase_id=old.id))
    try:
        new = purchases.start_purchase(
            actor,
            org,
            credit_count=old.credits,
            account=old.account,
            payment_method=old.payment_method,
            language=request_language(),
            reuse_pending=True,
        )
    except DomainError as error:
        _refused(None, error)
        return redirect(url_for(".purchase", org_id=org.id))
    commit()
    return redirect(url_for(".pay", org_id=org.id, purchase_id=new.id))


@actor_required(Permission.VIEW_ORGANIZATION)
def purchase_done(org_id: str, purchase_id: str):
    actor, org = organization_for_view(org_id)
    purchase = scoping.get_purchase(actor, org, purchase_id)
    if purchase.status != PurchaseStatus.PAID:
        return redirect(url_for(".pay", org_id=org.id, purchase_id=purchase.id))
    return render_template(
        "credits/purchase_done.html",
        org=org,
        purchase=purchase,
        receipt=db.session.get(Invoice, purchase.receipt_id) if purchase.receipt_id else None,
        account_name=account_name(org, purchase.account),
        can_manage=can(actor, Permission.MANAGE_CREDITS),
        active_section="payment",
    )
