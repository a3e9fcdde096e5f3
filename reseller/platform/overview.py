"""The platform overview: every reseller with its number of organizations, and the dashboard."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from reseller.platform.blueprint import bp
from tenants.access import scoping
from tenants.access.policy import Permission
from tenants.core.extensions import db
from tenants.models import Organization, OrganizationStatus, Reseller
from tenants.resellers import dashboards
from tenants.web.decorators import actor_required, the_actor
from tenants.web.replica import reads_replica


@bp.route("/")
@actor_required(Permission.VIEW_ALL_CUSTOMERS)
@reads_replica
def overview():
    actor = the_actor()
    listed = db.session.scalars(scoping.resellers_query(actor).order_by(Reseller.name)).all()
    counts = dict(
        db.session.execute(
            select(Organization.reseller_id, func.count())
            .where(Organization.status != OrganizationStatus.DELETED)
            .group_by(Organization.reseller_id)
        ).all()
    )
    return render_template(
        "platform/overview.html",
        resellers=listed,
        counts=counts,
        board=dashboards.dashboard(actor),
        reseller_names={reseller.id: reseller.name for reseller in listed},
    )
