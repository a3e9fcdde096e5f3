"""Login-as (remote support) pages: start and end a support session, the re-check, the log.

Routes sit under the organization they act on (``/organizations/<org_id>/support/...``),
under ``/support/`` for the staff member's own session, and under ``/reseller/support/``
for the reseller-wide log and its setting.
"""

from __future__ import annotations

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from reseller.support.blueprint import bp
from reseller.support.forms import ConfirmCodeForm, ConfirmPasswordForm, NotificationForm
from tenants.access import scoping
from tenants.access.policy import Permission, WhileActing, can, refuse_while_acting, require
from tenants.audit import labels as audit_labels
from tenants.core.errors import (
    DomainError,
    ReauthenticationRequired,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.models import Organization, Reseller, SupportMode, SupportSessionEnd
from tenants.people import auth, two_factor
from tenants.people.users import users_by_id
from tenants.support import sessions as support
from tenants.web.decorators import actor_required, is_safe_next, the_actor
from tenants.web.forms import ReturnForm, StartForm, show_service_errors
from tenants.web.locale import use_organization_timezone
from tenants.web.session import (
    SUPPORT_KEY,
    current_actor,
    enter_support_session,
    home_url,
    leave_support_session,
)
from tenants.web.templating import login_as_form, member_label

# -- starting, returning, re-checking ----------------------------------------------------


def _start_page(org, form, status=200):
    return render_template(
        "support/start.html", org=org, form=form, minutes=support.session_minutes()
    ), status


@bp.route("/organizations/<org_id>/support/start", methods=["GET", "POST"])
@actor_required()
def start(org_id: str):
    actor = the_actor()
    org = scoping.get_organization(actor, org_id)
    refuse_while_acting(actor, WhileActing.START_SUPPORT_SESSION)
    require(actor, Permission.LOGIN_AS)
    use_organization_timezone(org)
    if request.method == "GET":
        form = login_as_form(org, request.args.get("member"))
        form.reason.data = (request.args.get("reason") or "")[:500]
        if request.args.get("mode") == "change":
            form.mode.data = "change"
        return _start_page(org, form)
    form = StartForm()
    form.member.choices = [(m.id, member_label(m)) for m in support.candidates(actor, org)]
    if not form.validate_on_submit():
        return _start_page(org, form, 400)
    login = auth.session_row(current_user.auth_token)
    try:
        row = support.start_support_session(
            actor,
            org,
            form.member.data or "",
            form.reason.data or "",
            authenticated_at=login.authenticated_at if login else None,
            ip=request.remote_addr,
            mode=form.mode.data,
        )
    except ReauthenticationRequired as error:
        rollback()
        flash(str(error), "warning")
        again = url_for(
            "support.start",
            org_id=org.id,
            member=form.member.data,
            reason=form.reason.data,
            mode=form.mode.data,
        )
        return redirect(url_for("support.confirm", next=again))
    except ValidationFailed as error:
        rollback()
        show_service_errors(form, error)
        return _start_page(org, form, error.status)
    member_name = row.member.user.name
    enter_support_session(row.id)
    commit()
    if row.mode == SupportMode.CHANGE:
        message = _(
            "You are acting as %(name)s. Everything you do is recorded with your name.",
            name=member_name,
        )
    else:
        message = _(
            "You are acting as %(name)s, view only: nothing can be changed.", name=member_name
        )
    flash(message, "info")
    return redirect(url_for("organization.overview", org_id=org.id))


@bp.route("/support/return", methods=["POST"])
@login_required
def return_to_account():
    if not ReturnForm().validate_on_submit():
        abort(400)
    support_id = session.get(SUPPORT_KEY)
    row = support.open_session(support_id, current_user.id) if support_id else None
    org_id = row.organization_id if row is not None else None
    if leave_support_session(SupportSessionEnd.RETURNED):
        commit()
        flash(_("You are back on your own account."), "success")
    actor = current_actor()
    if org_id and actor is not None and can(actor, Permission.VIEW_ORGANIZATION):
        return redirect(url_for("organization.overview", org_id=org_id))
    return redirect(home_url(actor))


@bp.route("/support/confirm", methods=["GET", "POST"])
@actor_required()
def confirm():
    """Prove it is you again (password, or a two-factor code when it is on)."""
    actor = the_actor()
    refuse_while_acting(actor, WhileActing.START_SUPPORT_SESSION)
    user = current_user._get_current_object()
    enrolled = two_factor.is_enrolled(user)
    form = ConfirmCodeForm() if enrolled else ConfirmPasswordForm()
    target = request.args.get("next")
    status = 200
    if form.validate_on_submit():
        try:
            auth.check_throttle(user.email)
        except DomainError as error:
            flash(str(error), "danger")
            return render_template("support/confirm.html", form=form, enrolled=enrolled), 429
        if enrolled:
            ok = two_factor.verify(user, form.code.data) is not None
        else:
            ok = user.check_password(form.password.data or "")
        if ok:
            auth.clear_failures(user.email)
            auth.mark_authenticated(user.auth_token)
            commit()
            flash(_("Thank you. You can start a support session now."), "success")
            return redirect(target if is_safe_next(target) else home_url(actor))
        auth.record_failure(user.email, request.remote_addr)
        commit()
        field = form.code if enrolled else form.password
        field.errors = [*field.errors, _("That is not right. Try again.")]
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template(
        "support/confirm.html", form=form, enrolled=enrolled, minutes=support.reauth_minutes()
    ), status


# -- the log -------------------------------------------------------------------------------


@bp.route("/organizations/<org_id>/support/<support_session_id>")
@actor_required(Permission.VIEW_AUDIT)
def organization_session(org_id: str, support_session_id: str):
    actor = the_actor()
    org = scoping.get_organization(actor, org_id)
    use_organization_timezone(org)
    row = support.get_support_session(actor, support_session_id, org)
    return _detail(row, back=url_for("organization.audit", org_id=org.id))


def _detail(row, back: str):
    entries = support.session_changes(row)
    people = users_by_id([e.actor_user_id for e in entries] + [e.real_user_id for e in entries])
    return render_template(
        "support/detail.html",
        row=row,
        entries=entries,
        people=people,
        labels=audit_labels,
        back=back,
    )


@bp.route("/reseller/support/")
@actor_required(Permission.VIEW_SUPPORT_SESSIONS)
def index():
    actor = the_actor()
    rows = support.support_log(actor, limit=200)
    reseller = db.session.get(Reseller, actor.reseller_id) if actor.reseller_id else None
    return render_template(
        "support/index.html",
        rows=rows,
        organizations={
            o.id: o
            for o in db.session.scalars(
                db.select(Organization).where(
                    Organization.id.in_({r.session.organization_id for r in rows})
                )
            )
        }
        if rows
        else {},
        reseller=reseller,
    )


@bp.route("/reseller/support/<support_session_id>")
@actor_required(Permission.VIEW_SUPPORT_SESSIONS)
def session_detail(support_session_id: str):
    row = support.get_support_session(the_actor(), support_session_id)
    return _detail(row, back=url_for("support.index"))


@bp.route("/reseller/support/settings", methods=["GET", "POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def settings():
    actor = the_actor()
    reseller = scoping.get_reseller(actor, actor.reseller_id)
    form = NotificationForm()
    if form.validate_on_submit():
        changed = support.set_owner_notification(actor, reseller, form.notify_owner.data)
        commit()
        flash(_("Saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("support.settings"))
    if request.method == "GET":
        form.notify_owner.data = reseller.notify_owner_on_support_session
    return render_template("support/settings.html", form=form, reseller=reseller), (
        400 if request.method == "POST" else 200
    )
