"""The API's schema machinery: pydantic models that validate requests AND render as OpenAPI 3.1.

One definition serves both, so the document can never drift from what the endpoints accept.
Validation is strict, Stripe-style: unknown fields, wrong types, non-integer or out-of-range
numbers are refused with a translated message per field, keyed by the field's path
(``billing.name``, ``prices[0].currency``), never silently ignored or coerced. Every rule on
one field is a JSON Schema keyword (type, enum, pattern, bounds), which pydantic enforces;
a field's type may name the message its refusal shows (``explained``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from flask_babel import gettext as _
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from tenants.core.errors import ValidationFailed
from tenants.core.validation import text_problem, unsafe_chars

Model = TypeVar("Model", bound=BaseModel)
# A request field read into a richer value (a Decimal, a datetime) is dumped as that value.
KEEP_VALUE = PlainSerializer(lambda value: value)
COMPONENTS = "#/components/schemas/{model}"


class ApiModel(BaseModel):
    """A JSON object of the API: known fields only, each of exactly its type."""

    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="rust-regex")


# ---------------------------------------------------------------------------
# Refusals: the message a field's type gives when pydantic refuses a value


def refused(message: Any) -> PydanticCustomError:
    """A refusal whose message is already the translated text to show."""
    return PydanticCustomError("refused", "{message}", {"message": str(message)})


def explained(explain: Callable[[Any], Any]) -> WrapValidator:
    """Whatever the inner type refuses is shown as ``explain(value)``."""

    def wrap(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError as error:
            raise refused(explain(value)) from error

    return WrapValidator(wrap)


class Named:
    """Marks a type stated once, as ``#/components/schemas/<name>`` (a long enum)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        return {**handler(source), "ref": self.name}


# ---------------------------------------------------------------------------
# Text: what the services' clean_text accepts, stated as patterns

# The one text rule (tenants.core.validation): control characters are refused everywhere,
# line breaks and tabs too in one-line text. Lone surrogates (which UTF-8 cannot encode) are
# refused by pydantic before any pattern.
UNSAFE_TEXT = re.compile(f"[{unsafe_chars(one_line=False)}\\ud800-\\udfff]")
SAFE_CHAR = f"[^{unsafe_chars(one_line=True)}]"
# Neither unsafe nor whitespace as Python's str.strip() sees it (which the services strip).
VISIBLE_CHAR = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def text_pattern(required: bool, one_line: bool) -> str:
    safe = f"[^{unsafe_chars(one_line)}]"
    return f"^{safe}*{VISIBLE_CHAR}{safe}*$" if required else f"^{safe}*$"


def explain_text(required: bool, one_line: bool = True) -> Callable[[str], str]:
    """Why text was refused, in the order the API has always checked it."""

    def explain(value: str) -> str:
        if required and not value.strip():
            return _("This field is required.")
        return text_problem(value, one_line) or _("Not in the expected format.")

    return explain


