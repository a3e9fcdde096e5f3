"""The answer while the database cannot be reached: 503 with ``Retry-After``, never a 500.

Built without the database: no signed-in person (Flask-Login would load them), no base
layout (its context processors read menus and contexts), the language from the session
or the browser.
"""

from __future__ import annotations

import json

from flask import Response, current_app, request
from flask_babel import force_locale
from flask_babel import gettext as _

from tenants.core.errors import ServiceUnavailable
from tenants.core.extensions import db
from tenants.web.locale import outage_locale


def forget_failed_work() -> None:
    """Roll the request's session back after the database failed it; a session that cannot
    even roll back is closed (the pool replaces its connection)."""
    try:
        db.session.rollback()
    except Exception:
        db.session.close()


def outage_response(error: BaseException, *, as_json: bool) -> Response:
    """503 with ``Retry-After``: the JSON error (code ``service_unavailable``) or a page
    asking to try again in a moment. The caller has rolled its work back."""
    app = current_app._get_current_object()
    app.logger.warning("database unavailable on %s %s: %r", request.method, request.path, error)
    retry_after = int(app.config["OUTAGE_RETRY_AFTER"])
    locale = outage_locale()
    with force_locale(locale):
        text = str(ServiceUnavailable.default_message)
        if as_json:
            body = {"error": {"code": ServiceUnavailable.code, "message": text, "fields": {}}}
            response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
        else:
            page = app.jinja_env.get_template("errors/503.html").render(
                locale=locale,
                title=_("Briefly unavailable"),
                text=text,
                retry_after=retry_after,
                again_url=request.full_path if request.method == "GET" else request.path,
            )
            response = Response(page, mimetype="text/html")
    response.status_code = 503
    response.headers["Retry-After"] = str(retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response
