"""Running a service's field checks together, so every field error is reported at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenants.core.errors import ValidationFailed


def collect_field_errors(checks: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run every check; return each one's value by name, or raise one ValidationFailed
    holding the field errors of all the checks that failed."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, check in checks.items():
        try:
            values[name] = check()
        except ValidationFailed as error:
            errors.update(error.fields)
    if errors:
        raise ValidationFailed(fields=errors)
    return values
