"""What a request brings, checked before any view runs: ids in the URL, query parameters,
and the status of a page that shows a refused form.

* A URL variable named ``*_id`` that does not have a record id's shape
  (``tenants.core.types.is_record_id``) is a 404 at once: no record has it, so no query is
  made (a NUL or 10,000 characters would otherwise reach the database).
* Every query parameter of a page must be one line of text without control characters
  (``tenants.core.validation.text_problem``) and of a sane length, else the page answers
  422 saying which parameter. The API checks its query parameters through each operation's
  schema instead (``reseller.api.spec``), with the same rule and its JSON error.
* A POST whose page renders a form with errors, or a refusal shown with
  ``show_service_errors``, answers 422 (or the refusal's own 4xx) instead of 200: views keep
  returning ``render_template(...)`` and every form refusal gets the same status.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_babel import gettext as _

from tenants.core.errors import NotFound, ValidationFailed
from tenants.core.types import is_record_id
from tenants.core.validation import text_problem
from tenants.web.forms import refusal_status
from tenants.web.paths import is_api_request

MAX_QUERY_VALUE = 2000


def refuse_malformed_ids(_endpoint: str | None, values: dict | None) -> None:
    for name, value in (values or {}).items():
        if name.endswith("_id") and not is_record_id(value):
            raise NotFound()  # the very 404 of a record that is missing or not yours


def refuse_unsafe_query() -> None:
    if is_api_request():
        return
    for name, value in request.args.items(multi=True):
        problem = text_problem(name) or text_problem(value)
        if problem is None and len(value) > MAX_QUERY_VALUE:
            problem = _("Use at most %(n)d characters.", n=MAX_QUERY_VALUE)
        if problem:
            shown = name[:40] if text_problem(name) is None else "?"
            raise ValidationFailed(
                _("This link's “%(name)s” is not valid: %(problem)s", name=shown, problem=problem),
                fields={shown: problem},
            )


def refused_form_answers_4xx(response: Response) -> Response:
    if request.method != "POST" or response.status_code != 200:
        return response
    if response.mimetype == "text/html" and (status := refusal_status()):
        response.status_code = status
    return response


def register(app: Flask) -> None:
    app.url_value_preprocessor(refuse_malformed_ids)
    app.before_request(refuse_unsafe_query)
    app.after_request(refused_form_answers_4xx)
