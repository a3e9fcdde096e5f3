"""Every form of the portal is a ``tenants.web.forms.Form``: the one text rule and the 422 of
a refused form reach it without anything to remember."""

from __future__ import annotations

import importlib
import pkgutil

from flask_wtf import FlaskForm

import reseller
import tenants
from tenants.web.forms import Form


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def all_form_classes() -> list[type]:
    """Every FlaskForm subclass defined in tenants/ and reseller/ (each module imported)."""
    for package in (tenants, reseller):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    return sorted(
        (c for c in _subclasses(FlaskForm) if c.__module__.startswith(("tenants.", "reseller."))),
        key=lambda c: (c.__module__, c.__name__),
    )


def test_every_form_subclasses_the_portal_form():
    forms = all_form_classes()
    assert len(forms) > 40
    strays = [f"{c.__module__}.{c.__name__}" for c in forms if not issubclass(c, Form)]
    assert strays == []
