"""The margin report's pages (the reseller's, in English and Spanish, with its rates form;
the platform's) and their CSV; agents and other resellers are refused."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import sqlalchemy as sa

from tenants.core.extensions import db
from tenants.models import MarginRate, PlatformRole, ResellerRole
from tests.wholesale.conftest import OCTOBER


def test_reseller_admin_reads_the_page_sets_a_rate_and_downloads_the_csv(
    client, auth, margin_world, create_reseller_staff
):
    admin = create_reseller_staff(margin_world["reseller"], ResellerRole.ADMIN)
    auth.login(admin.email)
    page = client.get(f"/reseller/settings/margin?period={OCTOBER}")
    assert page.status_code == 200
    assert "Not converted" in page.text
    chart = page.text.split('data-chart="margin"')[1].split("</main>")[0]
    assert "<svg" in chart and "<script" not in chart  # drawn on the server
    assert "42.59" in page.text and "11.50" in page.text
    bad = client.get("/reseller/settings/margin?period=2026-99")
    assert bad.status_code == 422
    assert "YYYY-MM" in bad.text
    refused = client.post(
        "/reseller/settings/margin/rates",
        data={"period": OCTOBER, "currency": "USD", "rate": "0,9"},
    )
    assert refused.status_code == 422  # "0,9" is not an English number
    forged = client.post(
        "/reseller/settings/margin/rates",
        data={"period": "2026-1x", "currency": "USD", "rate": "1"},
    )
    assert forged.status_code == 422 and "YYYY-MM" in forged.text
    saved = client.post(
        "/reseller/settings/margin/rates",
        data={"period": OCTOBER, "currency": "USD", "rate": "0.9"},
    )
    assert saved.status_code == 302
    assert "77.78" in client.get(f"/reseller/settings/margin?period={OCTOBER}").text
    download = client.get(f"/reseller/settings/margin.csv?period={OCTOBER}")
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Organization", "Organization ID", "Currency"]
    assert rows[1][:3] == ["Acme", margin_world["acme"].id, "EUR"]
    assert rows[1][3:] == ["650", "27.00", "15.50", "EUR", "", "11.50", "42.59", "yes"]
    assert rows[2][3:] == ["200", "30.00", "6.00", "EUR", "0.9000", "21.00", "77.78", "yes"]
    assert rows[3][3:] == ["0", "10.00", "0.00", "EUR", "", "", "", "no"]
    assert client.get("/reseller/settings/margin.csv?period=bad").status_code == 422
    cleared = client.post(
        "/reseller/settings/margin/rates",
        data={"period": OCTOBER, "currency": "USD", "rate": ""},
    )
    assert cleared.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MarginRate)) == 0


def test_the_page_in_spanish(client, auth, margin_world, create_reseller_staff):
    admin = create_reseller_staff(margin_world["reseller"], ResellerRole.ADMIN, language="es")
    auth.login(admin.email)
    page = client.get(f"/reseller/settings/margin?period={OCTOBER}")
    assert page.status_code == 200
    assert "Informe de margen" in page.text
    assert "Sin convertir" in page.text
    assert "42,59" in page.text
    saved = client.post(
        "/reseller/settings/margin/rates",
        data={"period": OCTOBER, "currency": "USD", "rate": "0,9"},
    )
    assert saved.status_code == 302
    assert db.session.scalar(sa.select(MarginRate.rate)) == Decimal("0.9")
    download = client.get(f"/reseller/settings/margin.csv?period={OCTOBER}")
    assert download.get_data(as_text=True).lstrip("\ufeff").startswith("Organización")


def test_agents_other_resellers_and_the_platform(
    client, auth, margin_world, create_reseller_staff, create_platform_staff
):
    agent = create_reseller_staff(margin_world["reseller"], ResellerRole.AGENT)
    auth.login(agent.email)
    assert client.get("/reseller/settings/margin").status_code in (403, 404)
    assert client.post(
        "/reseller/settings/margin/rates", data={"period": OCTOBER, "currency": "USD", "rate": "1"}
    ).status_code in (403, 404)
    auth.logout()
    other_admin = create_reseller_staff(margin_world["other"], ResellerRole.ADMIN)
    auth.login(other_admin.email)
    own = client.get(f"/reseller/settings/margin?period={OCTOBER}")
    assert own.status_code == 200 and "Acme" not in own.text
    assert client.get(f"/platform/resellers/{margin_world['reseller'].id}/margin").status_code in (
        403,
        404,
    )
    auth.logout()
    staff = create_platform_staff(role=PlatformRole.ADMIN)
    auth.login(staff.email)
    detail = client.get(f"/platform/resellers/{margin_world['reseller'].id}")
    assert f"/platform/resellers/{margin_world['reseller'].id}/margin" in detail.text
    base = f"/platform/resellers/{margin_world['reseller'].id}"
    page = client.get(f"{base}/margin?period={OCTOBER}")
    assert page.status_code == 200 and "42.59" in page.text
    download = client.get(
        f"/platform/resellers/{margin_world['reseller'].id}/margin.csv?period={OCTOBER}"
    )
    assert download.status_code == 200 and "Acme" in download.get_data(as_text=True)
    assert client.get("/platform/resellers/nobody/margin").status_code == 404


def test_a_cost_not_converted_is_said_and_its_rate_offered(
    client, auth, two_currency_world, create_reseller_staff
):
    admin = create_reseller_staff(two_currency_world, ResellerRole.ADMIN)
    auth.login(admin.email)
    page = client.get(
        f"/reseller/settings/margin?period={OCTOBER}", headers={"Accept-Language": "es"}
    )
    assert page.status_code == 200
    acme_cost = page.text.split('data-field="cost"')[1].split("</td>")[0]
    assert "Sin convertir" in acme_cost
    assert "créditos de un lote" in page.text  # the note says why
    assert '<option value="EUR"' in page.text.split('name="currency"')[1].split("</select>")[0]
    download = client.get(f"/reseller/settings/margin.csv?period={OCTOBER}")
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][3:] == ["300", "18.00", "", "USD", "", "", "", "no"]
    assert rows[3][0] == "Total" and rows[3][5] == ""
