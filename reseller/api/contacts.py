"""API: an organization's contact lists, their contacts and CSV imports, the rejected rows'
report, and the opt-out list (SPEC §4a, §7)."""

from __future__ import annotations

from typing import Any

from flask import Response, stream_with_context, url_for

from reseller.api.core import done, endpoint
from reseller.api.schemas_contacts import (
    Contact,
    ContactCreate,
    ContactListCreate,
    ContactListList,
    ContactListUpdate,
    ContactPage,
    ContactsCreate,
    ContactUpdate,
    ImportResult,
    OptOutAnswer,
    OptOutCreate,
    OptOutDeleteQuery,
    OptOutList,
)
from reseller.api.schemas_contacts import ContactList as ContactListOut
from reseller.api.serializers import timestamp
from reseller.api.spec import ListQuery
from tenants.access import contact_scoping, scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.contacts import imports as contact_imports
from tenants.contacts import operations, pages
from tenants.contacts.numbers import rejection_label
from tenants.core.errors import NotFound
from tenants.models import Contact as ContactRow
from tenants.models import ContactList, Organization
from tenants.models import OptOut as OptOutRow

TAG = "Contacts"
LISTS = "/organizations/<org_id>/contact-lists"
LIST = f"{LISTS}/<list_id>"
CONTACTS = f"{LIST}/contacts"
CONTACT = f"{CONTACTS}/<contact_id>"
OPT_OUTS = "/organizations/<org_id>/opt-outs"
CSV_IMPORT = (
    " A CSV body (`Content-Type: text/csv`, UTF-8, any size) is read as it arrives: a header "
    "row naming the columns (Name, Mobile; Phone, Móvil… are understood), or without one the "
    "name then the mobile (one column: numbers only)."
)


def _list_out(item: ContactList, size: int) -> dict[str, Any]:
    return {
        "id": item.id,
        "organization_id": item.organization_id,
        "name": item.name,
        "contacts": size,
        "created_at": timestamp(item.created_at),
    }


def _contact_out(contact: ContactRow) -> dict[str, Any]:
    return {
        "id": contact.id,
        "list_id": contact.list_id,
        "name": contact.name,
        "mobile": contact.mobile,
        "created_at": timestamp(contact.created_at),
    }


def _opt_out_out(opt_out: OptOutRow) -> dict[str, Any]:
    return {
        "id": opt_out.id,
        "mobile": opt_out.mobile,
        "source": opt_out.source.value,
        "created_at": timestamp(opt_out.created_at),
    }


def _list(actor: Actor, org_id: str, list_id: str) -> tuple[Organization, ContactList]:
    org = scoping.get_organization(actor, org_id)
    return org, contact_scoping.get_contact_list(actor, org, list_id)


def _import_out(org: Organization, result: contact_imports.ImportResult) -> dict[str, Any]:
    url = None
    if result.rejected:
        url = url_for(
            "api.import_rejections", org_id=org.id, import_id=result.import_id, _external=True
        )
    return {
        "added": result.added,
        "duplicates": result.duplicates,
        "rejected": [
            {"row": row, "reason": reason, "message": rejection_label(reason)}
            for row, reason in result.first_rejections
        ],
        "rejected_count": result.rejected,
        "import_id": result.import_id,
        "rejections_url": url,
        "contact": None,
    }


# -- lists -----------------------------------------------------------------------------------


@endpoint(
    LISTS,
    "GET",
    summary="List contact lists",
    tag=TAG,
    query=ListQuery,
    response=ContactListList,
    refusals={"cursor": "a page link this list did not give"},
)
def list_contact_lists(actor: Actor, org_id: str, query: ListQuery) -> Response:
    org = scoping.get_organization(actor, org_id)
    rows = contact_scoping.contact_lists_query(actor, org)
    page = pages.id_page(rows, ContactList.id, query.limit, query.cursor)
    sizes = operations.list_sizes(item.id for item in page.items)
    data = [_list_out(item, sizes.get(item.id, 0)) for item in page.items]
    return done({"data": data, "next_cursor": page.next_cursor})


