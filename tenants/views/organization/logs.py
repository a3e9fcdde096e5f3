"""An organization's Logs section: a prepaid one's is the credits log (last 30 days); a
postpaid one's lists its usage charges, invoices and payments, with filters, CSV and print."""

from __future__ import annotations

import itertools
from datetime import date

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField, SubmitField
from wtforms.validators import Optional

from tenants.access import scoping
from tenants.access.policy import Permission
from tenants.billing import log as postpaid_log
from tenants.credits import export, movements
from tenants.models import Organization, PricingModel
from tenants.views.organization.blueprint import bp
from tenants.views.organization.statements import statement_picker
from tenants.web import browsing
from tenants.web.browsing import LOG_PAGE_SIZE
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import Form
from tenants.web.replica import reads_replica


class PostpaidLogFilterForm(Form):
    class Meta:
        csrf = False

    type = SelectField(_l("Type"), validate_choice=False)
    date_from = DateField(_l("From date"), validators=[Optional()])
    date_to = DateField(_l("To date"), validators=[Optional()])
    q = StringField(_l("Search reference"))
    submit = SubmitField(_l("Filter"))


FILTER_ARGS = ("type", "date_from", "date_to", "q")


def _filters(org: Organization) -> tuple[PostpaidLogFilterForm, dict]:
    """The GET query's filters (days in the organization's timezone); invalid ones show an
    error and are left out."""
    form = PostpaidLogFilterForm(formdata=request.args)
    form.type.choices = [("", _("All types"))] + [
        (t.value, movements.entry_type_label(t)) for t in postpaid_log.POSTPAID_TYPES
    ]
    return form, browsing.form_filters(form, org)


def _filter_args() -> dict:
    return {k: v for k, v in request.args.items() if k in FILTER_ARGS and v}


@bp.route("/<org_id>/logs")
@actor_required(Permission.VIEW_ORGANIZATION)
@reads_replica
def logs(org_id: str):
    """Prepaid: the last 30 days log of credits. Postpaid: charges, invoices and payments."""
    actor, org = organization_for_view(org_id)
    if org.pricing_model == PricingModel.PREPAID:
        return redirect(url_for("credits.log", org_id=org.id))
    form, filters = _filters(org)
    query = postpaid_log.postpaid_log_query(actor, org, **filters)
    page = browsing.requested_page(query, LOG_PAGE_SIZE)
    args = _filter_args()
    return render_template(
        "organization/logs.html",
        org=org,
        form=form,
        page=page,
        links=browsing.page_links(".logs", page, keys=FILTER_ARGS, org_id=org.id),
        names=movements.entry_names(page.entries, org),
        dated="since" in filters or "until" in filters,
        filtered=bool(args),
        sees_all=scoping.sees_every_account(actor),
        csv_url=url_for(".logs_csv", org_id=org.id, **args),
        print_url=url_for(".logs_print", org_id=org.id, **args),
        statement=statement_picker(actor, org),
        active_section="logs",
    )


@bp.route("/<org_id>/logs.csv")
@actor_required(Permission.VIEW_ORGANIZATION)
@reads_replica
def logs_csv(org_id: str):
    actor, org = organization_for_view(org_id)
    if org.pricing_model == PricingModel.PREPAID:
        return redirect(url_for("credits.log_csv", org_id=org.id))
    _form, filters = _filters(org)
    rows = postpaid_log.postpaid_log_rows(actor, org, **filters)
    # TRANSLATORS: the start of a CSV file's name: lowercase, hyphens, no accents.
    name = _("postpaid-log")
    return export.movements_csv_response(rows, f"{name}-{org.id}-{date.today().isoformat()}.csv")


@bp.route("/<org_id>/logs/print")
@actor_required(Permission.VIEW_ORGANIZATION)
@reads_replica
def logs_print(org_id: str):
    actor, org = organization_for_view(org_id)
    if org.pricing_model == PricingModel.PREPAID:
        return redirect(url_for("credits.log_print", org_id=org.id))
    form, filters = _filters(org)
    rows = list(
        itertools.islice(
            postpaid_log.postpaid_log_rows(actor, org, **filters), export.PRINT_LIMIT + 1
        )
    )
    return render_template(
        "organization/logs_print.html",
        org=org,
        postpaid=True,
        rows=rows[: export.PRINT_LIMIT],
        truncated=len(rows) > export.PRINT_LIMIT,
        limit=export.PRINT_LIMIT,
        since=None if "since" in filters or "until" in filters else movements.last_days(),
        date_from=form.date_from.data if "since" in filters else None,
        date_to=form.date_to.data if "until" in filters else None,
        back_url=url_for(".logs", org_id=org.id, **_filter_args()),
        row_labels=export.RowLabels(),
    )
