"""An organization's sections (Customer app "View" and the organization's own pages)."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from tenants import scoping
from tenants.extensions import db
from tenants.models import Member, MemberRole
from tenants.policy import Permission
from tenants.views.helpers import actor_required, the_actor
from tenants.web import use_organization_timezone

bp = Blueprint("organization", __name__, url_prefix="/organizations")


def _organization(org_id: str):
    actor = the_actor()
    org = scoping.get_organization(actor, org_id)
    use_organization_timezone(org)
    return actor, org


@bp.route("/<org_id>/")
@actor_required(Permission.VIEW_ORGANIZATION)
def overview(org_id: str):
    actor, org = _organization(org_id)
    member_count = db.session.scalar(
        select(func.count()).select_from(scoping.members_query(actor, org).subquery())
    )
    owner = db.session.scalar(
        select(Member).where(
            Member.organization_id == org.id,
            Member.role == MemberRole.OWNER,
            Member.removed_at.is_(None),
        )
    )
    return render_template(
        "organization/overview.html",
        org=org,
        member_count=member_count,
        owner=owner,
        active_section="overview",
    )


@bp.route("/<org_id>/payment")
@actor_required(Permission.MANAGE_CREDITS)
def payment(org_id: str):
    _actor, org = _organization(org_id)
    return render_template("organization/payment.html", org=org, active_section="payment")


@bp.route("/<org_id>/settings")
@actor_required(Permission.EDIT_ORGANIZATION_SETTINGS)
def settings(org_id: str):
    _actor, org = _organization(org_id)
    return render_template("organization/settings.html", org=org, active_section="settings")


@bp.route("/<org_id>/logs")
@actor_required(Permission.VIEW_ORGANIZATION)
def logs(org_id: str):
    _actor, org = _organization(org_id)
    return render_template("organization/logs.html", org=org, active_section="logs")


@bp.route("/<org_id>/invoices")
@actor_required(Permission.MANAGE_CREDITS)
def invoices(org_id: str):
    _actor, org = _organization(org_id)
    return render_template("organization/invoices.html", org=org, active_section="invoices")


@bp.route("/<org_id>/audit")
@actor_required(Permission.VIEW_AUDIT)
def audit(org_id: str):
    _actor, org = _organization(org_id)
    return render_template("organization/audit.html", org=org, active_section="audit")