def explain_pattern(explain: Callable[[Any], Any]) -> WrapValidator:
    """Like ``explained``, for a string's pattern only (type and length keep their message)."""

    def wrap(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError as error:
            if error.errors()[0]["type"] == "string_pattern_mismatch":
                raise refused(explain(value)) from error
            raise

    return WrapValidator(wrap)


def text(
    max_length: int = 200, *, required: bool = True, one_line: bool = True, **field: Any
) -> Any:
    """Text of at most ``max_length`` characters; ``required``: not empty or blank;
    ``one_line``: no line breaks or tabs (names, references), else several lines may be
    given (addresses, reasons)."""
    return Annotated[
        str,
        StringConstraints(
            min_length=1 if required else None,
            max_length=max_length,
            pattern=text_pattern(required, one_line),
        ),
        explain_pattern(explain_text(required, one_line)),
        Field(**field),
    ]


def pattern(regex: str, max_length: int, *, message: Any = None, **field: Any) -> Any:
    """Text matching ``regex`` (anchored), ``message`` shown when it does not."""

    def explain(_value: Any) -> Any:
        return message or _("Not in the expected format.")

    return Annotated[
        str,
        StringConstraints(min_length=1, max_length=max_length, pattern=f"^(?:{regex})$"),
        explain_pattern(explain),
        Field(**field),
    ]


def one_of(values: Iterable[str], *, message: Any = None, name: str = "", **field: Any) -> Any:
    """One of ``values``, refused with ``message`` or "Must be one of: …"; a ``name``d list
    is stated once in the document's components."""
    values = tuple(values)

    def explain(_value: Any) -> Any:
        return message or _("Must be one of: %(values)s.", values=", ".join(values))

    extra = (Named(name),) if name else ()
    return Annotated[(Literal[values], explained(explain), *extra, Field(**field))]


# ---------------------------------------------------------------------------
# Numbers: credits are integers; money and percentages travel as decimal strings ("12.50")


def _whole(value: Any) -> Any:
    """A JSON number with a zero fraction ("458.0", "4.58e2") is the integer JSON Schema says
    it is; any other number stays a Decimal, which no integer field accepts."""
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


def integer(minimum: int, maximum: int, **field: Any) -> Any:
    return Annotated[int, Field(ge=minimum, le=maximum, **field), BeforeValidator(_whole)]


def _counting_to(limit: int) -> str:
    """A regex for the whole numbers 1 to ``limit``, written without leading zeros."""
    digits = str(limit)
    if set(digits) == {"9"}:
        return f"[1-9][0-9]{{0,{len(digits) - 1}}}"
    shorter = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    below = []
    for i, digit in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            rest = len(digits) - i - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            below.append(f"{digits[:i]}[{low}-{int(digit) - 1}]{tail}")
    return f"(?:{'|'.join([*shorter, *below, digits])})"


def decimal_pattern(high: str, places: int, *, positive: bool = False) -> str:
    """The decimal strings from 0 (or, ``positive``, above 0) to ``high`` with at most
    ``places`` decimals; leading zeros, and zeros after the last decimal, are allowed."""
    whole, _point, fraction = high.partition(".")
    decimals = rf"(?:\.[0-9]{{1,{places}}}0*)?"
    zero = rf"0+\.[0-9]{{0,{places - 1}}}[1-9]0*" if positive else rf"0+{decimals}"
    if fraction == "9" * places:  # every decimal below the next whole number
        return rf"^(?:{zero}|0*{_counting_to(int(whole))}{decimals})$"
    assert not fraction.strip("0"), high
    top = rf"0*{whole}(?:\.0+)?"
    return rf"^(?:{zero}|0*{_counting_to(int(whole) - 1)}{decimals}|{top})$"


# How the API has always worded a refused amount: first the shape, then the range, then
# the decimals (the pattern states all three at once).
DECIMAL_SHAPE = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,12})?")


def decimal(high: str, places: int, *, low: str = "0", **field: Any) -> Any:
    """A decimal string from ``low`` (0 or the smallest positive step) to ``high``."""

    def explain(value: Any) -> str:
        if not isinstance(value, str) or not DECIMAL_SHAPE.fullmatch(value):
            return _('Must be a decimal number in a string, e.g. "12.50".')
        amount = Decimal(value)
        if not Decimal(low) <= amount <= Decimal(high):
            return _("Must be between %(low)s and %(high)s.", low=low, high=high)
        if amount != amount.quantize(Decimal(1).scaleb(-places)):
            return _("Use at most %(n)d decimals.", n=places)
        return _('Must be a decimal number in a string, e.g. "12.50".')

    regex = decimal_pattern(high, places, positive=Decimal(low) > 0)
    return Annotated[
        str,
        StringConstraints(max_length=25, pattern=regex),
        explained(explain),
        AfterValidator(Decimal),
        KEEP_VALUE,
        Field(**field),
    ]


# ---------------------------------------------------------------------------
# Moments: ISO 8601 with a time zone, read as an aware datetime in UTC

# Years 2 to 9998: any time of them, with any offset, is a time of years 1 to 9999 in UTC.
_YEAR = (
    r"(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
)
_MOMENT = (
    rf"{_YEAR}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}(?::[0-9]{{2}}(?:[.,][0-9]{{1,9}})?)?"
)
_ZONE = r"(?:Z|[+-][0-9]{2}:?[0-9]{2})"
WITHOUT_ZONE = re.compile(_MOMENT.replace(_YEAR, "[0-9]{4}"))


def _explain_moment(value: Any) -> str:
    if isinstance(value, str) and WITHOUT_ZONE.fullmatch(value):
        return _("Give a time zone (e.g. Z).")
    return _("Not in the expected format.")


