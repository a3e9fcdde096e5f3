"""The rules the OpenAPI document states (currencies, countries, time zones, percent, text,
emails, SMS sender, cursors): a value the document accepts is accepted, one it refuses gets
422 with the API's translated message; 405 names the allowed methods; long addresses get 414."""

from __future__ import annotations

import re

import pytest

from tests.api.test_auth_and_errors import assert_error
from tests.credits.conftest import set_prices

SPANISH = {"Accept-Language": "es"}


def refused_in_spanish(response, field: str) -> str:
    return assert_error(response, 422, "validation_error")["fields"][field]


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").json


def component(document, name: str) -> dict:
    return document["components"]["schemas"][name]


def matches(schema: dict, value: str) -> bool:
    # The document's patterns are ECMA-262; these use nothing Python's re reads otherwise.
    return re.search(schema["pattern"], value) is not None


# ---------------------------------------------------------------------------
# 405 and 414


def test_a_method_a_path_does_not_have_is_405_with_allow(app, api, tenants):
    paths: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            paths.setdefault(rule.rule, set()).update(rule.methods)
    assert len(paths) >= 19
    for rule, methods in paths.items():
        path = re.sub(r"<[^>]+>", "x_1", rule).removeprefix("/api/v1")
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"} - methods):
            response = api.call(method, path, tenants.key_a)
            assert_error(response, 405, "method_not_allowed")
            allowed = {name.strip() for name in response.headers["Allow"].split(",")}
            assert allowed == methods, (method, rule)


def test_an_address_over_4000_bytes_is_414_in_the_callers_language(api, tenants):
    response = api.get("/organizations", tenants.key_a, query={"q": "x" * 4000}, headers=SPANISH)
    error = assert_error(response, 414, "uri_too_long")
    assert error["message"] == "La dirección (URL) es demasiado larga."
    assert api.get("/organizations", tenants.key_a, query={"q": "x" * 200}).status_code == 200


def test_every_operation_documents_414(document):
    for operations in document["paths"].values():
        for operation in operations.values():
            assert "414" in operation["responses"]


# ---------------------------------------------------------------------------
# Codes: currencies, countries, time zones


@pytest.mark.parametrize(
    ("field", "good", "bad", "message", "name"),
    [
        ("currency", "USD", "XYZ", "Moneda desconocida.", "Currency"),
        ("country", "MX", "QQ", "País desconocido.", "Country"),
        (
            "timezone",
            "America/Mexico_City",
            "Mars/Olympus",
            "Zona horaria desconocida.",
            "Timezone",
        ),
    ],
)
def test_codes_are_the_documented_ones(api, tenants, document, field, good, bad, message, name):
    assert documented(component(document, name), good)
    assert not documented(component(document, name), bad)
    url = f"/organizations/{tenants.beta.id}"
    response = api.patch(url, tenants.key_a, {field: good})
    assert response.status_code == 200, response.json
    assert response.json[field] == good
    assert (
        refused_in_spanish(api.patch(url, tenants.key_a, {field: bad}, headers=SPANISH), field)
        == message
    )


def documented(schema: dict, value: str) -> bool:
    return value in schema["enum"] if "enum" in schema else matches(schema, value)


def test_the_codes_are_the_ones_the_service_accepts(document):
    from tenants.core.validation import country_codes, currency_codes, timezone_names

    currencies = component(document, "Currency")["pattern"].strip("^$()?:").split("|")
    assert set(currencies) == currency_codes()
    countries = component(document, "Country")["pattern"].strip("^$()?:").split("|")
    assert set(countries) == country_codes()
    assert set(component(document, "Timezone")["enum"]) == timezone_names()
    assert not documented(component(document, "Currency"), "eur")


# ---------------------------------------------------------------------------
# Percent and prices


def test_percent_is_at_most_100(api, tenants, document):
    schema = component(document, "TaxRate")["properties"]["percent"]
    assert matches(schema, "100") and matches(schema, "99.99") and matches(schema, "100.00")
    assert not matches(schema, "100.01") and not matches(schema, "101")
    ok = api.put(
        "/reseller/tax-rates", tenants.key_a, {"tax_rates": [{"country": "ES", "percent": "100"}]}
    )
    assert ok.status_code == 200, ok.json
    response = api.put(
        "/reseller/tax-rates",
        tenants.key_a,
        {"tax_rates": [{"country": "ES", "percent": "100.01"}]},
        headers=SPANISH,
    )
    assert refused_in_spanish(response, "tax_rates[0].percent") == "Debe estar entre 0 y 100."


def test_a_price_with_too_many_decimals_is_refused_as_before(api, tenants):
    body = {
        "prices": [{"currency": "EUR", "prepaid_unit_price": "0.04555", "postpaid_unit_price": "1"}]
    }
    response = api.put("/reseller/price-list", tenants.key_a, body, headers=SPANISH)
    message = refused_in_spanish(response, "prices[0].prepaid_unit_price")
    assert message == "Usa como máximo 4 decimales."


# ---------------------------------------------------------------------------
# Text, emails, SMS sender


