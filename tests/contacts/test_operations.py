"""Contacts' verbs: lists, contacts and the opt-out list change through tenants.contacts
operations, with E.164 numbers read in the organization's country, and every change audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tenants.access.actors import SYSTEM
from tenants.audit import labels
from tenants.contacts import operations
from tenants.core.errors import Forbidden, ValidationFailed, ViewOnlySession
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry, Contact, ContactList, OptOut, OptOutSource, SupportMode
from tests.conftest import member_actor
from tests.contacts.conftest import csv_file


def _actions(org) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.organization_id == org.id)
            .order_by(AuditEntry.created_at, AuditEntry.id)
        )
    )


def test_a_list_is_created_renamed_and_deleted_with_its_contacts_and_audited(shop):
    actor, org = shop.actor, shop.org
    friends = operations.create_list(actor, org, name="  Friends  ")
    assert friends.name == "Friends"
    operations.add_contact(actor, org, friends, name="Ana", mobile="+34 600 000 001")
    operations.import_contacts(actor, org, friends, csv_file("name,mobile\nBad,12\n"))
    assert operations.rename_list(actor, org, friends, name="Best friends") is True
    assert operations.rename_list(actor, org, friends, name="Best friends") is False
    assert operations.delete_list(actor, org, friends) == 1
    commit()
    assert db.session.get(ContactList, friends.id) is None
    assert db.session.scalar(select(func.count()).where(Contact.list_id == friends.id)) == 0
    actions = _actions(org)
    for action in (
        "contact_list.created",
        "contact.added",
        "contacts.imported",
        "contact_list.renamed",
        "contact_list.deleted",
    ):
        assert action in actions
        assert labels.action_label(action) != action


def test_a_list_needs_a_name_on_one_line(shop):
    with pytest.raises(ValidationFailed) as refused:
        operations.create_list(shop.actor, shop.org, name="   ")
    assert refused.value.fields == {"name": "This field is required."}
    with pytest.raises(ValidationFailed) as refused:
        operations.create_list(shop.actor, shop.org, name="two\nlines")
    assert "name" in refused.value.fields


def test_a_national_number_is_read_in_the_organizations_country(shop):
    contact = operations.add_contact(shop.actor, shop.org, shop.clients, mobile="600 000 002")
    assert contact.mobile == "+34600000002"
    assert contact.name is None


@pytest.mark.parametrize("mobile", ["12", "not a number", "+1 555", "", "+346000000021234567"])
def test_an_invalid_mobile_is_refused_on_its_field(shop, mobile):
    with pytest.raises(ValidationFailed) as refused:
        operations.add_contact(shop.actor, shop.org, shop.clients, name="X", mobile=mobile)
    assert set(refused.value.fields) == {"mobile"}


def test_a_number_is_once_per_list_but_may_be_in_two_lists(shop):
    actor, org = shop.actor, shop.org
    operations.add_contact(actor, org, shop.clients, mobile="+34600000003")
    with pytest.raises(ValidationFailed) as refused:
        operations.add_contact(actor, org, shop.clients, mobile="600000003")
    assert refused.value.fields == {"mobile": "This number is already in the list."}
    other = operations.create_list(actor, org, name="Other")
    assert operations.add_contact(actor, org, other, mobile="+34600000003").mobile


def test_a_contact_is_edited_and_removed(shop):
    actor, org = shop.actor, shop.org
    ana = operations.add_contact(actor, org, shop.clients, name="Ana", mobile="+34600000004")
    bea = operations.add_contact(actor, org, shop.clients, name="Bea", mobile="+34600000005")
    changes = operations.update_contact(actor, org, shop.clients, ana, {"name": "Ana Pérez"})
    assert changes == {"name": ["Ana", "Ana Pérez"]}
    with pytest.raises(ValidationFailed):
        operations.update_contact(actor, org, shop.clients, ana, {"mobile": bea.mobile})
    with pytest.raises(ValidationFailed) as refused:
        operations.update_contact(actor, org, shop.clients, ana, {"email": "x@example.com"})
    assert "email" in refused.value.fields
    operations.remove_contact(actor, org, shop.clients, bea)
    commit()
    assert db.session.get(Contact, bea.id) is None
    assert {"contact.updated", "contact.removed"} <= set(_actions(org))


def test_a_plain_member_reads_but_does_not_change_contacts(shop):
    plain = member_actor(shop.member)
    with pytest.raises(Forbidden):
        operations.create_list(plain, shop.org, name="Mine")
    with pytest.raises(Forbidden):
        operations.add_opt_out(plain, shop.org, mobile="+34600000006")


def test_a_view_only_support_session_changes_no_contact(shop, create_reseller_staff):
    staff = create_reseller_staff(shop.reseller)
    acting = member_actor(
        shop.owner, real_user_id=staff.id, support_session_id=None, support_mode=SupportMode.VIEW
    )
    for change in (
        lambda: operations.create_list(acting, shop.org, name="Nope"),
        lambda: operations.add_contact(acting, shop.org, shop.clients, mobile="+34600000008"),
        lambda: operations.import_contacts(
            acting, shop.org, shop.clients, csv_file("+34600000008")
        ),
        lambda: operations.add_opt_out(acting, shop.org, mobile="+34600000008"),
        lambda: operations.delete_list(acting, shop.org, shop.clients),
    ):
        with pytest.raises(ViewOnlySession):
            change()
        db.session.rollback()
    changing = member_actor(
        shop.owner, real_user_id=staff.id, support_session_id=None, support_mode=SupportMode.CHANGE
    )
    assert operations.add_contact(changing, shop.org, shop.clients, mobile="+34600000008")


def test_opt_outs_are_added_removed_and_asked_for(shop):
    actor, org = shop.actor, shop.org
    opt_out = operations.add_opt_out(actor, org, mobile="600 000 010")
    assert opt_out.mobile == "+34600000010" and opt_out.source == OptOutSource.MANUAL
    with pytest.raises(ValidationFailed) as refused:
        operations.add_opt_out(actor, org, mobile="+34600000010")
    assert "already" in refused.value.fields["mobile"]
    commit()
    asked = ["+34600000010", "+34600000011", "+34600000010"]
    assert operations.opted_out(org.id, asked) == {"+34600000010"}
    assert operations.opted_out(shop.other.id, asked) == set()  # per organization
    assert operations.find_opt_out(actor, org, "+34 600 000 010").id == opt_out.id
    operations.remove_opt_out(actor, org, opt_out)
    commit()
    assert operations.opted_out(org.id, asked) == set()
    assert {"opt_out.added", "opt_out.removed"} <= set(_actions(org))


def test_opted_out_answers_for_thousands_of_numbers(shop):
    numbers = [f"+3460000{i:04d}" for i in range(2500)]
    text = "\n".join(numbers[::2])
    result = operations.import_opt_outs(shop.actor, shop.org, csv_file(text))
    commit()
    assert result.added == 1250
    assert operations.opted_out(shop.org.id, numbers) == set(numbers[::2])


def test_a_stop_reply_is_added_once(shop):
    org = shop.org
    assert operations.record_stop_reply(org.id, "+34 600 000 020") is True
    assert operations.record_stop_reply(org.id, "+34600000020") is False
    assert operations.record_stop_reply(org.id, "garbage") is False
    assert operations.record_stop_reply("org_missing", "+34600000020") is False
    commit()
    row = db.session.scalar(select(OptOut).where(OptOut.organization_id == org.id))
    assert row.mobile == "+34600000020" and row.source == OptOutSource.STOP_REPLY
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "opt_out.added"))
    assert entry.changes["source"] == [None, "stop_reply"] and entry.actor_user_id is None


def test_every_contacts_action_has_a_label_in_spanish(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("es"):
        assert labels.action_label("contacts.imported") == "Contactos importados"
        assert labels.value_label("stop_reply", "source") == "Respuesta STOP"


def test_the_system_actor_imports_for_fixtures(shop):
    result = operations.import_contacts(SYSTEM, shop.org, shop.clients, csv_file("+34600000030\n"))
    assert result.added == 1
