"""The reseller's 30-day log across all its customers: page, print, CSV."""

from __future__ import annotations

import itertools
from datetime import date

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField, SubmitField
from wtforms.validators import Optional

from tenants.access.actors import Actor
from tenants.access.policy import Permission
from tenants.credits import export, movements
from tenants.credits.reseller_log import LogFilters, iter_reseller_log_rows, reseller_log_query
from tenants.models import EntryType
from tenants.web import browsing
from tenants.web.browsing import LOG_PAGE_SIZE
from tenants.web.decorators import actor_required, the_actor
from tenants.web.forms import Form
from tenants.web.replica import reads_replica


def _reseller_actor() -> Actor:
    actor = the_actor()
    if not actor.is_reseller_staff:
        abort(403)
    return actor


class ResellerLogFilterForm(Form):
    class Meta:
        csrf = False

    organization = StringField(
        _l("Organization"), description=_l("Its name, part of it, or its id.")
    )
    person = StringField(_l("Done by"), description=_l("An email, or part of a name."))
    type = SelectField(_l("Type"), validate_choice=False)
    date_from = DateField(_l("From date"), validators=[Optional()])
    date_to = DateField(_l("To date"), validators=[Optional()])
    q = StringField(_l("Search reference"))
    submit = SubmitField(_l("Filter"))


RESELLER_LOG_ARGS = ("organization", "person", "type", "date_from", "date_to", "q")


def _typed(field) -> str | None:
    """A text filter as typed (refused text, shown as the field's error, is left out)."""
    return None if field.errors else (field.data or "").strip()[:100] or None


def _reseller_log_filters() -> tuple[ResellerLogFilterForm, LogFilters]:
    """The GET query's filters (days in UTC: the rows mix timezones); invalid ones show an
    error and are left out."""
    form = ResellerLogFilterForm(formdata=request.args)
    form.type.choices = [("", _("All types"))] + [
        (value.value, str(label)) for value, label in movements.ENTRY_TYPE_LABELS.items()
    ]
    # The type and the dates, checked as on the other logs.
    dated = browsing.form_filters(form, None)
    filters = LogFilters(
        organization=_typed(form.organization),
        person=_typed(form.person),
        types=tuple(EntryType(t) for t in dated.get("types", ())),
        since=dated.get("since"),
        until=dated.get("until"),
        q=dated.get("q"),
    )
    return form, filters


def _reseller_log_args() -> dict:
    return {k: v for k, v in request.args.items() if k in RESELLER_LOG_ARGS and v}


@actor_required(Permission.USE_CUSTOMER_APP)
@reads_replica
def reseller_log():
    actor = _reseller_actor()
    form, filters = _reseller_log_filters()
    page = browsing.requested_page(reseller_log_query(actor, filters), LOG_PAGE_SIZE)
    return render_template(
        "credits/reseller_log.html",
        page=page,
        links=browsing.page_links(".reseller_log", page, keys=RESELLER_LOG_ARGS),
        names=movements.entry_names(page.entries),
        form=form,
        filtered=filters.active,
        filter_args=_reseller_log_args(),
    )


@actor_required(Permission.USE_CUSTOMER_APP)
@reads_replica
def reseller_log_print():
    actor = _reseller_actor()
    _form, filters = _reseller_log_filters()
    rows = list(itertools.islice(iter_reseller_log_rows(actor, filters), export.PRINT_LIMIT + 1))
    return render_template(
        "credits/reseller_log_print.html",
        show_org=True,
        rows=rows[: export.PRINT_LIMIT],
        truncated=len(rows) > export.PRINT_LIMIT,
        limit=export.PRINT_LIMIT,
        back_url=url_for(".reseller_log", **_reseller_log_args()),
        row_labels=export.RowLabels(),
    )


@actor_required(Permission.USE_CUSTOMER_APP)
@reads_replica
def reseller_log_csv():
    actor = _reseller_actor()
    _form, filters = _reseller_log_filters()
    rows = iter_reseller_log_rows(actor, filters)
    name = _("credits-log-all-customers-%(date)s.csv", date=date.today())
    return export.movements_csv_response(rows, name, with_organization=True)
