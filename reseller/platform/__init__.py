"""The platform overview: resellers and customers across the whole platform."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from tenants import scoping
from tenants.extensions import db
from tenants.models import Organization, OrganizationStatus, Reseller
from tenants.policy import Permission
from tenants.views.helpers import actor_required, the_actor

bp = Blueprint("platform", __name__, url_prefix="/platform")


@bp.route("/")
@actor_required(Permission.VIEW_ALL_CUSTOMERS)
def overview():
    actor = the_actor()
    resellers = db.session.scalars(scoping.resellers_query(actor).order_by(Reseller.name)).all()
    counts = dict(
        db.session.execute(
            select(Organization.reseller_id, func.count())
            .where(Organization.status != OrganizationStatus.DELETED)
            .group_by(Organization.reseller_id)
        ).all()
    )
    return render_template("platform/overview.html", resellers=resellers, counts=counts)