@endpoint(
    LISTS,
    "POST",
    summary="Create a contact list",
    tag=TAG,
    body=ContactListCreate,
    response=ContactListOut,
    status=201,
    errors=(403,),
)
def create_contact_list(actor: Actor, org_id: str, body: ContactListCreate) -> Response:
    org = scoping.get_organization(actor, org_id)
    created = operations.create_list(actor, org, name=body.name)
    return done(_list_out(created, 0), 201)


@endpoint(LIST, "GET", summary="Read a contact list", tag=TAG, response=ContactListOut)
def get_contact_list(actor: Actor, org_id: str, list_id: str) -> Response:
    _org, item = _list(actor, org_id, list_id)
    return done(_list_out(item, operations.list_sizes([item.id]).get(item.id, 0)))


@endpoint(
    LIST,
    "PATCH",
    summary="Rename a contact list",
    tag=TAG,
    body=ContactListUpdate,
    response=ContactListOut,
    errors=(403,),
)
def update_contact_list(
    actor: Actor, org_id: str, list_id: str, body: ContactListUpdate
) -> Response:
    org, item = _list(actor, org_id, list_id)
    if "name" in body.model_fields_set:
        operations.rename_list(actor, org, item, name=body.name)
    return done(_list_out(item, operations.list_sizes([item.id]).get(item.id, 0)))


@endpoint(
    LIST,
    "DELETE",
    summary="Delete a contact list",
    tag=TAG,
    status=204,
    errors=(403,),
    description="With its contacts and its imports' reports; the opt-out list stays.",
)
def delete_contact_list(actor: Actor, org_id: str, list_id: str) -> Response:
    org, item = _list(actor, org_id, list_id)
    operations.delete_list(actor, org, item)
    return done(None, 204)


# -- contacts --------------------------------------------------------------------------------


@endpoint(
    CONTACTS,
    "GET",
    summary="List a contact list's contacts",
    tag=TAG,
    query=ListQuery,
    response=ContactPage,
    refusals={"cursor": "a page link this list did not give"},
)
def list_contacts(actor: Actor, org_id: str, list_id: str, query: ListQuery) -> Response:
    _org, item = _list(actor, org_id, list_id)
    page = pages.contacts_page(actor, item, limit=query.limit, cursor=query.cursor)
    return done({"data": [_contact_out(c) for c in page.items], "next_cursor": page.next_cursor})


@endpoint(
    CONTACTS,
    "POST",
    summary="Add contacts (one, an array, or a CSV import)",
    tag=TAG,
    body=ContactsCreate,
    csv_body=True,
    response=ImportResult,
    status=201,
    also={200: "An array or a CSV was imported: the counts, and the rejected rows"},
    errors=(403,),
    refusals={
        "mobile": "one contact: not a valid number, or already in the list",
        "file": "a CSV whose header row names no mobile column",
    },
    description="One contact (an object): 201, refused with 422 when its number is not "
    "valid or already in the list. An array (up to 1,000) or a CSV: 200 with how many were "
    "added, how many were duplicates (already in the list or repeated) and the rejected "
    "rows, each with its row number and reason; the full report is at `rejections_url`."
    + CSV_IMPORT,
)
def add_contacts(actor: Actor, org_id: str, list_id: str, body: Any) -> Response:
    org, item = _list(actor, org_id, list_id)
    if isinstance(body, ContactsCreate) and isinstance(body.root, ContactCreate):
        contact = operations.add_contact(
            actor, org, item, name=body.root.name, mobile=body.root.mobile
        )
        answer = {
            "added": 1,
            "duplicates": 0,
            "rejected": [],
            "rejected_count": 0,
            "import_id": None,
            "rejections_url": None,
            "contact": _contact_out(contact),
        }
        return done(answer, 201)
    if isinstance(body, ContactsCreate):
        source: Any = [(one.name, one.mobile) for one in body.root]
    else:
        source = body  # the spooled CSV
    result = operations.import_contacts(actor, org, item, source)
    return done(_import_out(org, result))


@endpoint(CONTACT, "GET", summary="Read a contact", tag=TAG, response=Contact)
def get_contact(actor: Actor, org_id: str, list_id: str, contact_id: str) -> Response:
    _org, item = _list(actor, org_id, list_id)
    return done(_contact_out(contact_scoping.get_contact(actor, item, contact_id)))