def _in_utc(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:  # a day or hour that does not exist
        raise refused(_("Not in the expected format.")) from None


def moment(**field: Any) -> Any:
    """A time with its zone ("2026-11-27T10:00:00Z"); a time without a zone is refused
    rather than guessed."""
    return Annotated[
        str,
        StringConstraints(max_length=40, pattern=f"^{_MOMENT}{_ZONE}$"),
        explained(_explain_moment),
        AfterValidator(_in_utc),
        KEEP_VALUE,
        Field(json_schema_extra={"format": "date-time"}, **field),
    ]


# ---------------------------------------------------------------------------
# Query parameters arrive as text: whole numbers and booleans are read before validation

QUERY_INTEGER = re.compile(r"-?[0-9]{1,15}")


def _read_integer(value: Any) -> Any:
    return int(value) if isinstance(value, str) and QUERY_INTEGER.fullmatch(value) else value


def _read_boolean(value: Any) -> Any:
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


QueryBoolean = Annotated[bool, BeforeValidator(_read_boolean)]
QueryDays = Annotated[
    int,
    Field(ge=1, le=3650, description="Days: organizations whose forecast runs out within them"),
    BeforeValidator(_read_integer),
]
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
Cursor = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1000, pattern=CURSOR_PATTERN),
    explain_pattern(lambda _value: _("This page link is not valid.")),
    Field(description="next_cursor of the previous page (URL-safe base64, no padding)"),
]
Limit = Annotated[
    int, Field(ge=1, le=100, description="Default 50"), BeforeValidator(_read_integer)
]


class NoQuery(ApiModel):
    """No query parameters (any one sent is refused)."""


class ListQuery(ApiModel):
    limit: Limit = 50
    cursor: Cursor = None


# ---------------------------------------------------------------------------
# From pydantic's errors to the API's field messages


def field_path(loc: tuple[str | int, ...]) -> str:
    """``("prices", 0, "currency")`` → ``prices[0].currency``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path = f"{path}[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _bound(ctx: Mapping[str, Any]) -> str:
    if ctx["ge"] == 1:
        return _("Must be a positive whole number.")
    return _("Must be at least %(n)d.", n=ctx["ge"])


MESSAGES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "refused": lambda ctx: ctx["message"],
    "missing": lambda ctx: _("This field is required."),
    "string_type": lambda ctx: _("Must be text."),
    "string_unicode": lambda ctx: _("Contains characters that are not allowed."),
    "string_too_short": lambda ctx: _("This field is required."),
    "string_too_long": lambda ctx: _("Use at most %(n)d characters.", n=ctx["max_length"]),
    "int_type": lambda ctx: _("Must be a whole number."),
    "greater_than_equal": _bound,
    "less_than_equal": lambda ctx: _("Must be at most %(n)d.", n=ctx["le"]),
    "bool_type": lambda ctx: _("Must be true or false."),
    "list_type": lambda ctx: _("Must be a list."),
    "too_long": lambda ctx: _("Use at most %(n)d items.", n=ctx["max_length"]),
    "model_type": lambda ctx: _("Must be a JSON object."),
}


def _message(error: Mapping[str, Any], unknown: str) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return unknown
    if kind != "missing" and error["input"] is None:
        return _("Must not be null.")
    explain = MESSAGES.get(kind)
    return explain(error.get("ctx") or {}) if explain else _("Not in the expected format.")


def field_errors(error: ValidationError, *, unknown: str, root: str = "body") -> dict[str, str]:
    """``{path: message}`` for every refused field, the first message of each path."""
    fields: dict[str, str] = {}
    for item in error.errors():
        fields.setdefault(field_path(item["loc"]) or root, _message(item, unknown))
    return fields


def validate_body(model: type[Model], data: Any) -> Model:
    """The validated body, or ValidationFailed with every field's message."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(fields=field_errors(error, unknown=_("Unknown field."))) from None


def validate_query(model: type[Model], args: Any) -> Model:
    """Query parameters: known names only, each given once, read by its type."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key in args:
        given = args.getlist(key)
        if len(given) > 1:
            errors[key] = _("Give this parameter once.")
        else:
            values[key] = given[0]
    try:
        result = model.model_validate(values)
    except ValidationError as error:
        errors.update(field_errors(error, unknown=_("Unknown parameter."), root="query"))
    if errors:
        raise ValidationFailed(fields=errors)
    return result
