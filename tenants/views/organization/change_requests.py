"""Individual user credits on request (seed 001): the organization's admins ask for them here,
the reseller's staff approve or decline here (tenants.organizations.change_requests)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from tenants.access import request_scoping, scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, can
from tenants.core.errors import DomainError
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.models import Organization, User
from tenants.organizations import change_requests
from tenants.views.organization.blueprint import bp
from tenants.views.organization.forms import (
    ApproveRequestForm,
    DeclineRequestForm,
    IndividualCreditsRequestForm,
)
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import show_service_errors


def individual_credits_notice(actor: Actor, org: Organization) -> dict | None:
    """What the overview and the credits page say about it: to the reseller's staff, a
    request waiting for them; to the organization's admins, how to ask (or that they did)."""
    if can(actor, Permission.MANAGE_ORGANIZATION):
        pending = change_requests.pending_request(actor, org)
        if pending is None:
            return None
        requester = _person(pending.requested_by_user_id)
        return {"staff": True, "pending": pending, "requester": requester}
    if can(actor, Permission.REQUEST_CONFIGURATION_CHANGE) and change_requests.may_request(org):
        return {"staff": False, "pending": change_requests.pending_request(actor, org)}
    return None


def _person(user_id: str | None) -> User | None:
    return db.session.get(User, user_id) if user_id else None


def _page(actor: Actor, org: Organization, **forms):
    staff = can(actor, Permission.MANAGE_ORGANIZATION)
    if not staff and not can(actor, Permission.REQUEST_CONFIGURATION_CHANGE):
        abort(403)
    latest = change_requests.latest_request(actor, org)
    pending = latest if latest is not None and latest.is_pending else None
    # Only the forms that can be used now (a refused post may have made one that cannot).
    shown = {}
    if staff and pending is not None:
        shown["approve_form"] = forms.get("approve_form") or ApproveRequestForm(formdata=None)
        shown["decline_form"] = forms.get("decline_form") or DeclineRequestForm(formdata=None)
        for form in shown.values():
            form.request_id.data = pending.id
    elif not staff and pending is None and change_requests.may_request(org):
        shown["request_form"] = forms.get("request_form") or IndividualCreditsRequestForm(
            formdata=None
        )
    return render_template(
        "organization/individual_credits.html",
        org=org,
        staff=staff,
        latest=latest,
        pending=pending,
        requester=_person(latest.requested_by_user_id) if latest else None,
        decider=_person(latest.decided_by_user_id) if latest else None,
        active_section="settings",
        **shown,
    )


@bp.route("/<org_id>/individual-credits")
@actor_required(Permission.VIEW_ORGANIZATION)
def individual_credits(org_id: str):
    actor, org = organization_for_view(org_id)
    return _page(actor, org)


def _refused(actor: Actor, org_id: str, form, error: DomainError):
    """Undo the attempt; the page again, with the refusal and its 4xx."""
    rollback()
    show_service_errors(form, error)
    return scoping.get_organization(actor, org_id)


def _post(org_id: str, form, form_key: str, act, said: str):
    """A posted form of the page: ``act(actor, org, form)`` (an operation of
    tenants.organizations.change_requests) when the form is valid, then ``said`` and back to
    the page; else the page again with the form's errors or the refusal."""
    actor, org = organization_for_view(org_id)
    if form.validate_on_submit():
        try:
            act(actor, org, form)
        except DomainError as error:
            org = _refused(actor, org_id, form, error)
        else:
            commit()
            flash(said, "success")
            return redirect(url_for(".individual_credits", org_id=org.id))
    return _page(actor, org, **{form_key: form})


def _pending(actor: Actor, org: Organization, form):
    """The request the staff's form names: another tenant's or an unknown one is a 404."""
    return request_scoping.get_change_request(actor, org, form.request_id.data)


@bp.route("/<org_id>/individual-credits/request", methods=["POST"])
@actor_required(Permission.REQUEST_CONFIGURATION_CHANGE)
def request_individual_credits(org_id: str):
    return _post(
        org_id,
        IndividualCreditsRequestForm(),
        "request_form",
        lambda actor, org, form: change_requests.request_individual_credits(
            actor, org, form.message.data
        ),
        _("Your request was sent to your provider. You will get an email with the answer."),
    )


@bp.route("/<org_id>/individual-credits/approve", methods=["POST"])
@actor_required(Permission.MANAGE_ORGANIZATION)
def approve_individual_credits(org_id: str):
    return _post(
        org_id,
        ApproveRequestForm(),
        "approve_form",
        lambda actor, org, form: change_requests.approve_change_request(
            actor, org, _pending(actor, org, form)
        ),
        _("Approved: individual user credits are on. The organization's admins are told."),
    )


@bp.route("/<org_id>/individual-credits/decline", methods=["POST"])
@actor_required(Permission.MANAGE_ORGANIZATION)
def decline_individual_credits(org_id: str):
    return _post(
        org_id,
        DeclineRequestForm(),
        "decline_form",
        lambda actor, org, form: change_requests.decline_change_request(
            actor, org, _pending(actor, org, form), form.reason.data
        ),
        _("Declined. The organization's admins are told."),
    )
