"""An organization's members: list, add, view, edit, remove, invitations, ownership."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    EmailField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TelField,
)

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, can, require
from tenants.core.errors import DomainError, NotFound
from tenants.core.extensions import db
from tenants.credits.movements import credits_phrase
from tenants.jobs.outbox import commit, rollback
from tenants.models import Member, MemberRole, Organization
from tenants.notify import recipients
from tenants.organizations import invitations
from tenants.organizations import members as member_services
from tenants.organizations import ownership as ownership_services
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import Form, show_service_errors

bp = Blueprint("members", __name__, url_prefix="/organizations/<org_id>/members")

YES, NO = "yes", "no"


# ---------------------------------------------------------------------------
# Forms


def _yes_no() -> list[SelectChoice]:
    return [SelectChoice(YES, _l("Yes")), SelectChoice(NO, _l("No"))]


class MemberForm(Form):
    name = StringField(_l("Name"))
    email = EmailField(_l("Email"))
    mobile = TelField(
        _l("Mobile"), description=_l("International format, e.g. +34 600 000 000 (optional).")
    )
    portal_access = SelectField(
        _l("Portal Access"),
        choices=_yes_no(),
        default=YES,
        description=_l("Allows the person to log in to the web portal."),
    )
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice(MemberRole.ADMIN.value, _l("Admin")),
            SelectChoice(MemberRole.MEMBER.value, _l("Member")),
        ],
        default=MemberRole.MEMBER.value,
    )
    submit = SubmitField(_l("Add member"))


class AddMemberForm(MemberForm):
    language = SelectField(
        _l("Invitation language"),
        validate_choice=False,
        description=_l("The invitation email and the page where the person chooses a password."),
    )


class EditMemberForm(MemberForm):
    submit = SubmitField(_l("Save Changes"))


class ConfirmForm(Form):
    """A form with nothing but its CSRF token: for POST buttons (remove, resend)."""

    submit = SubmitField(_l("Confirm"))


# ---------------------------------------------------------------------------
# Helpers


def _member(org_id: str, member_id: str) -> tuple[Actor, Organization, Member]:
    """Organization and member through scoping: another tenant's, or another's, is a 404."""
    actor, org = organization_for_view(org_id)
    return actor, org, scoping.get_member(actor, org, member_id)


def _refused(form: Form | None, error: DomainError) -> None:
    """Undo the attempt, then show why (tenants.web.forms.show_service_errors)."""
    rollback()
    show_service_errors(form, error)


def _language_choices(org: Organization) -> list[SelectChoice]:
    """The organization's language (the default), then each language the portal speaks."""
    languages = current_app.config["LANGUAGES"]
    own = languages[recipients.organization_language(org)]
    return [
        SelectChoice("", _("The organization's language (%(language)s)", language=own)),
        *(SelectChoice(code, name) for code, name in languages.items()),
    ]


def _role_label(role: MemberRole) -> str:
    return {
        MemberRole.OWNER: _("Owner"),
        MemberRole.ADMIN: _("Admin"),
        MemberRole.MEMBER: _("Member"),
    }[role]


# ---------------------------------------------------------------------------
# Pages


@bp.route("/")
@actor_required(Permission.VIEW_ORGANIZATION)
def index(org_id: str):
    actor, org = organization_for_view(org_id)
    members = db.session.scalars(scoping.members_query(actor, org).order_by(Member.created_at))
    may_transfer = ownership_services.may_cancel(actor)
    waiting = ownership_services.pending_transfer(actor, org) if may_transfer else None
    return render_template(
        "members/index.html",
        org=org,
        members=members.all(),
        invitations=invitations.pending_invitations(actor, org),
        languages=current_app.config["LANGUAGES"],
        can_manage=can(actor, Permission.MANAGE_MEMBERS),
        can_transfer=may_transfer,
        waiting=waiting,
        waiting_member=ownership_services.asked_member(waiting) if waiting else None,
        active_section="members",
    )


