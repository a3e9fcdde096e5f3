"""Moving credits by hand: transfers between accounts, withdrawals (and the old test SMS
address, sent on to Send SMS)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _

from tenants.access.policy import Permission, can, require
from tenants.core.errors import DomainError, Forbidden, InsufficientCredits
from tenants.credits import operations as credits
from tenants.credits.accounts import account_lines, transfer_sources, transfer_targets
from tenants.jobs.outbox import commit, rollback
from tenants.views.credits.forms import (
    TransferForm,
    WithdrawForm,
    _refused,
)
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import whole_number


def _transfer_form(sources, targets) -> TransferForm:
    """The transfer form with its choices, and on a GET the accounts the link names (an
    account's "to/from this account" action): the other side defaults to the pool, or for
    a plain member (who moves only out of their own account) to it."""
    form = TransferForm()
    form.source.choices = [(a.value, f"{a.label} ({format_decimal(a.credits)})") for a in sources]
    form.target.choices = targets
    if request.method != "GET":
        return form
    source_values, target_values = {a.value for a in sources}, {v for v, _label in targets}
    source, target = request.args.get("from"), request.args.get("to")
    if source in source_values:
        form.source.data = source
        if target is None:
            target = "system" if source != "system" else None
    if target in target_values:
        form.target.data = target
        if source is None and target != "system" and "system" in source_values:
            form.source.data = "system"
    return form


@actor_required(Permission.VIEW_ORGANIZATION)
def transfer(org_id: str):
    actor, org = organization_for_view(org_id)
    require(actor, Permission.TRANSFER_OWN_CREDITS)
    sources = transfer_sources(actor, org)
    if not sources:  # a plain member without an individual account of their own
        raise Forbidden()
    form = _transfer_form(sources, transfer_targets(actor, org))
    status = 200
    if form.validate_on_submit():
        try:
            credits.transfer_credits(
                actor,
                org,
                form.source.data,
                form.target.data,
                whole_number(form.credits.data),
                agreed=bool(form.agree.data),
            )
        except InsufficientCredits:
            rollback()
            status = 402
            flash(_("Insufficient credits: the source account does not hold that many."), "danger")
        except DomainError as error:
            _refused(form, error)
        else:
            commit()
            flash(_("Transfer complete: the credits have been applied."), "success")
            return redirect(url_for(".index", org_id=org.id))
    return (
        render_template(
            "credits/transfer.html",
            org=org,
            form=form,
            individual=org.individual_user_credits,
            own_only=not can(actor, Permission.MANAGE_CREDITS),
            active_section="payment",
        ),
        status,
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def withdraw(org_id: str):
    actor, org = organization_for_view(org_id)
    require(actor, Permission.WITHDRAW_CREDITS)
    accounts = account_lines(actor, org)
    form = WithdrawForm()
    form.account.choices = [(a.value, f"{a.label} ({format_decimal(a.credits)})") for a in accounts]
    if request.method == "GET" and request.args.get("account") in {a.value for a in accounts}:
        form.account.data = request.args["account"]
    if request.method == "GET" and request.args.get("close_out") == "1":
        form.close_out.data = "1"
    status = 200
    if form.validate_on_submit():
        try:
            credits.withdraw_credits(
                actor,
                org,
                form.account.data,
                whole_number(form.credits.data),
                reason=form.reason.data,
                close_out=form.close_out.data == "1",
            )
        except InsufficientCredits:
            rollback()
            status = 402
            form.credits.errors = [_("The account does not hold that many credits.")]
        except DomainError as error:
            _refused(form, error)
        else:
            commit()
            flash(_("The credits have been withdrawn."), "success")
            if form.close_out.data == "1":  # back to the close-out statement
                return redirect(url_for("organization.delete", org_id=org.id))
            return redirect(url_for(".index", org_id=org.id))
    return (
        render_template("credits/withdraw.html", org=org, form=form, active_section="payment"),
        status,
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def test_sms(org_id: str):
    """The old "Send test SMS" page: Send SMS replaced it (one way to send)."""
    return redirect(url_for("messaging.send", org_id=org_id), 301)
