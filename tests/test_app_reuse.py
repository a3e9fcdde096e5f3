"""The suite's reuse of parsed URL rules, compiled builders, templates and compiled SQL across
its apps (tests/app_reuse.py) changes no URL, no page and no statement's values."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import url_for
from sqlalchemy import event
from sqlalchemy.orm import Session

from app import create_app
from tenants.jobs.outbox import commit
from tenants.models import User
from tests.app_reuse import TEMPLATE_CODE


def _without_tokens(response) -> bytes:
    """The page but for its CSRF tokens (each session has its own)."""
    return re.sub(rb'name="csrf_token" value="[^"]*"', b"", response.get_data())


def _rule(app, endpoint):
    return next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)


def test_two_apps_share_a_rules_builder_and_each_builds_its_own_urls(app_config):
    first, second = create_app(app_config), create_app(app_config)
    endpoint = next(r.endpoint for r in first.url_map.iter_rules() if len(r.arguments) == 1)
    one, other = _rule(first, endpoint), _rule(second, endpoint)
    assert one._build.__func__ is other._build.__func__  # compiled once
    assert one._build.__self__ is one and other._build.__self__ is other  # bound to its own
    (argument,) = one.arguments
    with first.test_request_context():
        url = url_for(endpoint, **{argument: "org_1"})
    with second.test_request_context(base_url="http://portal.test/portal/"):
        prefixed = url_for(endpoint, **{argument: "org_1"})
    assert "org_1" in url and prefixed == "/portal" + url


def test_two_apps_share_a_rules_parsing_and_each_matches_its_own_urls(app_config):
    first, second = create_app(app_config), create_app(app_config)
    endpoint = next(
        r.endpoint
        for r in first.url_map.iter_rules()
        if len(r.arguments) == 1 and "GET" in r.methods and not r.defaults
    )
    one, other = _rule(first, endpoint), _rule(second, endpoint)
    (argument,) = one.arguments
    assert other.arguments == {argument}
    assert one._converters[argument] is other._converters[argument]  # parsed once
    assert one._parts == other._parts and one._parts is not other._parts  # each its own list
    with second.test_request_context():
        path = url_for(endpoint, **{argument: "org_1"})
    assert second.url_map.bind("portal.test").match(path) == (endpoint, {argument: "org_1"})
    assert first.url_map.bind("portal.test").match(path) == (endpoint, {argument: "org_1"})


def test_a_page_compiled_by_one_app_renders_alike_in_the_next(client, app, monkeypatch):
    first = client.get("/nope")
    other = create_app(dict(app.config))
    other.jinja_env.bytecode_cache = TEMPLATE_CODE
    compiled = dict(TEMPLATE_CODE.code)
    dumped: list[str] = []
    monkeypatch.setattr(TEMPLATE_CODE, "dump_bytecode", lambda bucket: dumped.append(bucket.key))
    again = other.test_client().get("/nope")
    assert first.status_code == again.status_code == 404
    assert _without_tokens(again) == _without_tokens(first)
    assert b"Go to my home page" in again.get_data()
    assert compiled and not dumped  # every template read back, none compiled again


def _hits(engine) -> list:
    """Whether each statement ``engine`` runs from now on found its compiled form cached."""
    hits: list = []
    event.listen(
        engine,
        "after_cursor_execute",
        lambda conn, cursor, sql, params, context, many: hits.append(
            context.cache_hit == context.dialect.CACHE_HIT
        ),
    )
    return hits


def test_a_statement_compiled_for_one_engine_is_reused_by_the_next_with_its_own_values(
    app, database_url, create_user
):
    ada, bob = create_user(email="ada@example.com"), create_user(email="bob@example.com")
    commit()
    first, second = sa.create_engine(database_url), sa.create_engine(database_url)
    assert first.dialect is not second.dialect
    try:
        emails = []
        query = "ada@example.com", "bob@example.com"
        for engine, email in zip((first, second), query, strict=True):
            hits = _hits(engine)
            with Session(engine) as session:
                found = session.scalars(sa.select(User).where(User.email == email)).one()
                emails.append(found.email)
                # The ORM's own UPDATE of a row, cached per mapper.
                found.name = f"Renamed {email}"
                session.commit()
            if engine is second:
                assert hits and all(hits), hits  # compiled once, for the first engine
        assert emails == list(query)
        with Session(second) as session:
            names = session.scalars(
                sa.select(User.name).where(User.id.in_([ada.id, bob.id])).order_by(User.email)
            ).all()
        assert names == ["Renamed ada@example.com", "Renamed bob@example.com"]
    finally:
        first.dispose()
        second.dispose()


def test_a_dialect_set_apart_compiles_its_own(app, database_url):
    plain, short = sa.create_engine(database_url), sa.create_engine(database_url, label_length=8)
    try:
        statement = sa.select(User.email.label("an_email_address_label")).limit(1)
        for engine in (plain, short):
            hits = _hits(engine)
            with engine.connect() as conn:
                conn.execute(statement).all()
        assert hits == [False]  # label_length differs: not the plain engine's compiled form
    finally:
        plain.dispose()
        short.dispose()
