"""Reseller settings: the reseller's staff — invite, change role, remove (reseller/staff.py)."""

from __future__ import annotations

from flask import render_template, url_for

from reseller.settings.blueprint import bp
from reseller.staff import RESELLER_ROLES, StaffFlow, reseller_staff
from tenants.access import scoping
from tenants.access.policy import Permission
from tenants.core.extensions import db
from tenants.models import Reseller, ResellerStaff, User
from tenants.web.decorators import actor_required, the_actor


def _staff_page(reseller: Reseller, form, status: int):
    staff = db.session.scalars(
        scoping.reseller_staff_query(the_actor(), reseller)
        .join(User, User.id == ResellerStaff.user_id)
        .order_by(User.name, User.email)
    ).all()
    return (
        render_template(
            "reseller_settings/staff.html",
            staff=staff,
            form=form,
            role_choices=RESELLER_ROLES,
            active_tab="staff",
        ),
        status,
    )


def _flow() -> StaffFlow:
    actor = the_actor()
    reseller = scoping.get_reseller(actor, actor.reseller_id)
    return reseller_staff(
        actor,
        reseller,
        page=lambda form, status: _staff_page(reseller, form, status),
        back=url_for("reseller_settings.staff"),
    )


@bp.route("/staff")
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def staff():
    return _flow().show()


@bp.route("/staff/invite", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def invite_staff():
    return _flow().invite_staff()


@bp.route("/staff/<staff_id>/role", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def change_staff_role(staff_id: str):
    return _flow().change_staff_role(staff_id)


@bp.route("/staff/<staff_id>/remove", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def remove_staff(staff_id: str):
    return _flow().remove_staff(staff_id)
