"""Issue 16, item 13: a CSV download is named in the reader's language, like its headers --
the organization's 30-day log, the reseller's log of every customer, and the API's export."""

from __future__ import annotations

from datetime import date

import pytest

from tenants.access.actors import SYSTEM
from tenants.api_keys.operations import create_api_key
from tenants.credits.export import attachment
from tenants.jobs.outbox import commit
from tests.credits.conftest import credits_url, fund

NAMES = {
    "en": ("credits-log-{org}-{day}.csv", "credits-log-all-customers-{day}.csv"),
    "es": (
        "registro-de-creditos-{org}-{day}.csv",
        "registro-de-creditos-todos-los-clientes-{day}.csv",
    ),
}


def named(response) -> str:
    """The download's file name (its streamed body read to the end first)."""
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip("\ufeff").strip()
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="')
    return disposition.split('filename="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_logs_download_in_the_readers_language(client, auth, shop, language):
    fund(shop.org, 40)
    shop.owner.user.language = language
    shop.staff.language = language
    commit()
    org_id, day = shop.org.id, date.today().isoformat()
    organization_log, customers_log = NAMES[language]

    auth.login(shop.owner.user.email)
    response = client.get(credits_url(shop.org, "log.csv"))
    assert named(response) == organization_log.format(org=org_id, day=day)
    auth.logout()

    auth.login(shop.staff.email)
    response = client.get("/credits/reseller-log.csv")
    assert named(response) == customers_log.format(day=day)


@pytest.mark.parametrize(
    ("language", "name"),
    [("en", "movements-{org}-{day}.csv"), ("es", "movimientos-{org}-{day}.csv")],
)
def test_the_api_export_is_named_in_the_accept_language(client, shop, language, name):
    _key, key = create_api_key(SYSTEM, reseller=shop.reseller, organization=None, name="csv")
    commit()
    response = client.get(
        f"/api/v1/organizations/{shop.org.id}/movements.csv",
        headers={"Authorization": f"Bearer {key}", "Accept-Language": language},
    )
    assert named(response) == name.format(org=shop.org.id, day=date.today().isoformat())


def test_a_name_beyond_ascii_keeps_a_plain_fallback():
    assert attachment("log.csv") == 'attachment; filename="log.csv"'
    assert attachment("créditos.csv") == (
        "attachment; filename=\"creditos.csv\"; filename*=UTF-8''cr%C3%A9ditos.csv"
    )
