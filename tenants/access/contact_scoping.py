"""Who sees which contact lists, contacts, opt-outs and imports: always those of an
organization the actor already reached through scoping.get_organization; another
organization's record is the same 404 as one that does not exist."""

from __future__ import annotations

from sqlalchemy import Select, select

from tenants.access.actors import Actor
from tenants.access.scoping import not_found
from tenants.core.errors import NotFound
from tenants.core.extensions import db
from tenants.core.types import is_record_id
from tenants.models import Contact, ContactImport, ContactList, OptOut, Organization


def contact_lists_query(actor: Actor, organization: Organization) -> Select:
    """The organization's contact lists (every one who reaches the organization reads them:
    members send to them; changing them is MANAGE_CONTACTS)."""
    return select(ContactList).where(
        ContactList.organization_id == organization.id,
        ContactList.reseller_id == organization.reseller_id,
    )


def get_contact_list(actor: Actor, organization: Organization, list_id) -> ContactList:
    if not is_record_id(list_id):
        raise NotFound()
    found = db.session.scalar(
        contact_lists_query(actor, organization).where(ContactList.id == list_id)
    )
    if found is None:
        raise not_found(actor, ContactList, list_id)
    return found


def contacts_query(actor: Actor, contact_list: ContactList) -> Select:
    """The contacts of a list the actor reached through get_contact_list."""
    return select(Contact).where(
        Contact.list_id == contact_list.id,
        Contact.organization_id == contact_list.organization_id,
    )


def get_contact(actor: Actor, contact_list: ContactList, contact_id) -> Contact:
    if not is_record_id(contact_id):
        raise NotFound()
    found = db.session.scalar(contacts_query(actor, contact_list).where(Contact.id == contact_id))
    if found is None:
        raise not_found(actor, Contact, contact_id)
    return found


def opt_outs_query(actor: Actor, organization: Organization) -> Select:
    return select(OptOut).where(
        OptOut.organization_id == organization.id,
        OptOut.reseller_id == organization.reseller_id,
    )


def get_import(actor: Actor, organization: Organization, import_id) -> ContactImport:
    """One import of the organization (its rejected rows are the downloadable report)."""
    if not is_record_id(import_id):
        raise NotFound()
    found = db.session.scalar(
        select(ContactImport).where(
            ContactImport.id == import_id,
            ContactImport.organization_id == organization.id,
            ContactImport.reseller_id == organization.reseller_id,
        )
    )
    if found is None:
        raise not_found(actor, ContactImport, import_id)
    return found


def get_opt_out(actor: Actor, organization: Organization, opt_out_id) -> OptOut:
    if not is_record_id(opt_out_id):
        raise NotFound()
    found = db.session.scalar(opt_outs_query(actor, organization).where(OptOut.id == opt_out_id))
    if found is None:
        raise not_found(actor, OptOut, opt_out_id)
    return found
