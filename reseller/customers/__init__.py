"""The Customer app: the reseller's list of its organizations."""

from __future__ import annotations

from flask import Blueprint, render_template

from tenants import scoping
from tenants.extensions import db
from tenants.models import Organization
from tenants.policy import Permission
from tenants.views.helpers import actor_required, the_actor

bp = Blueprint("customers", __name__, url_prefix="/customers")


@bp.route("/")
@actor_required(Permission.USE_CUSTOMER_APP)
def index():
    actor = the_actor()
    query = scoping.organizations_query(actor).order_by(Organization.name, Organization.id)
    organizations = db.session.scalars(query.limit(50)).all()
    return render_template("customers/index.html", organizations=organizations)
