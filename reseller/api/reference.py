"""The API reference in Markdown (docs/api.md), rendered from the OpenAPI document.

``render_markdown(build_document())`` is the whole of docs/api.md: every operation with its
parameters, request body fields, responses and errors, then every schema. Nothing in it is
written by hand, so it cannot drift from the endpoints; ``flask docs api`` writes it and a
test fails when the committed file differs from what the document renders today.
"""

from __future__ import annotations

import json
import re
from typing import Any

from reseller.api.openapi import build_document

SCHEMA_PREFIX = "#/components/schemas/"
# An enum longer than this is counted, not listed (the timezones).
MAX_LISTED_VALUES = 20
# The reference's order of the document's tags; a tag not listed follows in document order.
TAG_ORDER = (
    "Organizations",
    "Members",
    "Credits",
    "Messages",
    "Campaigns",
    "Payments",
    "Invoices",
    "Reseller settings",
    "Meta",
)
HEADER = """\
# API reference

<!-- Generated from /api/v1/openapi.json by `flask --app app docs api`. Do not edit by hand:
     tests/api/test_reference_docs.py fails when this file and the document differ. -->

The JSON API under `/api/v1`, generated from its OpenAPI 3.1 document (served at
`/api/v1/openapi.json`, no key needed). Regenerate this page with
`flask --app app docs api` after changing an endpoint or a schema.
"""

# Patterns the API's types use, read aloud (the document states the exact expressions).
_PATTERN_WORDS = (
    (re.compile(r"^\^\[a-z\]\+_"), "an id"),
    (re.compile(r"^\^\(\?:system\|member:"), '"system" or "member:<member id>"'),
    (re.compile(r"^\^\[\\x21-\\x7e\]"), "printable ASCII, no leading or trailing space"),
    (re.compile(r"^\^\[A-Za-z0-9_-\]\+\$$"), "URL-safe base64"),
    (re.compile(r"^\^\[0-9\]\{4\}-\[0-9\]\{2\}\$$"), "YYYY-MM"),
    (re.compile(r"^\^(?:-\?)?\[0-9\]\+(\\\.|\(\?:\\\.)"), "a decimal string"),
    (re.compile(r"^\^\(\?:0\+"), "a decimal string"),
    (re.compile(r"^\^\(\?:\(\?:purchase"), "comma-separated entry types"),
    (re.compile(r"^\^\(\?:000"), "ISO 8601 date-time"),
    (re.compile(r"^\^\(\?:AC\|AD\|"), "an ISO 3166-1 alpha-2 country code"),
    (re.compile(r"^\^\(\?:ADP\|AED\|"), "an ISO 4217 currency code"),
    (
        re.compile(r"\{1,15\}\|\[A-Za-z0-9\]"),
        "an SMS sender: up to 11 letters, digits, spaces, `.`, `&` or `-`, or a number of up "
        "to 15 digits",
    ),
    (re.compile(r"^\^\(\?:\[0-9 -\]"), "digits, spaces and hyphens"),
    (re.compile(r"\\\.\(\?:\[bcd"), "an email address"),
    (re.compile(r"\\t\\n\\r[^\]]*\]\*\[\^\\x00-\\x20"), "one line of text, not blank"),
    (re.compile(r"\\t\\n\\r[^\]]*\]\*\$$"), "one line of text"),
    (re.compile(r"^\^\[\^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\]\*\[\^"), "text, not blank"),
    (re.compile(r"^\^\[\^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\]\*\$$"), "text"),
)


def render_markdown(document: dict[str, Any]) -> str:
    """docs/api.md: the document's description, its operations by tag, then its schemas."""
    schemas = document.get("components", {}).get("schemas", {})
    parts = [HEADER, "## Contents\n", _contents(document, schemas)]
    parts += ["## Using the API\n", _text(document["info"].get("description", "")), ""]
    parts += [_authentication(document), _error_format(schemas)]
    for tag, operations in _by_tag(document):
        parts.append(f"## {tag}\n")
        parts += [_operation(method, path, op, schemas) for method, path, op in operations]
    parts.append("## Schemas\n")
    parts += [_schema_section(name, schema) for name, schema in schemas.items()]
    text = "\n".join(parts)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"


# -- the page's parts --------------------------------------------------------------------


def _by_tag(document: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, dict]]]]:
    groups: dict[str, list[tuple[str, str, dict]]] = {}
    for path, methods in document.get("paths", {}).items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["Other"])[0]
            groups.setdefault(tag, []).append((method.upper(), path, op))
    rank = {tag: index for index, tag in enumerate(TAG_ORDER)}
    order = sorted(groups, key=lambda tag: (rank.get(tag, len(rank)), list(groups).index(tag)))
    return [(tag, groups[tag]) for tag in order]


