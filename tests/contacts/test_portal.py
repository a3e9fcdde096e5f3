"""The Contacts tab: lists, a list's page (contacts, add form, CSV upload with its result and
the rejected rows' report, delete) and the opt-out list, in English and Spanish, with CSRF,
422 on refused forms, 404 across tenants and nothing changed by a view-only session."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from tenants.core.extensions import db
from tenants.models import Contact, ContactList, OptOut
from tests.conftest import PASSWORD


def _base(shop) -> str:
    return f"/organizations/{shop.org.id}/contacts"


def _list_url(shop, suffix="") -> str:
    return f"{_base(shop)}/lists/{shop.clients.id}/{suffix}"


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_the_contacts_tab_lists_the_lists_and_creates_one(client, auth, shop):
    auth.login(shop.owner.user.email)
    overview = client.get(f"/organizations/{shop.org.id}/").text
    assert f'href="{_base(shop)}/"' in overview and ">Contacts<" in overview
    page = client.get(f"{_base(shop)}/").text
    assert "Clients" in page and "Opt-outs" in page and 'id="new-list"' in page
    response = client.post(f"{_base(shop)}/", data={"name": "Newsletter"})
    assert response.status_code == 302
    assert _count(ContactList, ContactList.name == "Newsletter") == 1


def test_a_refused_form_answers_422_with_the_error_by_its_field(client, auth, shop):
    auth.login(shop.owner.user.email)
    response = client.post(f"{_base(shop)}/", data={"name": ""})
    assert response.status_code == 422 and "This field is required." in response.text
    response = client.post(_list_url(shop, "contacts"), data={"name": "Ana", "mobile": "12"})
    assert response.status_code == 422
    assert "Not a valid mobile number" in response.text and 'aria-invalid="true"' in response.text


def test_a_contact_is_added_edited_and_removed_on_the_list_page(client, auth, shop):
    auth.login(shop.owner.user.email)
    response = client.post(
        _list_url(shop, "contacts"),
        data={"name": "Ana", "mobile": "600 000 901"},
        follow_redirects=True,
    )
    assert response.status_code == 200 and "+34 600 00 09 01" in response.text
    contact = db.session.scalar(select(Contact).where(Contact.list_id == shop.clients.id))
    edit = _list_url(shop, f"contacts/{contact.id}/edit")
    assert 'value="Ana"' in client.get(edit).text
    assert client.post(edit, data={"name": "Ana P", "mobile": "+34600000901"}).status_code == 302
    assert client.post(_list_url(shop, f"contacts/{contact.id}/remove")).status_code == 303
    assert _count(Contact, Contact.list_id == shop.clients.id) == 0


def test_a_csv_upload_shows_its_result_and_the_report_link(client, auth, shop):
    auth.login(shop.owner.user.email)
    data = b"name,mobile\nAna,+34600000911\nBea,600000912\nBad,12\nAna again,+34600000911\n"
    response = client.post(
        _list_url(shop, "import"),
        data={"file": (io.BytesIO(data), "contacts.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    page = response.text
    assert response.status_code == 200
    assert "Import finished: 2 added, 1 duplicate, 1 row rejected." in page
    link = re.search(r'href="([^"]+rejections\.csv)"', page).group(1)
    report = client.get(link)
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert '4,Not a valid mobile number.,"Bad,12"' in report.get_data(as_text=True)
    empty = client.post(_list_url(shop, "import"), data={}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "Choose a CSV file." in empty.text


def test_the_pages_read_in_spanish(client, auth, shop):
    shop.owner.user.language = "es"
    db.session.commit()
    auth.login(shop.owner.user.email)
    index = client.get(f"{_base(shop)}/").text
    assert "Listas de contactos" in index and ">Contactos<" in index and "Nueva lista" in index
    page = client.get(_list_url(shop)).text
    assert "Añadir contacto" in page and "Importar desde CSV" in page
    opt_outs = client.get(f"{_base(shop)}/opt-outs/").text
    assert "Lista de bajas" in opt_outs or "Bajas" in opt_outs
    refused = client.post(_list_url(shop, "contacts"), data={"mobile": "12"})
    assert refused.status_code == 422 and "No es un número de móvil válido" in refused.text


def test_the_opt_out_page_adds_imports_and_removes(client, auth, shop):
    auth.login(shop.owner.user.email)
    url = f"{_base(shop)}/opt-outs/"
    assert client.post(url, data={"mobile": "+34 600 000 921"}).status_code == 302
    response = client.post(
        f"{_base(shop)}/opt-outs/import",
        data={"file": (io.BytesIO(b"+34600000922\nbad\n"), "stop.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "1 added, 0 duplicates, 1 row rejected" in response.text
    assert "+34 600 00 09 22" in response.text
    opt_out = db.session.scalar(select(OptOut).where(OptOut.mobile == "+34600000921"))
    assert client.post(f"{_base(shop)}/opt-outs/{opt_out.id}/remove").status_code == 303
    assert _count(OptOut, OptOut.organization_id == shop.org.id) == 1


def test_a_plain_member_sees_the_lists_but_no_forms(client, auth, shop):
    auth.login(shop.member.user.email)
    page = client.get(_list_url(shop)).text
    assert "Clients" in page and 'id="add-contact"' not in page
    assert (
        client.post(_list_url(shop, "contacts"), data={"mobile": "+34600000931"}).status_code == 403
    )
    assert client.post(f"{_base(shop)}/", data={"name": "X"}).status_code == 403


def test_another_tenants_list_is_404(client, auth, shop):
    auth.login(shop.owner.user.email)
    assert client.get(f"{_base(shop)}/lists/{shop.other_list.id}/").status_code == 404
    assert client.get(f"/organizations/{shop.other.id}/contacts/").status_code == 404
    assert (
        client.post(
            f"{_base(shop)}/lists/{shop.other_list.id}/contacts", data={"mobile": "+34600000941"}
        ).status_code
        == 404
    )
    assert client.post(f"{_base(shop)}/lists/{shop.other_list.id}/delete").status_code == 404
    assert _count(ContactList, ContactList.id == shop.other_list.id) == 1


def test_a_list_is_deleted_after_confirmation(client, auth, shop):
    auth.login(shop.owner.user.email)
    page = client.get(_list_url(shop, "delete")).text
    assert "Delete the list Clients?" in page
    assert client.post(_list_url(shop, "delete")).status_code == 302
    assert _count(ContactList, ContactList.id == shop.clients.id) == 0


class TestWithCsrf:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "WTF_CSRF_ENABLED": True}

    def test_forms_without_the_csrf_token_change_nothing(self, client, auth, shop):
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").text)
        client.post(
            "/login",
            data={
                "email": shop.owner.user.email,
                "password": PASSWORD,
                "csrf_token": token.group(1),
            },
        )
        for url, data in [
            (f"{_base(shop)}/", {"name": "Forged"}),
            (_list_url(shop, "contacts"), {"mobile": "+34600000951"}),
            (_list_url(shop, "delete"), {}),
            (f"{_base(shop)}/opt-outs/", {"mobile": "+34600000952"}),
        ]:
            assert client.post(url, data=data).status_code == 400
        assert _count(ContactList, ContactList.organization_id == shop.org.id) == 1
        assert _count(Contact, Contact.list_id == shop.clients.id) == 0
        page = client.get(f"{_base(shop)}/").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        response = client.post(f"{_base(shop)}/", data={"name": "Real", "csrf_token": token})
        assert response.status_code == 302
