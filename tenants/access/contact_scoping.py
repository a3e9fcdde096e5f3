"""Who sees which contact lists, contacts, opt-outs and imports: always those of an
organization the actor already reached through scoping.get_organization; another
organization's record is the same 404 as one that does not exist."""

from __future__ import annotations

from sqlalchemy import Select, select

from tenants.access.actors import Actor
from tenants.access.scoping import get_one
from tenants.models import Contact, ContactImport, ContactList, OptOut, Organization


def contact_lists_query(actor: Actor, organization: Organization) -> Select:
    """The organization's contact lists (every one who reaches the organization reads them:
    members send to them; changing them is MANAGE_CONTACTS)."""
    return select(ContactList).where(
        ContactList.organization_id == organization.id,
        ContactList.reseller_id == organization.reseller_id,
    )


def get_contact_list(actor: Actor, organization: Organization, list_id) -> ContactList:
    return get_one(actor, contact_lists_query(actor, organization), ContactList, list_id)


def contacts_query(actor: Actor, contact_list: ContactList) -> Select:
    """The contacts of a list the actor reached through get_contact_list."""
    return select(Contact).where(
        Contact.list_id == contact_list.id,
        Contact.organization_id == contact_list.organization_id,
    )


def get_contact(actor: Actor, contact_list: ContactList, contact_id) -> Contact:
    return get_one(actor, contacts_query(actor, contact_list), Contact, contact_id)


def opt_outs_query(actor: Actor, organization: Organization) -> Select:
    return select(OptOut).where(
        OptOut.organization_id == organization.id,
        OptOut.reseller_id == organization.reseller_id,
    )


def get_import(actor: Actor, organization: Organization, import_id) -> ContactImport:
    """One import of the organization (its rejected rows are the downloadable report)."""
    imports = select(ContactImport).where(
        ContactImport.organization_id == organization.id,
        ContactImport.reseller_id == organization.reseller_id,
    )
    return get_one(actor, imports, ContactImport, import_id)


def get_opt_out(actor: Actor, organization: Organization, opt_out_id) -> OptOut:
    return get_one(actor, opt_outs_query(actor, organization), OptOut, opt_out_id)