def _contents(document: dict[str, Any], schemas: dict[str, Any]) -> str:
    lines = [
        "- [Using the API](#using-the-api)",
        "- [Authentication](#authentication)",
        "- [Errors](#errors)",
    ]
    for tag, operations in _by_tag(document):
        lines.append(f"- [{tag}](#{anchor(tag)})")
        for method, path, op in operations:
            title = _operation_title(method, path)
            lines.append(f"  - [{_cell(op.get('summary', ''))}](#{anchor(title)}): `{method}`")
    lines.append("- [Schemas](#schemas)")
    return "\n".join(lines) + "\n"


def _authentication(document: dict[str, Any]) -> str:
    schemes = document.get("components", {}).get("securitySchemes", {})
    lines = ["## Authentication\n"]
    for name, scheme in schemes.items():
        kind = f"HTTP `{scheme.get('scheme', '')}`" if scheme.get("type") == "http" else name
        lines.append(
            f"- {kind}: `Authorization: Bearer <key>`. {_text(scheme.get('description', ''))}"
        )
    lines.append("- Every operation needs a key unless its section says *Authentication: none*.")
    return "\n".join(lines) + "\n"


def _error_format(schemas: dict[str, Any]) -> str:
    lines = [
        "## Errors\n",
        'Every refusal has the same body, [Error](#error): `{"error": {"code", "message", '
        '"fields"}}`. `code` is stable and meant for programs; `message` is for people, in '
        "the request's `Accept-Language` (English or Spanish); `fields` maps each refused "
        "field's path to its message (422).\n",
    ]
    if "ErrorDetail" in schemas:
        lines.append(_fields_table(schemas["ErrorDetail"], prefix="error."))
    lines.append(
        "Each operation lists the statuses it may answer; a 422 lists the rules on state or "
        "across fields that a request this document accepts may still break.\n"
    )
    return "\n".join(lines)


def _operation_title(method: str, path: str) -> str:
    return f"{method} {path}"


def _operation(method: str, path: str, op: dict[str, Any], schemas: dict[str, Any]) -> str:
    lines = [f"### {_operation_title(method, path)}\n", f"**{_text(op.get('summary', ''))}**\n"]
    if op.get("description"):
        lines.append(_text(op["description"]) + "\n")
    if op.get("security") == []:
        lines.append("*Authentication: none.*\n")
    parameters = op.get("parameters", [])
    if parameters:
        lines += ["Parameters:\n", _parameters_table(parameters)]
    body = op.get("requestBody")
    if body:
        lines.append(_request_body(body, schemas))
    lines += ["Responses:\n", _responses_table(op.get("responses", {}))]
    return "\n".join(lines)


def _parameters_table(parameters: list[dict[str, Any]]) -> str:
    rows = ["| name | in | type | required | description |", "|---|---|---|---|---|"]
    for param in parameters:
        schema = param.get("schema", {})
        description = param.get("description") or schema.get("description", "")
        rows.append(
            f"| `{param['name']}` | {param['in']} | {_cell(type_text(schema))} | "
            f"{'yes' if param.get('required') else 'no'} | {_cell(description)} |"
        )
    return "\n".join(rows) + "\n"


def _request_body(body: dict[str, Any], schemas: dict[str, Any]) -> str:
    content = body.get("content", {})
    lines = []
    for media_type, media in content.items():
        schema = media.get("schema", {})
        required = "required" if body.get("required") else "optional"
        lines.append(f"Request body ({required}, `{media_type}`): {type_text(schema)}\n")
        target = _resolve(schema, schemas)
        if target.get("properties"):
            lines.append(_fields_table(target, request=True))
        elif target.get("type") == "object":
            lines.append("An empty object `{}` (or no body).\n")
    return "\n".join(lines)


def _responses_table(responses: dict[str, Any]) -> str:
    rows = ["| status | meaning | body |", "|---|---|---|"]
    for status, response in sorted(responses.items(), key=lambda item: item[0]):
        bodies = [
            type_text(media.get("schema", {}))
            if media_type == "application/json"
            else f"`{media_type}`"
            for media_type, media in response.get("content", {}).items()
        ]
        headers = ", ".join(f"header `{name}`" for name in response.get("headers", {}))
        body = " ".join(bodies) or "—"
        if headers:
            body = f"{body}; {headers}"
        rows.append(f"| {status} | {_cell(response.get('description', ''))} | {_cell(body)} |")
    return "\n".join(rows) + "\n"


def _schema_section(name: str, schema: dict[str, Any]) -> str:
    lines = [f"### {name}\n"]
    if schema.get("description"):
        lines.append(_text(schema["description"]) + "\n")
    if schema.get("properties"):
        lines.append(_fields_table(schema))
    elif schema.get("type") != "object":
        lines.append(f"{type_text(schema)}.\n")
    return "\n".join(lines)


