"""Contacts' verbs (SPEC §4a): contact lists, their contacts and CSV imports, the opt-out
list; and what sending asks of them (``opted_out``, ``record_stop_reply``).

Each verb checks the permission, validates, changes, audits and flushes; it never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from tenants.access import contact_scoping
from tenants.access.actors import SYSTEM, Actor
from tenants.access.policy import Permission, refuse_in_view_only, require
from tenants.audit import log as audit
from tenants.contacts.csv_rows import Readable
from tenants.contacts.imports import (
    Accepted,
    ImportResult,
    contacts_writer,
    opt_outs_writer,
    run_import,
)
from tenants.contacts.numbers import (
    NAME_MAX_LENGTH,
    clean_contact_mobile,
    e164,
)
from tenants.core.checks import collect_field_errors
from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.core.validation import clean_text
from tenants.models import (
    Contact,
    ContactImport,
    ContactList,
    ImportKind,
    ImportRejection,
    OptOut,
    OptOutSource,
    Organization,
)

LOOKUP_CHUNK = 1_000


def _may_change(actor: Actor) -> None:
    """Contacts change only with MANAGE_CONTACTS, never in a view-only support session
    (refused before any work, not only when the change is audited)."""
    require(actor, Permission.MANAGE_CONTACTS)
    refuse_in_view_only(actor)


def _audit(actor: Actor, org: Organization, action: str, target: Any, changes: dict) -> None:
    db.session.flush()
    audit.record(
        actor,
        action,
        reseller_id=org.reseller_id,
        organization_id=org.id,
        target_type=type(target).__tablename__,
        target_id=target.id,
        changes=changes,
    )


def _list_name(value: Any) -> str:
    return clean_text(value, "name", max_length=NAME_MAX_LENGTH)


def _contact_name(value: Any) -> str | None:
    return clean_text(value, "name", max_length=NAME_MAX_LENGTH, required=False)


# -- lists -----------------------------------------------------------------------------------


def create_list(actor: Actor, org: Organization, *, name: Any) -> ContactList:
    _may_change(actor)
    clean = collect_field_errors({"name": lambda: _list_name(name)})
    contact_list = ContactList(
        reseller_id=org.reseller_id, organization_id=org.id, name=clean["name"]
    )
    db.session.add(contact_list)
    _audit(actor, org, "contact_list.created", contact_list, {"name": [None, clean["name"]]})
    return contact_list


def rename_list(actor: Actor, org: Organization, contact_list: ContactList, *, name: Any) -> bool:
    """True when the name changed."""
    _may_change(actor)
    clean = collect_field_errors({"name": lambda: _list_name(name)})
    changes = audit.diff(contact_list, {"name": clean["name"]})
    if changes:
        _audit(actor, org, "contact_list.renamed", contact_list, changes)
    return bool(changes)


def list_sizes(list_ids: Iterable[str]) -> dict[str, int]:
    """How many contacts each list holds."""
    ids = list(list_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(Contact.list_id, func.count())
        .where(Contact.list_id.in_(ids))
        .group_by(Contact.list_id)
    )
    return {row[0]: row[1] for row in rows.all()}


def delete_list(actor: Actor, org: Organization, contact_list: ContactList) -> int:
    """Delete the list with its contacts and its imports' reports; returns how many contacts
    went with it."""
    _may_change(actor)
    size = list_sizes([contact_list.id]).get(contact_list.id, 0)
    _audit(
        actor,
        org,
        "contact_list.deleted",
        contact_list,
        {"name": [contact_list.name, None], "contacts": [size, 0]},
    )
    imports = select(ContactImport.id).where(ContactImport.list_id == contact_list.id)
    db.session.execute(delete(ImportRejection).where(ImportRejection.import_id.in_(imports)))
    db.session.execute(delete(ContactImport).where(ContactImport.list_id == contact_list.id))
    db.session.execute(delete(Contact).where(Contact.list_id == contact_list.id))
    db.session.delete(contact_list)
    db.session.flush()
    return size


# -- contacts --------------------------------------------------------------------------------


def _already_in_list() -> ValidationFailed:
    return ValidationFailed(fields={"mobile": str(_l("This number is already in the list."))})


def _taken(contact_list: ContactList, mobile: str, contact_id: str | None = None) -> bool:
    query = select(Contact.id).where(Contact.list_id == contact_list.id, Contact.mobile == mobile)
    if contact_id is not None:
        query = query.where(Contact.id != contact_id)
    return db.session.scalar(query) is not None


def add_contact(
    actor: Actor, org: Organization, contact_list: ContactList, *, name: Any = None, mobile: Any
) -> Contact:
    _may_change(actor)
    clean = collect_field_errors(
        {
            "name": lambda: _contact_name(name),
            "mobile": lambda: clean_contact_mobile(mobile, org.country),
        }
    )
    if _taken(contact_list, clean["mobile"]):
        raise _already_in_list()
    contact = Contact(
        reseller_id=org.reseller_id,
        organization_id=org.id,
        list_id=contact_list.id,
        name=clean["name"],
        mobile=clean["mobile"],
    )
    db.session.add(contact)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # the same number added twice at the same moment
        raise _already_in_list() from exc
    _audit(
        actor,
        org,
        "contact.added",
        contact,
        {"list": contact_list.name, "name": [None, contact.name], "mobile": [None, contact.mobile]},
    )
    return contact


def update_contact(
    actor: Actor, org: Organization, contact_list: ContactList, contact: Contact, values: dict
) -> dict:
    """Change the fields given (``name``, ``mobile``); returns what changed."""
    _may_change(actor)
    unknown = sorted(set(values) - {"name", "mobile"})
    if unknown:
        raise ValidationFailed(
            fields={key: str(_l("This field cannot be changed.")) for key in unknown}
        )
    checks = {}
    if "name" in values:
        checks["name"] = lambda: _contact_name(values["name"])
    if "mobile" in values:
        checks["mobile"] = lambda: clean_contact_mobile(values["mobile"], org.country)
    clean = collect_field_errors(checks)
    if "mobile" in clean and _taken(contact_list, clean["mobile"], contact.id):
        raise _already_in_list()
    changes = audit.diff(contact, clean)
    if changes:
        try:
            with db.session.begin_nested():
                db.session.flush()
        except IntegrityError as exc:
            raise _already_in_list() from exc
        _audit(actor, org, "contact.updated", contact, {"list": contact_list.name, **changes})
    return changes


def remove_contact(
    actor: Actor, org: Organization, contact_list: ContactList, contact: Contact
) -> None:
    _may_change(actor)
    _audit(
        actor,
        org,
        "contact.removed",
        contact,
        {"list": contact_list.name, "name": [contact.name, None], "mobile": [contact.mobile, None]},
    )
    db.session.delete(contact)
    db.session.flush()


def _new_import(actor: Actor, org: Organization, kind: ImportKind, list_id: str | None):
    record = ContactImport(
        reseller_id=org.reseller_id,
        organization_id=org.id,
        list_id=list_id,
        kind=kind,
        added=0,
        duplicates=0,
        rejected=0,
        created_by_user_id=actor.user_id,
    )
    db.session.add(record)
    db.session.flush()
    return record


def _counts(result: ImportResult) -> dict[str, int]:
    return {"added": result.added, "duplicates": result.duplicates, "rejected": result.rejected}


def import_contacts(
    actor: Actor,
    org: Organization,
    contact_list: ContactList,
    source: Readable | list[tuple[str | None, str]],
) -> ImportResult:
    """Import a CSV (read from a ``source`` stream in chunks), or (name, mobile) pairs, into
    the list: numbers in E.164 (national ones read in the organization's country), a number
    already in the list or repeated in the file counted as a duplicate, refused rows kept
    with their row number and why (the report)."""
    _may_change(actor)
    record = _new_import(actor, org, ImportKind.CONTACTS, contact_list.id)
    write = contacts_writer(contact_list.id, org.id, org.reseller_id)
    result = run_import(record, source, org.country, write, names=True)
    _audit(actor, org, "contacts.imported", record, {"list": contact_list.name, **_counts(result)})
    return result


def rejections_query(record: ContactImport):
    """The refused rows of an import, in file order (the report)."""
    return (
        select(ImportRejection.row, ImportRejection.reason, ImportRejection.content)
        .where(ImportRejection.import_id == record.id)
        .order_by(ImportRejection.row, ImportRejection.id)
    )


def latest_import(org: Organization, kind: ImportKind, list_id: str | None = None):
    query = select(ContactImport).where(
        ContactImport.organization_id == org.id, ContactImport.kind == kind
    )
    if list_id is not None:
        query = query.where(ContactImport.list_id == list_id)
    return db.session.scalar(
        query.order_by(ContactImport.created_at.desc(), ContactImport.id.desc()).limit(1)
    )


# -- opt-outs --------------------------------------------------------------------------------


def add_opt_out(actor: Actor, org: Organization, *, mobile: Any) -> OptOut:
    _may_change(actor)
    clean = collect_field_errors({"mobile": lambda: clean_contact_mobile(mobile, org.country)})
    already = ValidationFailed(
        fields={"mobile": str(_l("This number is already on the opt-out list."))}
    )
    if db.session.scalar(
        contact_scoping.opt_outs_query(actor, org).where(OptOut.mobile == clean["mobile"])
    ):
        raise already
    opt_out = OptOut(
        reseller_id=org.reseller_id,
        organization_id=org.id,
        mobile=clean["mobile"],
        source=OptOutSource.MANUAL,
    )
    db.session.add(opt_out)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise already from exc
    _audit(
        actor,
        org,
        "opt_out.added",
        opt_out,
        {"mobile": [None, opt_out.mobile], "source": [None, opt_out.source.value]},
    )
    return opt_out


def find_opt_out(actor: Actor, org: Organization, mobile: Any) -> OptOut | None:
    """The organization's opt-out of a number as a person writes it, or None."""
    number = e164(mobile, org.country) if isinstance(mobile, str) else None
    if number is None:
        return None
    return db.session.scalar(
        contact_scoping.opt_outs_query(actor, org).where(OptOut.mobile == number)
    )


def remove_opt_out(actor: Actor, org: Organization, opt_out: OptOut) -> None:
    _may_change(actor)
    _audit(
        actor,
        org,
        "opt_out.removed",
        opt_out,
        {"mobile": [opt_out.mobile, None], "source": [opt_out.source.value, None]},
    )
    db.session.delete(opt_out)
    db.session.flush()


def import_opt_outs(actor: Actor, org: Organization, stream: Readable) -> ImportResult:
    """Import a CSV of numbers (one column, or a column headed Mobile/Phone/Móvil…) into the
    opt-out list; a number already on it counts as a duplicate."""
    _may_change(actor)
    record = _new_import(actor, org, ImportKind.OPT_OUTS, None)
    write = opt_outs_writer(org.id, org.reseller_id, OptOutSource.IMPORT)
    result = run_import(record, stream, org.country, write, names=False)
    _audit(actor, org, "opt_outs.imported", record, _counts(result))
    return result


# -- what sending asks -----------------------------------------------------------------------


def opted_out(organization_id: str, numbers: Iterable[str]) -> set[str]:
    """Which of ``numbers`` (E.164) the organization must not send to."""
    wanted = list(dict.fromkeys(n for n in numbers if isinstance(n, str)))
    found: set[str] = set()
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        found.update(
            db.session.scalars(
                select(OptOut.mobile).where(
                    OptOut.organization_id == organization_id, OptOut.mobile.in_(chunk)
                )
            )
        )
    return found


def record_stop_reply(organization_id: str, number: str) -> bool:
    """A STOP reply from ``number``: put it on the organization's opt-out list. True when it
    was not on it already; False too for an unknown organization or no valid number."""
    org = (
        db.session.get(Organization, organization_id) if isinstance(organization_id, str) else None
    )
    if org is None or not isinstance(number, str):
        return False
    mobile = e164(number, org.country)
    if mobile is None:
        return False
    write = opt_outs_writer(org.id, org.reseller_id, OptOutSource.STOP_REPLY)
    if not write([Accepted(0, mobile, None)]):
        return False
    opt_out = db.session.scalar(
        select(OptOut).where(OptOut.organization_id == org.id, OptOut.mobile == mobile)
    )
    _audit(
        SYSTEM,
        org,
        "opt_out.added",
        opt_out,
        {"mobile": [None, mobile], "source": [None, "stop_reply"]},
    )
    return True
