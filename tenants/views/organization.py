"""An organization's own pages: the overview its members land on."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from tenants import scoping
from tenants.extensions import db
from tenants.models import Member
from tenants.policy import Permission
from tenants.views.helpers import actor_required, the_actor
from tenants.web import use_organization_timezone

bp = Blueprint("organization", __name__, url_prefix="/organizations")


@bp.route("/<org_id>/")
@actor_required(Permission.VIEW_ORGANIZATION)
def overview(org_id: str):
    actor = the_actor()
    org = scoping.get_organization(actor, org_id)
    use_organization_timezone(org)
    member_count = db.session.scalar(
        select(func.count()).select_from(scoping.members_query(actor, org).subquery())
    )
    owner = db.session.scalar(scoping.members_query(actor, org).where(Member.role == "owner"))
    return render_template(
        "organization/overview.html", org=org, member_count=member_count, owner=owner
    )
