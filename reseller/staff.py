"""ONE staff flow (invite, change role, remove) for the three staff screens: the reseller's
own settings, the platform's staff, and a reseller's staff seen from the platform.

A screen builds a StaffFlow per request from the services it calls (bound to the actor and,
for a reseller's staff, to the reseller), the page that lists the staff and where to return.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from flask import flash, redirect
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import EmailField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.core.errors import Conflict, ValidationFailed
from tenants.jobs.outbox import commit, rollback
from tenants.models import Reseller
from tenants.resellers import operations as resellers
from tenants.web.forms import Form, choices, show_service_errors

RESELLER_ROLES = [("agent", _l("Agent")), ("admin", _l("Admin"))]
PLATFORM_ROLES = [("support", _l("Support agent")), ("admin", _l("Platform admin"))]


class StaffRoleForm(Form):
    """A staff member's role, one of the screen's roles."""

    role = SelectField(_l("Role"))

    def __init__(self, roles: list[tuple[str, Any]], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = choices(*roles)


class InviteStaffForm(StaffRoleForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    submit = SubmitField(_l("Send invitation"))


@dataclass(frozen=True)
class StaffFlow:
    """What differs between the screens; the steps themselves are written once below."""

    invite: Callable[[str, str, str], Any]  # (email, name, role) -> the staff row
    change_role: Callable[[str, str], Any]  # (staff id, role) -> the staff row
    remove: Callable[[str], None]  # (staff id)
    find: Callable[[str], Any]  # staff id -> the staff row, else NotFound (a 404)
    roles: list[tuple[str, Any]]
    page: Callable[[InviteStaffForm, int], ResponseReturnValue]  # the list and this form
    back: str  # where every action returns
    removed: Callable[[str], str]  # the message once a person is removed, by name

    def invite_form(self, **kwargs) -> InviteStaffForm:
        return InviteStaffForm(self.roles, **kwargs)

    def show(self) -> ResponseReturnValue:
        return self.page(self.invite_form(formdata=None), 200)

    def invite_staff(self) -> ResponseReturnValue:
        form = self.invite_form()
        if not form.validate_on_submit():
            return self.page(form, 422)
        try:
            member = self.invite(form.email.data, form.name.data, form.role.data)
        except ValidationFailed as error:
            rollback()
            show_service_errors(form, error)
            return self.page(form, 422)
        commit()
        flash(_("An invitation was sent to %(email)s.", email=member.user.email), "success")
        return redirect(self.back)

    def change_staff_role(self, staff_id: str) -> ResponseReturnValue:
        self.find(staff_id)  # another's, or nobody's: 404 first
        form = StaffRoleForm(self.roles)
        if not form.validate_on_submit():
            flash(_("Choose a role."), "danger")
            return redirect(self.back)
        try:
            member = self.change_role(staff_id, form.role.data)
        except (Conflict, ValidationFailed) as error:
            rollback()
            flash(" ".join(error.fields.values()) or str(error), "danger")
            return redirect(self.back)
        commit()
        flash(_("The role of %(name)s was changed.", name=member.user.name), "success")
        return redirect(self.back)

    def remove_staff(self, staff_id: str) -> ResponseReturnValue:
        name = self.find(staff_id).user.name
        try:
            self.remove(staff_id)
        except Conflict as error:
            rollback()
            flash(str(error), "danger")
            return redirect(self.back)
        commit()
        flash(self.removed(name), "success")
        return redirect(self.back)


def reseller_staff(actor: Actor, reseller: Reseller, *, page, back: str) -> StaffFlow:
    """The flow over a reseller's staff (its own admins, or platform admins)."""
    return StaffFlow(
        invite=partial(resellers.invite_reseller_staff, actor, reseller),
        change_role=partial(resellers.change_reseller_staff_role, actor, reseller),
        remove=partial(resellers.remove_reseller_staff, actor, reseller),
        find=partial(scoping.get_reseller_staff, actor, reseller),
        roles=RESELLER_ROLES,
        page=page,
        back=back,
        removed=lambda name: _("%(name)s was removed from the staff.", name=name),
    )


def platform_staff(actor: Actor, *, page, back: str) -> StaffFlow:
    """The flow over the platform's own staff (platform admins)."""
    return StaffFlow(
        invite=partial(resellers.invite_platform_staff, actor),
        change_role=partial(resellers.change_platform_staff_role, actor),
        remove=partial(resellers.remove_platform_staff, actor),
        find=resellers.get_platform_staff,
        roles=PLATFORM_ROLES,
        page=page,
        back=back,
        removed=lambda name: _("%(name)s was removed from the platform staff.", name=name),
    )
