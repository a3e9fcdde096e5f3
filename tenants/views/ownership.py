"""Changing the owner in the portal: the members' Change ownership page (the owner asks, the
reseller's staff change it at once with a reason; a waiting request is cancelled there) and
the page of the emailed link where the member asked accepts or declines.

The link works only for that person, logged in as themselves (anyone else, staff acting as
them included, gets a 404 like for a link that does not exist); the request it names says
whether it still waits, was answered, cancelled or has expired. The Change ownership pages
keep their endpoints on the members blueprint (``members.ownership``).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import SelectChoice, SelectField, SubmitField, TextAreaField

from tenants.access import request_scoping, scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, can
from tenants.core.errors import DomainError, Forbidden, NotFound
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.models import (
    Member,
    MemberRole,
    Organization,
    OwnershipTransfer,
    OwnershipTransferStatus,
)
from tenants.notify import recipients
from tenants.organizations import ownership as ownership_services
from tenants.views.members import ConfirmForm, _refused
from tenants.views.members import bp as members_bp
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import Form, show_service_errors
from tenants.web.locale import use_organization_timezone
from tenants.web.session import CONTEXT_KEY, actor_for_context, current_actor

bp = Blueprint("ownership", __name__, url_prefix="/ownership")


# -- the owner's and the reseller's page (members blueprint) ----------------------------------


class OwnershipForm(Form):
    member = SelectField(_l("New owner"), validate_choice=False)
    reason = TextAreaField(
        _l("Reason"),
        description=_l("Why the owner changes at once (a support case): kept in the audit log."),
    )
    submit = SubmitField(_l("Change ownership"))


def _ownership_choices(others: list[Member]) -> list[SelectChoice]:
    """Every other current member; those without portal access shown but not choosable."""
    return [SelectChoice("", _("Choose a member…"))] + [
        SelectChoice(m.id, f"{m.user.name} <{m.user.email}>")
        if m.portal_access
        else SelectChoice(
            m.id,
            _("%(name)s <%(email)s> — no portal access", name=m.user.name, email=m.user.email),
            {"disabled": True},
        )
        for m in others
    ]


def _change_ownership(actor: Actor, org: Organization, form: OwnershipForm) -> bool:
    """The form's change: at once with a reason (the reseller's staff), else a request the
    member answers (the owner). True when done (committed and told), else the refusal is
    shown on the form."""
    try:
        member = scoping.get_member(actor, org, form.member.data or "")
    except NotFound:
        form.member.errors = [*form.member.errors, _("Choose a member of this organization.")]
        return False
    old_owner = recipients.owner_of(org)
    try:
        if can(actor, Permission.TRANSFER_OWNERSHIP):
            ownership_services.transfer_ownership(actor, org, member, reason=form.reason.data)
        else:
            ownership_services.start_ownership_transfer(actor, org, member)
    except DomainError as error:
        if isinstance(error, NotFound):
            raise
        _refused(form, error)
        return False
    names = {"new": member.user.name, "old": old_owner.user.name if old_owner else ""}
    commit()
    if can(actor, Permission.TRANSFER_OWNERSHIP):
        flash(_("%(new)s is now the owner. %(old)s is now an admin.", **names), "success")
    else:
        message = _(
            "%(new)s has been asked by email to accept the ownership within %(days)d days. "
            "Nothing changes until they accept.",
            new=names["new"],
            days=ownership_services.TRANSFER_DAYS,
        )
        flash(message, "success")
    return True


@members_bp.route("/ownership", methods=["GET", "POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def ownership(org_id: str):
    actor, org = organization_for_view(org_id)
    if not ownership_services.may_cancel(actor):
        raise Forbidden()
    others = db.session.scalars(
        scoping.members_query(actor, org)
        .where(Member.role != MemberRole.OWNER)
        .order_by(Member.created_at)
    ).all()
    waiting = ownership_services.pending_transfer(actor, org)
    form = OwnershipForm()
    at_once = can(actor, Permission.TRANSFER_OWNERSHIP)
    if not at_once:
        del form.reason
    form.member.choices = _ownership_choices(others)
    if form.validate_on_submit() and _change_ownership(actor, org, form):
        return redirect(url_for("members.ownership", org_id=org.id))
    return render_template(
        "members/ownership.html",
        org=org,
        owner=recipients.owner_of(org),
        form=form,
        at_once=at_once,
        waiting=waiting,
        waiting_member=ownership_services.asked_member(waiting) if waiting else None,
        cancel_form=ConfirmForm(),
        days=ownership_services.TRANSFER_DAYS,
        has_candidates=any(m.portal_access for m in others),
        active_section="members",
    )


@members_bp.route("/ownership/<transfer_id>/cancel", methods=["POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def cancel_ownership_transfer(org_id: str, transfer_id: str):
    actor, org = organization_for_view(org_id)
    if not ownership_services.may_cancel(actor):
        raise Forbidden()
    transfer = request_scoping.get_ownership_transfer(actor, transfer_id, org)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("members.ownership", org_id=org.id), code=303)
    if ownership_services.expire_if_due(transfer):
        commit()
        flash(_("This request had already expired."), "warning")
        return redirect(url_for("members.ownership", org_id=org.id), code=303)
    try:
        ownership_services.cancel_ownership_transfer(actor, org, transfer)
    except DomainError as error:
        if isinstance(error, NotFound):
            raise
        _refused(None, error)
    else:
        commit()
        flash(_("The request has been cancelled: its link no longer works."), "success")
    return redirect(url_for("members.ownership", org_id=org.id), code=303)


# -- the member's answer ----------------------------------------------------------------------


def _transfer(token: str) -> tuple[OwnershipTransfer, Organization]:
    """The request of the link, for the person it asks (in their own name), else 404."""
    actor = current_actor() or Actor(user_id=current_user.id)
    transfer = ownership_services.transfer_for_link(actor, token)
    org = db.session.get(Organization, transfer.organization_id)
    use_organization_timezone(org)
    return transfer, org


def _answerer(transfer: OwnershipTransfer) -> Actor | None:
    """The member asked, as they act in their organization (None when that membership no
    longer lets them in: removed, no portal access, organization suspended)."""
    return actor_for_context(current_user, f"member:{transfer.to_member_id}")


@bp.route("/<token>")
@login_required
def answer(token: str):
    transfer, org = _transfer(token)
    return render_template(
        "members/ownership_answer.html",
        transfer=transfer,
        org=org,
        owner=ownership_services.asking_member(transfer).user,
        token=token,
        form=ConfirmForm(),
        days=ownership_services.TRANSFER_DAYS,
    )


def _answer(token: str, verb, said):
    """Accept or decline (``verb``), then flash ``said(organization name)``; a request past
    its week expires instead (and says so)."""
    transfer, org = _transfer(token)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for(".answer", token=token), code=303)
    if ownership_services.expire_if_due(transfer):
        commit()
        flash(_("This request has expired: nothing has changed."), "warning")
        return redirect(url_for(".answer", token=token), code=303)
    actor = _answerer(transfer)
    try:
        if actor is None:
            raise NotFound()
        verb(actor, transfer)
    except DomainError as error:
        rollback()
        if isinstance(error, NotFound):
            flash(_("You can no longer become the owner: your membership has changed."), "danger")
        else:
            show_service_errors(None, error)
        return redirect(url_for(".answer", token=token), code=303)
    commit()
    flash(said(org.name), "success")
    if transfer.status == OwnershipTransferStatus.ACCEPTED:
        session[CONTEXT_KEY] = f"member:{transfer.to_member_id}"
        return redirect(url_for("members.index", org_id=org.id), code=303)
    return redirect(url_for(".answer", token=token), code=303)


@bp.route("/<token>/accept", methods=["POST"])
@login_required
def accept(token: str):
    return _answer(
        token,
        ownership_services.accept_ownership_transfer,
        lambda name: _("You are now the owner of %(organization)s.", organization=name),
    )


@bp.route("/<token>/decline", methods=["POST"])
@login_required
def decline(token: str):
    return _answer(
        token,
        ownership_services.decline_ownership_transfer,
        lambda name: _(
            "You declined to become the owner of %(organization)s. Nothing has changed.",
            organization=name,
        ),
    )
