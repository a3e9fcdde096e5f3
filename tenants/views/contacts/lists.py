"""An organization's contact lists: the lists, one list's contacts, adding, editing and
removing contacts, CSV import with its report of rejected rows, renaming and deleting."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from tenants.access import contact_scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, can, require
from tenants.contacts import operations, pages
from tenants.contacts.imports import ImportResult
from tenants.core import paging
from tenants.core.errors import DomainError, NotFound
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.models import ContactList, ImportKind, Organization
from tenants.views.contacts.forms import (
    ConfirmForm,
    ContactForm,
    EditContactForm,
    ImportForm,
    ListForm,
    RenameListForm,
)
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import Form, show_service_errors

PAGE_CURSOR = paging.Cursor((paging.TEXT,), on_invalid=paging.page_not_found)


def _list(org_id: str, list_id: str) -> tuple[Actor, Organization, ContactList]:
    """Organization and list through scoping: another tenant's is a 404."""
    actor, org = organization_for_view(org_id)
    return actor, org, contact_scoping.get_contact_list(actor, org, list_id)


def refused(form: Form | None, error: DomainError) -> None:
    if isinstance(error, NotFound):
        raise error
    rollback()
    show_service_errors(form, error)


def flash_import(result: ImportResult) -> None:
    """What an import did, in the reader's words."""
    flash(
        _(
            "Import finished: %(added)s, %(duplicates)s, %(rejected)s.",
            added=ngettext("%(num)d added", "%(num)d added", result.added),
            duplicates=ngettext("%(num)d duplicate", "%(num)d duplicates", result.duplicates),
            rejected=ngettext("%(num)d row rejected", "%(num)d rows rejected", result.rejected),
        ),
        "warning" if result.rejected else "success",
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def index(org_id: str):
    actor, org = organization_for_view(org_id)
    form = ListForm()
    if request.method == "POST":
        require(actor, Permission.MANAGE_CONTACTS)
        if form.validate_on_submit():
            try:
                created = operations.create_list(actor, org, name=form.name.data)
            except DomainError as error:
                refused(form, error)
            else:
                commit()
                flash(_("The list %(name)s has been created.", name=created.name), "success")
                return redirect(url_for(".list_page", org_id=org.id, list_id=created.id))
    lists = db.session.scalars(
        contact_scoping.contact_lists_query(actor, org).order_by(ContactList.name, ContactList.id)
    ).all()
    return render_template(
        "contacts/index.html",
        org=org,
        lists=lists,
        sizes=operations.list_sizes(item.id for item in lists),
        form=form,
        can_manage=can(actor, Permission.MANAGE_CONTACTS),
        active_section="contacts",
    )


def _render_list(actor, org, contact_list, *, contact_form=None, import_form=None):
    page = pages.contacts_page(
        actor, contact_list, cursor=request.args.get("cursor") or None, cursor_kind=PAGE_CURSOR
    )
    return render_template(
        "contacts/list.html",
        org=org,
        contact_list=contact_list,
        page=page,
        size=operations.list_sizes([contact_list.id]).get(contact_list.id, 0),
        last_import=operations.latest_import(org, ImportKind.CONTACTS, contact_list.id),
        contact_form=contact_form or ContactForm(formdata=None),
        import_form=import_form or ImportForm(formdata=None),
        confirm_form=ConfirmForm(formdata=None),
        can_manage=can(actor, Permission.MANAGE_CONTACTS),
        active_section="contacts",
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def list_page(org_id: str, list_id: str):
    actor, org, contact_list = _list(org_id, list_id)
    return _render_list(actor, org, contact_list)


@actor_required(Permission.VIEW_ORGANIZATION)
def add_contact(org_id: str, list_id: str):
    actor, org, contact_list = _list(org_id, list_id)
    require(actor, Permission.MANAGE_CONTACTS)
    form = ContactForm()
    if form.validate_on_submit():
        try:
            contact = operations.add_contact(
                actor, org, contact_list, name=form.name.data, mobile=form.mobile.data
            )
        except DomainError as error:
            refused(form, error)
        else:
            commit()
            flash(_("%(mobile)s has been added to the list.", mobile=contact.mobile), "success")
            return redirect(url_for(".list_page", org_id=org.id, list_id=contact_list.id))
    return _render_list(actor, org, contact_list, contact_form=form)


@actor_required(Permission.VIEW_ORGANIZATION)
def import_contacts(org_id: str, list_id: str):
    actor, org, contact_list = _list(org_id, list_id)
    require(actor, Permission.MANAGE_CONTACTS)
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        if not upload or not getattr(upload, "filename", ""):
            form.file.errors = [*form.file.errors, _("Choose a CSV file.")]
        else:
            try:
                result = operations.import_contacts(actor, org, contact_list, upload.stream)
            except DomainError as error:
                refused(form, error)
            else:
                commit()
                flash_import(result)
                return redirect(url_for(".list_page", org_id=org.id, list_id=contact_list.id))
    return _render_list(actor, org, contact_list, import_form=form)


@actor_required(Permission.VIEW_ORGANIZATION)
def rejections(org_id: str, import_id: str):
    """The rejected rows of an import as CSV, in the reader's language."""
    actor, org = organization_for_view(org_id)
    require(actor, Permission.MANAGE_CONTACTS)
    record = contact_scoping.get_import(actor, org, import_id)
    return rejections_response(record)


def rejections_response(record) -> Response:
    name = pages.report_filename(record)
    return Response(
        stream_with_context(pages.rejections_csv(record)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def edit_contact(org_id: str, list_id: str, contact_id: str):
    actor, org, contact_list = _list(org_id, list_id)
    contact = contact_scoping.get_contact(actor, contact_list, contact_id)
    require(actor, Permission.MANAGE_CONTACTS)
    form = EditContactForm(data={"name": contact.name or "", "mobile": contact.mobile})
    if form.validate_on_submit():
        values = {"name": form.name.data, "mobile": form.mobile.data}
        try:
            changes = operations.update_contact(actor, org, contact_list, contact, values)
        except DomainError as error:
            refused(form, error)
        else:
            commit()
            if changes:
                flash(_("The changes have been saved."), "success")
            else:
                flash(_("Nothing was changed."), "info")
            return redirect(url_for(".list_page", org_id=org.id, list_id=contact_list.id))
    return render_template(
        "contacts/edit_contact.html",
        org=org,
        contact_list=contact_list,
        contact=contact,
        form=form,
        active_section="contacts",
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def remove_contact(org_id: str, list_id: str, contact_id: str):
    actor, org, contact_list = _list(org_id, list_id)
    contact = contact_scoping.get_contact(actor, contact_list, contact_id)
    require(actor, Permission.MANAGE_CONTACTS)
    if ConfirmForm().validate_on_submit():
        mobile = contact.mobile
        try:
            operations.remove_contact(actor, org, contact_list, contact)
        except DomainError as error:
            refused(None, error)
        else:
            commit()
            flash(_("%(mobile)s has been removed from the list.", mobile=mobile), "success")
    return redirect(url_for(".list_page", org_id=org.id, list_id=contact_list.id), code=303)


@actor_required(Permission.VIEW_ORGANIZATION)
def rename_list(org_id: str, list_id: str):
    actor, org, contact_list = _list(org_id, list_id)
    require(actor, Permission.MANAGE_CONTACTS)
    form = RenameListForm(data={"name": contact_list.name})
    if form.validate_on_submit():
        try:
            changed = operations.rename_list(actor, org, contact_list, name=form.name.data)
        except DomainError as error:
            refused(form, error)
        else:
            commit()
            if changed:
                flash(_("The changes have been saved."), "success")
            else:
                flash(_("Nothing was changed."), "info")
            return redirect(url_for(".list_page", org_id=org.id, list_id=contact_list.id))
    return render_template(
        "contacts/rename.html",
        org=org,
        contact_list=contact_list,
        form=form,
        active_section="contacts",
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def delete_list(org_id: str, list_id: str):
    actor, org, contact_list = _list(org_id, list_id)
    require(actor, Permission.MANAGE_CONTACTS)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = contact_list.name
        try:
            operations.delete_list(actor, org, contact_list)
        except DomainError as error:
            refused(None, error)
        else:
            commit()
            flash(_("The list %(name)s has been deleted.", name=name), "success")
            return redirect(url_for(".index", org_id=org.id))
    return render_template(
        "contacts/delete.html",
        org=org,
        contact_list=contact_list,
        size=operations.list_sizes([contact_list.id]).get(contact_list.id, 0),
        form=form,
        active_section="contacts",
    )