@bp.route("/new", methods=["GET", "POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def add(org_id: str):
    actor, org = organization_for_view(org_id)
    require(actor, Permission.MANAGE_MEMBERS)
    form = AddMemberForm()
    form.language.choices = _language_choices(org)
    status = 200
    if form.validate_on_submit():
        try:
            member = member_services.add_member(
                actor,
                org,
                name=form.name.data,
                email=form.email.data,
                mobile=form.mobile.data,
                role=form.role.data,
                portal_access=form.portal_access.data == YES,
                language=form.language.data or None,
            )
        except DomainError as error:
            if isinstance(error, NotFound):
                raise
            _refused(form, error)
            status = error.status
        else:
            commit()
            if member.portal_access:
                flash(
                    _(
                        "%(name)s has been added and invited by email to %(email)s.",
                        name=member.user.name,
                        email=member.user.email,
                    ),
                    "success",
                )
            else:
                flash(_("%(name)s has been added.", name=member.user.name), "success")
            return redirect(url_for(".detail", org_id=org.id, member_id=member.id))
    page = render_template("members/add.html", org=org, form=form, active_section="members")
    return page, status


@bp.route("/<member_id>/")
@actor_required(Permission.VIEW_ORGANIZATION)
def detail(org_id: str, member_id: str):
    actor, org, member = _member(org_id, member_id)
    return render_template(
        "members/detail.html",
        org=org,
        member=member,
        role_label=_role_label(member.role),
        can_manage=can(actor, Permission.MANAGE_MEMBERS),
        is_self=member.id == actor.member_id,
        form=ConfirmForm(),
        active_section="members",
    )


@bp.route("/<member_id>/edit", methods=["GET", "POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def edit(org_id: str, member_id: str):
    actor, org, member = _member(org_id, member_id)
    require(actor, Permission.MANAGE_MEMBERS)
    is_owner = member.role == MemberRole.OWNER
    form = EditMemberForm(
        data={
            "name": member.user.name,
            "email": member.user.email,
            "mobile": member.user.mobile or "",
            "portal_access": YES if member.portal_access else NO,
            "role": member.role.value if not is_owner else MemberRole.ADMIN.value,
        }
    )
    if is_owner:
        # The owner keeps portal access and changes role only through ownership transfer.
        del form.role
        del form.portal_access
    status = 200
    if form.validate_on_submit():
        values = {"name": form.name.data, "email": form.email.data, "mobile": form.mobile.data}
        if not is_owner:
            values["role"] = form.role.data
            values["portal_access"] = form.portal_access.data == YES
        try:
            changes = member_services.update_member(actor, org, member, values)
        except DomainError as error:
            if isinstance(error, NotFound):
                raise
            _refused(form, error)
            status = error.status
        else:
            commit()
            if changes:
                flash(_("The changes have been saved."), "success")
            else:
                flash(_("Nothing was changed."), "info")
            return redirect(url_for(".detail", org_id=org.id, member_id=member.id))
    return render_template(
        "members/edit.html",
        org=org,
        member=member,
        form=form,
        is_owner=is_owner,
        active_section="members",
    ), status


@bp.route("/<member_id>/remove", methods=["GET", "POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def remove(org_id: str, member_id: str):
    actor, org, member = _member(org_id, member_id)
    require(actor, Permission.MANAGE_MEMBERS)
    form = ConfirmForm()
    if member.role == MemberRole.OWNER:
        flash(_("The owner cannot be removed. Transfer the ownership first."), "danger")
        return redirect(url_for(".detail", org_id=org.id, member_id=member.id))
    if form.validate_on_submit():
        name = member.user.name
        try:
            returned = member_services.remove_member(actor, org, member)
        except DomainError as error:
            if isinstance(error, NotFound):
                raise
            _refused(None, error)
            return redirect(url_for(".detail", org_id=org.id, member_id=member.id))
        commit()
        flash(_("%(name)s has been removed from the organization.", name=name), "success")
        if returned:
            message = _(
                "Their individual credits (%(credits)s) went back to the system pool.",
                credits=credits_phrase(returned),
            )
            flash(message, "success")
        return redirect(url_for(".index", org_id=org.id))
    return render_template(
        "members/remove.html",
        org=org,
        member=member,
        form=form,
        credits=member_services.credits_to_return(org, member),
        active_section="members",
    )


def _back(org: Organization, member: Member):
    """Back to the members list when the button was in its pending invitations, else to
    the member's page."""
    if request.form.get("back") == "index":
        return redirect(url_for(".index", org_id=org.id, _anchor="invitations"), code=303)
    return redirect(url_for(".detail", org_id=org.id, member_id=member.id), code=303)


def _invitation_action(org_id: str, member_id: str, verb, said):
    """Resend or revoke a member's invitation (``verb``, an operation of
    tenants.people.invitations), then flash ``said(email)`` and go back."""
    actor, org, member = _member(org_id, member_id)
    require(actor, Permission.MANAGE_MEMBERS)
    if not ConfirmForm().validate_on_submit():
        return _back(org, member)
    try:
        verb(actor, org, member)
    except DomainError as error:
        if isinstance(error, NotFound):
            raise
        _refused(None, error)
    else:
        email = member.user.email
        commit()
        flash(said(email), "success")
    return _back(org, member)


@bp.route("/<member_id>/invitation", methods=["POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def resend_invitation(org_id: str, member_id: str):
    return _invitation_action(
        org_id,
        member_id,
        invitations.resend_invitation,
        lambda email: _("The invitation has been sent again to %(email)s.", email=email),
    )


@bp.route("/<member_id>/invitation/revoke", methods=["POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def revoke_invitation(org_id: str, member_id: str):
    return _invitation_action(
        org_id,
        member_id,
        invitations.revoke_invitation,
        lambda email: _(
            "The invitation to %(email)s has been revoked: its link no longer works. The "
            "person stays a member; Resend invites them again.",
            email=email,
        ),
    )
