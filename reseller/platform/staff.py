"""Platform staff: platform admins invite admins and support agents, change roles, remove
(the one flow of reseller/staff.py)."""

from __future__ import annotations

from flask import render_template, url_for

from reseller.platform.blueprint import bp
from reseller.staff import PLATFORM_ROLES, StaffFlow, platform_staff
from tenants.access.policy import Permission
from tenants.core.extensions import db
from tenants.models import User
from tenants.resellers import operations as resellers
from tenants.web.decorators import actor_required, the_actor


def _staff_page(form, status: int):
    staff = db.session.scalars(
        resellers.platform_staff_query().order_by(User.name, User.email)
    ).all()
    return (
        render_template("platform/staff.html", staff=staff, form=form, role_choices=PLATFORM_ROLES),
        status,
    )


def _flow() -> StaffFlow:
    return platform_staff(the_actor(), page=_staff_page, back=url_for("platform.staff"))


@bp.route("/staff")
@actor_required(Permission.MANAGE_PLATFORM)
def staff():
    return _flow().show()


@bp.route("/staff/invite", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def invite_staff():
    return _flow().invite_staff()


@bp.route("/staff/<staff_id>/role", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def change_staff_role(staff_id: str):
    return _flow().change_staff_role(staff_id)


@bp.route("/staff/<staff_id>/remove", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def remove_staff(staff_id: str):
    return _flow().remove_staff(staff_id)
