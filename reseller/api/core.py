"""The request pipeline every endpoint shares: Bearer key, rate limit, strict JSON,
schema validation, Idempotency-Key, the one JSON error format, and the commit.

Endpoints are declared with ``@endpoint(...)``: the same declaration registers the Flask
route, validates with its schemas and feeds the OpenAPI document (reseller.api.openapi).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Annotated, Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, g, request
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

import reseller.api.idempotency as idempotency
from reseller.api.blueprint import bp
from reseller.api.bodies import (
    is_csv_request,
    parse_body,
    register_body_cleanup,
    spool_csv_body,
)
from reseller.api.schemas import EmptyRequest
from reseller.api.spec import NoQuery, validate_body, validate_query
from tenants.access import campaign_scoping, contact_scoping, scoping
from tenants.access.actors import Actor
from tenants.api_keys.operations import (
    PresentedKey,
    confirm_api_key,
    note_api_key_use,
    resolve_api_key,
)
from tenants.core.database import is_outage
from tenants.core.errors import DomainError, InvalidApiKey, NotFound, ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.web.outage import forget_failed_work, outage_response

# Every id is a prefix and a ULID ("org_01j…"); anything else names no record: a 404.
PATH_ID = TypeAdapter(
    Annotated[str, StringConstraints(max_length=32, pattern=r"^[a-z]+_[0-9a-z]+$")]
)
# Below gunicorn's request line limit (4094 bytes with the method and HTTP version), so a
# long address gets this documented JSON answer rather than the server's own page.
MAX_URL_BYTES = 4000
_API_KEY = "portal.api_key"


class UrlTooLong(DomainError):
    code = "uri_too_long"
    status = 414
    default_message = _l("The address (URL) is too long.")


@dataclass
class Operation:
    """One documented endpoint: what it accepts, what it answers, who may call it."""

    rule: str
    method: str
    endpoint: str
    summary: str
    tag: str
    description: str = ""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    # Other successful answers, each with when it comes (same body as ``status``).
    also: dict[int, str] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    # The fields a schema-valid request may still be refused on (422), and why: rules on
    # state or across fields, which JSON Schema cannot state. "[]" stands for any index.
    refusals: dict[str, str] = field(default_factory=dict)
    auth: bool = True
    reseller_only: bool = False
    # What a successful answer is: JSON through done(), or a file the view streams itself.
    media_type: str = "application/json"
    # The body may also be a CSV (Content-Type text/csv) of any size: it is spooled to a
    # temporary file as it arrives (never whole in memory) and handed to the view as
    # ``body``, a file open for reading; ``body`` is the JSON model otherwise.
    csv_body: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


# ---------------------------------------------------------------------------
# Answers


def _json(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _printable(text: Any) -> str:
    """Text safe to send back (an unknown field's name may hold a lone surrogate)."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def json_response(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    if status == 204:
        return Response(status=204, headers=headers)
    return Response(text, status=status, mimetype="application/json", headers=headers)


def done(body: Any = None, status: int = 200) -> Response:
    """Store the idempotent answer, commit the request's unit of work, answer in JSON.

    ``body`` may be a function making the answer from what the request decided (plain
    values, no database): called after the commit unless an Idempotency-Key's answer is
    stored with it, so a large answer (a batch's thousand results) is not built while the
    transaction holds its locks (bench/README.md, B6). Any other body is encoded before the
    commit, as the answer stored with it would be."""
    row_id = g.pop("idempotency_row", None)
    text = None if callable(body) and not row_id else _text(body)
    if row_id:
        idempotency.store_answer(row_id, status, text)
    commit()
    if text is None:
        text = _text(body)
    return json_response(text, status)


def _text(body: Any) -> str:
    if callable(body):
        body = body()
    return "" if body is None else _json(body)


def error_response(
    status: int,
    code: str,
    message: Any,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    fields = {_printable(key): _printable(value) for key, value in (fields or {}).items()}
    body = {"error": {"code": code, "message": _printable(message), "fields": fields}}
    return json_response(_json(body), status, headers)


def _undo() -> None:
    """Forget the failed request's changes and free its Idempotency-Key."""
    rollback()
    row_id = g.pop("idempotency_row", None)
    if row_id:
        try:
            idempotency.release(row_id)
        except Exception:  # the claim then expires as abandoned
            rollback()
            current_app.logger.exception("could not free idempotency key %s", row_id)


def handle_domain_error(error: DomainError) -> Response:
    _undo()
    headers = {}
    if isinstance(error, InvalidApiKey):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return error_response(error.status, error.code, error.message, error.fields, headers)


HTTP_CODES = {
    400: ("bad_request", _l("Bad request.")),
    404: ("not_found", _l("Not found.")),
    405: ("method_not_allowed", _l("This method is not allowed here.")),
    413: ("request_too_large", _l("The request body is too large.")),
}


def handle_http_error(error: HTTPException) -> Response:
    _undo()
    code, message = HTTP_CODES.get(error.code or 500, ("error", _l("The request failed.")))
    return error_response(error.code or 500, code, message)


def handle_unexpected(error: Exception) -> Response:
    if is_outage(error):  # the database is unreachable: 503 with Retry-After, not a bug
        try:
            _undo()
        except Exception:
            forget_failed_work()
        return outage_response(error, as_json=True)
    current_app.logger.exception("unhandled API error on %s %s", request.method, request.path)
    _undo()
    return error_response(
        500, "internal_error", _l("An unexpected error happened. It has been logged.")
    )


def register_error_handlers(bp: Blueprint) -> None:
    register_body_cleanup(bp)
    bp.register_error_handler(DomainError, handle_domain_error)
    bp.register_error_handler(HTTPException, handle_http_error)
    bp.register_error_handler(Exception, handle_unexpected)

    @bp.before_request
    def limit_url_length() -> None:
        if len(quote(request.path)) + len(request.query_string) + 1 > MAX_URL_BYTES:
            raise UrlTooLong()

    @bp.after_app_request
    def allow_header(response: Response) -> Response:
        """A 405 names the methods the address has (RFC 9110); routing answers it before
        the blueprint knows the request is its own, hence an app-wide hook."""
        error = request.routing_exception
        if isinstance(error, MethodNotAllowed) and request.path.startswith(f"{bp.url_prefix}/"):
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods or ()))
        return response

    @bp.after_request
    def no_store(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        return response


# ---------------------------------------------------------------------------
# The pipeline


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token


def request_api_key() -> PresentedKey | None:
    """The live key the request's Bearer token names, or None; read once per request (the
    rate limiter counts by it before the view runs). Kept on the request, not on ``g``,
    which outlives a request where an app context is already pushed (tests)."""
    if _API_KEY not in request.environ:
        token = _bearer_token()
        # The key, its reseller and organization: one query.
        request.environ[_API_KEY] = resolve_api_key(token) if token is not None else None
    return request.environ[_API_KEY]


def authenticate() -> tuple[Actor, str]:
    """The actor of the Bearer key (401 when missing or bad)."""
    if _bearer_token() is None:
        raise InvalidApiKey(_l("Send your API key as: Authorization: Bearer <key>."))
    key = request_api_key()
    if key is not None:
        # A key this process remembers stands only if no key changed since (its rate limit
        # read the keys' generation in Redis): else it is read again.
        key = request.environ[_API_KEY] = confirm_api_key(key, _bearer_token())
    if key is None:
        raise InvalidApiKey()
    actor = key.actor()
    if note_api_key_use(key):
        # At most once a minute per key: committed now, so a refused request still counts
        # as a use and no row lock on the key is held through the request. Otherwise
        # nothing is written and the request's work goes on in the same transaction.
        db.session.commit()
    return actor, key.reseller_id


def endpoint(
    rule: str,
    method: str,
    *,
    summary: str,
    tag: str,
    bp: Blueprint | None = None,
    **options: Any,
) -> Callable:
    """Declare an endpoint: route, validation and OpenAPI entry from one description.

    The view receives ``actor``, its path parameters, and ``body`` / ``query`` (validated)
    when the operation declares them; it calls the service and returns ``done(...)``.
    """

    def decorator(view: Callable) -> Callable:
        operation = Operation(rule, method, view.__name__, summary, tag, **options)
        OPERATIONS.append(operation)

        @wraps(view)
        def run(**path: Any) -> Response:
            _require_ids(path)
            actor, reseller_id = authenticate() if operation.auth else (None, None)
            kwargs: dict[str, Any] = dict(path)
            try:
                if operation.auth:
                    query = validate_query(operation.query or NoQuery, request.args)
                    if operation.query is not None:
                        kwargs["query"] = query
                if method in ("POST", "PUT", "PATCH") and operation.csv_body and is_csv_request():
                    kwargs["body"], raw = spool_csv_body()
                elif method in ("POST", "PUT", "PATCH"):
                    raw = parse_body()
                    body = validate_body(operation.body or EmptyRequest, raw)
                    if operation.body is not None:
                        kwargs["body"] = body
            except DomainError:
                # Another tenant's record is a 404 whatever the request carries (SPEC §1):
                # checked here, on the refusal path only, before the validation answer.
                if operation.auth:
                    _require_reachable(actor, path)
                raise
            if method == "POST" and "Idempotency-Key" in request.headers:
                key = idempotency.check_key(request.headers["Idempotency-Key"])
                row_id, answer = idempotency.claim(
                    reseller_id=reseller_id,
                    api_key_id=actor.api_key_id,
                    key=key,
                    fingerprint=idempotency.request_hash(method, request.path, raw),
                )
                if answer is not None:
                    return json_response(
                        answer.body, answer.status, {"Idempotent-Replayed": "true"}
                    )
                g.idempotency_row = row_id
            if operation.auth:
                return view(actor, **kwargs)
            return view(**kwargs)

        target = bp or _default_blueprint()
        target.add_url_rule(rule, endpoint=view.__name__, view_func=run, methods=[method])
        return run

    return decorator


def _require_ids(path: dict[str, Any]) -> None:
    """NotFound for a path value that is no id, before the key is even read."""
    try:
        for value in path.values():
            PATH_ID.validate_python(value, strict=True)
    except ValidationError:
        raise NotFound() from None


def _require_reachable(actor: Actor, path: dict[str, Any]) -> None:
    """NotFound unless the records named in the path are within the actor's scope."""
    if "org_id" in path:
        org = scoping.get_organization(actor, path["org_id"], include_deleted=True)
        if "member_id" in path:
            scoping.get_member(actor, org, path["member_id"])
        if "payment_id" in path:
            scoping.get_payment(actor, org, path["payment_id"])
        if "list_id" in path:
            contact_list = contact_scoping.get_contact_list(actor, org, path["list_id"])
            if "contact_id" in path:
                contact_scoping.get_contact(actor, contact_list, path["contact_id"])
        if "import_id" in path:
            contact_scoping.get_import(actor, org, path["import_id"])
        if "campaign_id" in path:
            campaign_scoping.get_campaign(actor, org, path["campaign_id"])
    if "invoice_id" in path:
        scoping.get_invoice(actor, path["invoice_id"])


def _default_blueprint() -> Blueprint:
    return bp


def renamed_fields(error: ValidationFailed, names: dict[str, str]) -> ValidationFailed:
    """A service's field error under the API's name for the field (member → member_id)."""
    error.fields = {names.get(key, key): value for key, value in error.fields.items()}
    return error