@endpoint(
    CONTACT,
    "PATCH",
    summary="Edit a contact",
    tag=TAG,
    body=ContactUpdate,
    response=Contact,
    errors=(403,),
    refusals={"mobile": "not a valid number, or already in the list"},
)
def update_contact(
    actor: Actor, org_id: str, list_id: str, contact_id: str, body: ContactUpdate
) -> Response:
    org, item = _list(actor, org_id, list_id)
    contact = contact_scoping.get_contact(actor, item, contact_id)
    operations.update_contact(actor, org, item, contact, body.model_dump(exclude_unset=True))
    return done(_contact_out(contact))


@endpoint(CONTACT, "DELETE", summary="Remove a contact", tag=TAG, status=204, errors=(403,))
def remove_contact(actor: Actor, org_id: str, list_id: str, contact_id: str) -> Response:
    org, item = _list(actor, org_id, list_id)
    contact = contact_scoping.get_contact(actor, item, contact_id)
    operations.remove_contact(actor, org, item, contact)
    return done(None, 204)


@endpoint(
    "/organizations/<org_id>/contact-imports/<import_id>/rejections.csv",
    "GET",
    summary="Download an import's rejected rows",
    tag=TAG,
    media_type="text/csv",
    errors=(403,),
    description="Row number, reason (in the language of `Accept-Language`) and the row as "
    "it was, for a contacts or an opt-out import.",
)
def import_rejections(actor: Actor, org_id: str, import_id: str) -> Response:
    org = scoping.get_organization(actor, org_id)
    record = contact_scoping.get_import(actor, org, import_id)
    require(actor, Permission.MANAGE_CONTACTS)
    name = pages.report_filename(record)
    return Response(
        stream_with_context(pages.rejections_csv(record)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- opt-outs --------------------------------------------------------------------------------


@endpoint(
    OPT_OUTS,
    "GET",
    summary="List the opt-out list",
    tag=TAG,
    query=ListQuery,
    response=OptOutList,
    refusals={"cursor": "a page link this list did not give"},
    description="Numbers never sent to (and never charged): STOP replies, and numbers added "
    "by hand or imported.",
)
def list_opt_outs(actor: Actor, org_id: str, query: ListQuery) -> Response:
    org = scoping.get_organization(actor, org_id)
    page = pages.opt_outs_page(actor, org, limit=query.limit, cursor=query.cursor)
    return done({"data": [_opt_out_out(o) for o in page.items], "next_cursor": page.next_cursor})


@endpoint(
    OPT_OUTS,
    "POST",
    summary="Add to the opt-out list (one number, or a CSV import)",
    tag=TAG,
    body=OptOutCreate,
    csv_body=True,
    response=OptOutAnswer,
    status=201,
    also={200: "A CSV was imported: the import's counts (an ImportResult)"},
    errors=(403,),
    refusals={
        "mobile": "not a valid number, or already on the list",
        "file": "a CSV whose header row names no mobile column",
    },
    description="One number (JSON): 201 with the opt-out. A CSV body (`Content-Type: "
    "text/csv`, any size): one number per row, or a column headed Mobile; 200 with the "
    "import's counts (an ImportResult).",
)
def add_opt_outs(actor: Actor, org_id: str, body: Any) -> Response:
    org = scoping.get_organization(actor, org_id)
    if isinstance(body, OptOutCreate):
        return done(_opt_out_out(operations.add_opt_out(actor, org, mobile=body.mobile)), 201)
    result = operations.import_opt_outs(actor, org, body)  # the spooled CSV
    return done(_import_out(org, result))


@endpoint(
    OPT_OUTS,
    "DELETE",
    summary="Remove a number from the opt-out list",
    tag=TAG,
    query=OptOutDeleteQuery,
    status=204,
    errors=(403,),
    refusals={"mobile": "required: the number to remove"},
    description="`?mobile=` the number, written any way (encode `+` as `%2B`); 404 when "
    "it is not on the list.",
)
def remove_opt_out(actor: Actor, org_id: str, query: OptOutDeleteQuery) -> Response:
    org = scoping.get_organization(actor, org_id)
    opt_out = operations.find_opt_out(actor, org, query.mobile)
    if opt_out is None:
        raise NotFound()
    operations.remove_opt_out(actor, org, opt_out)
    return done(None, 204)