def _fields_table(schema: dict[str, Any], prefix: str = "", *, request: bool = False) -> str:
    required = set(schema.get("required", []))
    rows = ["| field | type | required | description |", "|---|---|---|---|"]
    for field, spec in schema.get("properties", {}).items():
        rows.append(
            f"| `{prefix}{field}` | {_cell(type_text(spec))} | "
            f"{'yes' if field in required else 'no'} | {_cell(_description(spec))} |"
        )
    if request and schema.get("additionalProperties") is False:
        rows += ["", "Any other field is refused (422)."]
    return "\n".join(rows) + "\n"


# -- types in words ----------------------------------------------------------------------


def type_text(schema: dict[str, Any]) -> str:
    """A schema in a few words: a link for a named schema, else its type and limits."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(SCHEMA_PREFIX)
        return f"[{name}](#{anchor(name)})"
    if "anyOf" in schema and schema.get("type", "string") == "string" and "pattern" in schema:
        # A string with a pattern that may also be one constant (an email or "").
        constants = [f"`{json.dumps(o['const'])}`" for o in schema["anyOf"] if "const" in o]
        return " or ".join([_string_text(schema), *constants])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [type_text(option) for option in schema[key]]
            return " or ".join(dict.fromkeys(options))
    if "enum" in schema:
        values = schema["enum"]
        if len(values) > MAX_LISTED_VALUES:
            return f"one of {len(values)} values (listed in the OpenAPI document)"
        return "one of " + ", ".join(f"`{value}`" for value in values)
    kind = schema.get("type", "any")
    if kind == "array":
        text = f"array of {type_text(schema.get('items', {}))}"
        return text + _bounds(schema, "minItems", "maxItems", " items")
    if kind == "object":
        extra = schema.get("additionalProperties")
        return f"object of {type_text(extra)}" if isinstance(extra, dict) else "object"
    if kind == "string":
        return _string_text(schema)
    if kind == "integer":
        return "integer" + _bounds(schema, "minimum", "maximum", "")
    if kind == "number":
        return "number" + _bounds(schema, "minimum", "maximum", "")
    if kind == "null":
        return "null"
    return str(kind)


def _string_text(schema: dict[str, Any]) -> str:
    if schema.get("format") == "date-time":
        words = "ISO 8601 date-time"
    elif schema.get("contentMediaType"):
        words = f"`{schema['contentMediaType']}` file"
    else:
        words = pattern_words(schema.get("pattern", ""))
    text = f"string ({words})" if words else "string"
    length = _bounds(schema, "minLength", "maxLength", " characters")
    return text + length


def pattern_words(pattern: str) -> str:
    """What a pattern of the API's types accepts, in words ('' for none)."""
    if not pattern:
        return ""
    for expression, words in _PATTERN_WORDS:
        if expression.search(pattern):
            return words
    if len(pattern) <= 40:
        return f"pattern `{pattern}`"
    return "pattern in the OpenAPI document"


def _bounds(schema: dict[str, Any], low_key: str, high_key: str, unit: str) -> str:
    low, high = schema.get(low_key), schema.get(high_key)
    low, high = (f"{n:,}" if isinstance(n, int) else n for n in (low, high))
    if low is not None and high is not None:
        return f", {low} to {high}{unit}"
    if high is not None:
        return f", at most {high}{unit}"
    if low is not None:
        return f", at least {low}{unit}"
    return ""


def _description(spec: dict[str, Any]) -> str:
    text = spec.get("description", "")
    if not text:
        for option in spec.get("anyOf", []):
            text = option.get("description", "")
            if text:
                break
    if text and not text.endswith((".", ")", ":")):
        text += "."
    examples = spec.get("examples")
    if examples:
        text = f"{text} Example: `{examples[0]}`.".strip()
    if "default" in spec:
        text = f"{text} Default: `{spec['default']}`.".strip()
    return text


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return schemas.get(schema["$ref"].removeprefix(SCHEMA_PREFIX), {})
    return schema


# -- Markdown ----------------------------------------------------------------------------


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercased, punctuation dropped, spaces to '-'."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _text(text: str) -> str:
    """Prose from the document, with ``<`` outside code spans escaped (not taken for HTML)."""
    pieces = re.split(r"(`[^`]*`)", text)
    return "".join(
        piece if piece.startswith("`") else piece.replace("<", "&lt;").replace(">", "&gt;")
        for piece in pieces
    ).strip()


def _cell(text: str) -> str:
    """Text for a table cell: one line, ``|`` escaped."""
    return _text(" ".join(str(text).split())).replace("|", "\\|")


def api_reference() -> str:
    """docs/api.md as the app's OpenAPI document renders it today (needs an app context)."""
    return render_markdown(build_document())
