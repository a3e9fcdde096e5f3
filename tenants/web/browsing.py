"""The movement lists as the portal shows them: typed filters, the page a link asks for, and
the links to the pages around it.

Shared by the organization's credits pages (tenants.views.credits) and the reseller-wide log
(reseller.credits), which may not import tenants.views; it reads the request, so it is part
of the web kit.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import flash, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Select

from tenants.core.errors import ValidationFailed
from tenants.credits.movements import MovementPage, page_of
from tenants.models import EntryType, Organization

LOG_PAGE_SIZE = 100


def form_filters(form, org: Organization | None) -> dict:
    """The form's valid filters as service arguments; invalid ones show an error and are
    left out."""
    form.validate()
    filters: dict = {}
    if form.type.data in {t.value for t in EntryType}:
        filters["types"] = [form.type.data]
    account = getattr(form, "account", None)  # the reseller-wide log has none
    if account is not None and account.data:
        filters["account"] = account.data
    zone = ZoneInfo(org.timezone) if org is not None else ZoneInfo("UTC")
    low, high = date(1970, 1, 1), date(9998, 12, 31)
    for name in ("date_from", "date_to"):
        field = getattr(form, name)
        if field.data is not None and not low <= field.data <= high:
            field.errors = [*field.errors, _("Enter a date between 1970 and 9998.")]
            field.data = None
    if form.date_from.data and form.date_to.data and form.date_from.data > form.date_to.data:
        form.date_to.errors = [*form.date_to.errors, _("The end date is before the start date.")]
        form.date_to.data = None
    if form.date_from.data:
        filters["since"] = datetime.combine(form.date_from.data, time(), tzinfo=zone)
    if form.date_to.data:
        filters["until"] = datetime.combine(
            form.date_to.data + timedelta(days=1), time(), tzinfo=zone
        )
    if form.q.data and form.q.data.strip() and not form.q.errors:
        filters["q"] = form.q.data.strip()[:100]
    return filters


def requested_page(query: Select, limit: int) -> MovementPage:
    """The page the link's cursor asks for; the newest one (and a warning) for a stale link."""
    try:
        return page_of(query, limit=limit, cursor=request.args.get("cursor") or None)
    except ValidationFailed:
        flash(_("That page link is no longer valid; showing the newest movements."), "warning")
        return page_of(query, limit=limit)


FILTER_ARGS = ("type", "account", "date_from", "date_to", "q")


def page_links(
    endpoint: str, page: MovementPage, keys: tuple[str, ...] = FILTER_ARGS, **values
) -> dict:
    """The older and newer page's links, keeping the filters named in ``keys``."""
    args = {k: v for k, v in request.args.items() if k in keys and v}
    args.update(values)
    return {
        "older": url_for(endpoint, **args, cursor=page.older_cursor) if page.older_cursor else None,
        "newer": url_for(endpoint, **args, cursor=page.newer_cursor) if page.newer_cursor else None,
    }
