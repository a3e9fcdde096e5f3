"""An organization's members: list, add, view, edit, remove, invitations, ownership."""

from __future__ import annotations

from flask import Blueprint, render_template

from tenants import scoping
from tenants.extensions import db
from tenants.policy import Permission
from tenants.views.helpers import actor_required, the_actor
from tenants.web import use_organization_timezone

bp = Blueprint("members", __name__, url_prefix="/organizations/<org_id>/members")


@bp.route("/")
@actor_required(Permission.VIEW_ORGANIZATION)
def index(org_id: str):
    actor = the_actor()
    org = scoping.get_organization(actor, org_id)
    use_organization_timezone(org)
    members = db.session.scalars(scoping.members_query(actor, org)).all()
    return render_template("members/index.html", org=org, members=members, active_section="members")