def test_text_states_the_characters_the_service_refuses(api, tenants, document):
    name = component(document, "OrganizationUpdate")["properties"]["name"]
    assert matches(name, "  Acme  ") and matches(name, "Añil\u202eSL")
    assert not matches(name, "Acme\x00") and not matches(name, " \u3000 ")
    # A name is one line (it ends up in email subjects); an address may hold several.
    assert not matches(name, "Añil\tSL") and not matches(name, "Acme\nSL")
    address = component(document, "BillingInput")["properties"]["address"]["anyOf"][0]
    assert matches(address, "Calle Mayor 1\r\nMadrid") and not matches(address, "Calle\x00")
    url = f"/organizations/{tenants.acme.id}"
    assert api.patch(url, tenants.key_a, {"name": "Añil SL"}).status_code == 200
    for value, message in (
        ("Acme\x00", "Contiene caracteres no permitidos."),
        ("Acme\x7f", "Contiene caracteres no permitidos."),
        ("Acme\r\nSL", "Escríbelo en una sola línea."),
        ("Acme\u2028SL", "Escríbelo en una sola línea."),
        ("  \u3000 ", "Este campo es obligatorio."),
    ):
        response = api.patch(url, tenants.key_a, {"name": value}, headers=SPANISH)
        assert refused_in_spanish(response, "name") == message


def test_emails_of_special_use_domains_are_refused_by_the_schema(api, tenants, document):
    email = component(document, "MemberCreate")["properties"]["email"]
    assert matches(email, "ana@example.com") and matches(email, "ana@example.testing")
    assert not matches(email, "ana@example.test") and not matches(email, "ana@LOCALHOST")
    url = f"/organizations/{tenants.acme.id}/members"
    body = {"name": "Ana", "role": "member", "portal_access": False}
    assert api.post(url, tenants.key_a, {**body, "email": "ana@example.com"}).status_code == 201
    response = api.post(url, tenants.key_a, {**body, "email": "ana@example.test"}, headers=SPANISH)
    assert refused_in_spanish(response, "email") == "No es una dirección de e-mail válida."


def test_the_sms_sender_rule_is_stated(api, tenants, document):
    sender = component(document, "SettingsUpdate")["properties"]["sender_name"]["anyOf"][0]
    assert matches(sender, "ACME SMS") and matches(sender, "+34600000000") and matches(sender, "")
    assert not matches(sender, "Ñandú") and not matches(sender, "ABCDEFGHIJKL")
    url = f"/organizations/{tenants.acme.id}"
    ok = api.patch(url, tenants.key_a, {"settings": {"sender_name": " ACME SMS "}})
    assert ok.status_code == 200, ok.json
    response = api.patch(
        url, tenants.key_a, {"settings": {"sender_name": "Ñandú"}}, headers=SPANISH
    )
    assert refused_in_spanish(response, "settings.sender_name").startswith("Usa hasta 11 letras")


# ---------------------------------------------------------------------------
# Cursors and whole numbers


def test_cursors_are_url_safe_base64(api, tenants, document):
    parameters = document["paths"]["/api/v1/organizations"]["get"]["parameters"]
    cursor = next(p["schema"] for p in parameters if p["name"] == "cursor")
    assert cursor["maxLength"] == 1000 and cursor["pattern"] == "^[A-Za-z0-9_-]+$"
    first = api.get("/organizations", tenants.key_a, query={"limit": "1"}).json
    following = api.get(
        "/organizations", tenants.key_a, query={"limit": "1", "cursor": first["next_cursor"]}
    )
    assert following.status_code == 200
    for path in ("/organizations", f"/organizations/{tenants.acme.id}/members"):
        for bad, message in (
            ("!!!", "Este enlace de página no es válido."),
            ("x" * 1001, "Usa como máximo 1000 caracteres."),
        ):
            response = api.get(path, tenants.key_a, query={"cursor": bad}, headers=SPANISH)
            assert refused_in_spanish(response, "cursor") == message


def test_a_whole_number_written_with_a_fraction_is_that_integer(api, tenants):
    """JSON Schema's "integer" is any number with a zero fraction: 25.0 is 25."""
    set_prices(tenants.a)
    url = f"/organizations/{tenants.acme.id}/purchases"
    body = {"credits": 25.0, "account": "system", "payment_method": "offline"}
    response = api.post(url, tenants.key_a, body)
    assert response.status_code == 201, response.json
    assert response.json["credits"] == 25
    response = api.post(url, tenants.key_a, {**body, "credits": 2.5}, headers=SPANISH)
    assert refused_in_spanish(response, "credits") == "Debe ser un número entero."


def test_a_time_without_a_zone_is_refused_as_before(api, tenants):
    url = f"/organizations/{tenants.acme.id}/movements"
    response = api.get(url, tenants.key_a, query={"since": "2026-01-01T00:00:00"}, headers=SPANISH)
    assert refused_in_spanish(response, "since") == "Indica una zona horaria (p. ej. Z)."


def test_a_tax_rate_of_three_decimals_is_documented_and_accepted(api, tenants, document):
    schema = component(document, "TaxRate")["properties"]["percent"]
    assert matches(schema, "8.875") and not matches(schema, "8.8755")
    ok = api.put(
        "/reseller/tax-rates", tenants.key_a, {"tax_rates": [{"country": "US", "percent": "8.875"}]}
    )
    assert ok.status_code == 200, ok.json
    assert ok.json["tax_rates"] == [{"country": "US", "percent": "8.875"}]
