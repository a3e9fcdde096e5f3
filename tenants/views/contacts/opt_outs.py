"""An organization's opt-out list: the numbers never sent to (STOP replies or added by hand),
add, remove, import from CSV."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from tenants.access import contact_scoping
from tenants.access.policy import Permission, can, require
from tenants.contacts import operations, pages
from tenants.core.errors import DomainError
from tenants.jobs.outbox import commit
from tenants.models import ImportKind
from tenants.views.contacts.forms import ConfirmForm, OptOutForm, OptOutImportForm
from tenants.views.contacts.lists import PAGE_CURSOR, flash_import, refused
from tenants.web.decorators import actor_required, organization_for_view


def _render(actor, org, *, form=None, import_form=None):
    page = pages.opt_outs_page(
        actor, org, cursor=request.args.get("cursor") or None, cursor_kind=PAGE_CURSOR
    )
    return render_template(
        "contacts/opt_outs.html",
        org=org,
        page=page,
        form=form or OptOutForm(formdata=None),
        import_form=import_form or OptOutImportForm(formdata=None),
        confirm_form=ConfirmForm(formdata=None),
        last_import=operations.latest_import(org, ImportKind.OPT_OUTS),
        can_manage=can(actor, Permission.MANAGE_CONTACTS),
        active_section="contacts",
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def opt_outs(org_id: str):
    actor, org = organization_for_view(org_id)
    form = None
    if request.method == "POST":
        require(actor, Permission.MANAGE_CONTACTS)
        form = OptOutForm()
        if form.validate_on_submit():
            try:
                added = operations.add_opt_out(actor, org, mobile=form.mobile.data)
            except DomainError as error:
                refused(form, error)
            else:
                commit()
                flash(
                    _(
                        "%(mobile)s is on the opt-out list: it will not be sent to.",
                        mobile=added.mobile,
                    ),
                    "success",
                )
                return redirect(url_for(".opt_outs", org_id=org.id))
    return _render(actor, org, form=form)


@actor_required(Permission.VIEW_ORGANIZATION)
def import_opt_outs(org_id: str):
    actor, org = organization_for_view(org_id)
    require(actor, Permission.MANAGE_CONTACTS)
    form = OptOutImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        if not upload or not getattr(upload, "filename", ""):
            form.file.errors = [*form.file.errors, _("Choose a CSV file.")]
        else:
            try:
                result = operations.import_opt_outs(actor, org, upload.stream)
            except DomainError as error:
                refused(form, error)
            else:
                commit()
                flash_import(result)
                return redirect(url_for(".opt_outs", org_id=org.id))
    return _render(actor, org, import_form=form)


@actor_required(Permission.VIEW_ORGANIZATION)
def remove_opt_out(org_id: str, opt_out_id: str):
    actor, org = organization_for_view(org_id)
    opt_out = contact_scoping.get_opt_out(actor, org, opt_out_id)
    require(actor, Permission.MANAGE_CONTACTS)
    if ConfirmForm().validate_on_submit():
        mobile = opt_out.mobile
        try:
            operations.remove_opt_out(actor, org, opt_out)
        except DomainError as error:
            refused(None, error)
        else:
            commit()
            flash(_("%(mobile)s is no longer on the opt-out list.", mobile=mobile), "success")
    return redirect(url_for(".opt_outs", org_id=org.id), code=303)
