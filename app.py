"""Composition root: create_app(config=None) — config, extensions, locale, jobs, blueprints."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from tenants import (
    cli,
    models,  # noqa: F401  (registers every table on the metadata)
)
from tenants.core.config import load_config
from tenants.core.database import configure_engine_events, is_outage
from tenants.core.errors import DomainError
from tenants.core.extensions import babel, bootstrap, csrf, db, login_manager, migrate
from tenants.core.replica import REPLICA_BIND
from tenants.web import assets, request_input, templating
from tenants.web.locale import select_locale, select_timezone
from tenants.web.outage import forget_failed_work, outage_response
from tenants.web.paths import PortalSessionInterface, is_api_request
from tenants.web.replica import remember_writes
from tenants.web.session import (
    enforce_live_access,
    enforce_support_session,
    refuse_changes_in_view_only,
)

ROOT = Path(__file__).resolve().parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.session_interface = PortalSessionInterface()
    app.config.update(load_config(Path(app.instance_path)))
    if config:
        app.config.update(config)
    register_extensions(app)
    register_jobs(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_request_hooks(app)
    templating.register(app)
    register_commands(app)
    logging.basicConfig(level=logging.INFO)
    # WeasyPrint narrates every PDF step at INFO; keep its warnings only.
    for noisy in ("weasyprint", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        configure_engine_events(
            db.engine, app.config["DATABASE_CONNECT_TIMEOUT"], app.config["SQLITE_BUSY_TIMEOUT_MS"]
        )
        if REPLICA_BIND in db.engines:
            configure_engine_events(db.engines[REPLICA_BIND], app.config["REPLICA_CONNECT_TIMEOUT"])
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    bootstrap.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)


def register_jobs(app: Flask) -> None:
    """Import every module whose functions carry ``@job`` (or ``@warm_up``): importing
    registers their names, and the outbox refuses a name nobody registered."""
    from tenants.billing import emails, monthly_run  # noqa: F401
    from tenants.campaigns import notices as campaign_notices  # noqa: F401
    from tenants.campaigns import runs  # noqa: F401
    from tenants.credits import (  # noqa: F401
        alerts,
        forecast_alerts,
        forecast_refresh,
        purchases,
        receipts,
        topups,
    )
    from tenants.invoices import documents  # noqa: F401
    from tenants.messaging import pipeline, reports  # noqa: F401
    from tenants.organizations import change_requests, notices, ownership_emails  # noqa: F401
    from tenants.people import invitations, passwords  # noqa: F401
    from tenants.support import sessions  # noqa: F401
    from tenants.wholesale import alerts as wholesale_alerts  # noqa: F401


def register_blueprints(app: Flask) -> None:
    from reseller.api import bp as api_bp
    from reseller.api import init_rate_limit
    from reseller.credits import bp as reseller_credits_bp
    from reseller.customers import bp as customers_bp
    from reseller.platform import bp as platform_bp
    from reseller.settings import bp as reseller_settings_bp
    from reseller.support import bp as support_bp
    from tenants.views.api_keys import bp as org_api_keys_bp
    from tenants.views.auth import bp as auth_bp
    from tenants.views.campaigns import bp as campaigns_bp
    from tenants.views.contacts import bp as contacts_bp
    from tenants.views.credits import bp as credits_bp
    from tenants.views.health import bp as health_bp
    from tenants.views.members import bp as members_bp
    from tenants.views.messaging import bp as messaging_bp
    from tenants.views.organization import bp as organization_bp
    from tenants.views.ownership import bp as ownership_bp
    from tenants.views.profile import bp as profile_bp
    from tenants.views.two_factor import bp as two_factor_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(organization_bp)
    app.register_blueprint(members_bp)
    app.register_blueprint(ownership_bp)
    app.register_blueprint(contacts_bp)
    app.register_blueprint(credits_bp)
    app.register_blueprint(messaging_bp)
    app.register_blueprint(campaigns_bp)
    app.register_blueprint(reseller_credits_bp)
    app.register_blueprint(profile_bp)
    app.register_blueprint(customers_bp)
    app.register_blueprint(platform_bp)
    app.register_blueprint(reseller_settings_bp)
    app.register_blueprint(org_api_keys_bp)
    app.register_blueprint(api_bp)
    init_rate_limit(app)
    app.register_blueprint(two_factor_bp)
    app.register_blueprint(support_bp)


def register_errorhandlers(app: Flask) -> None:
    def render_error(status: int, message: str | None = None):
        titles = {
            400: _("Bad request"),
            401: _("Please log in"),
            403: _("Access denied"),
            404: _("Page not found"),
            405: _("Method not allowed"),
            409: _("Conflict"),
            413: _("Request too large"),
            422: _("Invalid data"),
            429: _("Too many requests"),
            500: _("Something went wrong"),
        }
        texts = {
            403: _("You are not allowed to see or do this."),
            404: _("The page you asked for does not exist, or it is not yours to see."),
            500: _("An unexpected error happened. It has been logged; please try again."),
        }
        title = titles.get(status, _("Error"))
        text = message or texts.get(status) or title
        if is_api_request():
            code = {
                400: "bad_request",
                403: "forbidden",
                404: "not_found",
                405: "method_not_allowed",
                413: "request_too_large",
                429: "rate_limited",
            }.get(status, "error")
            return jsonify(error={"code": code, "message": str(text), "fields": {}}), status
        return render_template("errors/error.html", status=status, title=title, text=text), status

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        db.session.rollback()
        return render_error(error.status, str(error.message))

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        from flask_wtf.csrf import CSRFError

        if isinstance(error, CSRFError):
            return render_error(
                400, _("Your form expired or was sent from another site. Please try again.")
            )
        if error.code in (301, 302, 303, 307, 308) or error.code is None:
            return error
        return render_error(error.code)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        if is_outage(error):
            forget_failed_work()
            return outage_response(error, as_json=is_api_request())
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return render_error(500)


SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "DENY"),
)


def register_request_hooks(app: Flask) -> None:
    app.before_request(enforce_support_session)
    app.before_request(enforce_live_access)
    app.before_request(refuse_changes_in_view_only)
    request_input.register(app)
    assets.register(app)
    app.after_request(remember_writes)

    @app.after_request
    def security_headers(response):
        # ``name not in headers``, not ``headers.setdefault``: werkzeug's setdefault finds
        # a missing header by raising (and building) an HTTP exception, four a request.
        headers = response.headers
        for name, value in SECURITY_HEADERS:
            if name not in headers:
                headers.add(name, value)
        if "text/html" in response.content_type and "Cache-Control" not in headers:
            headers.add("Cache-Control", "no-store")
        return response

    @app.teardown_request
    def forget_actor(_exc):
        g.pop("actor", None)


def register_commands(app: Flask) -> None:
    cli.register(app)
