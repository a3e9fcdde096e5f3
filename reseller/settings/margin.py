"""Reseller settings: the margin report (SPEC §4b) — a month's credits sold, revenue net of
tax, cost from the wholesale pool, margin and margin % per customer and currency, a bar
chart of the margin per customer drawn on the server, the CSV, and the month's rates that
convert revenue in other currencies to the lots' currency.

The platform's page of a reseller's margin report (reseller.platform.margin) uses the same
page parts and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField, SubmitField

from reseller.settings.blueprint import bp
from tenants.access.policy import Permission
from tenants.core.errors import ValidationFailed
from tenants.core.validation import currency_choices
from tenants.credits.export import attachment, csv_cell
from tenants.jobs.outbox import commit, rollback
from tenants.web.decorators import actor_required, current_reseller, the_actor
from tenants.web.forms import Form, parse_amount, show_service_errors
from tenants.web.locale import select_locale
from tenants.wholesale import operations as wholesale
from tenants.wholesale.margin import (
    MarginReport,
    chart_bars,
    clean_period,
    current_period,
    margin_report,
)


class MarginRateForm(Form):
    period = HiddenField()
    currency = SelectField(_l("Currency"), validate_choice=False)
    rate = StringField(
        _l("Rate to the lots' currency"),
        description=_l(
            "How much 1 unit of the currency is worth in the lots' currency this "
            "month, e.g. 0.92. Leave it empty to clear the month's rate."
        ),
    )
    submit = SubmitField(_l("Save rate"))


def read_period(value: str | None) -> tuple[str, dict[str, str]]:
    """The month asked for (the current one when none) and the refusal of a bad one."""
    if value is None or value == "":
        return current_period(), {}
    try:
        return clean_period(value), {}
    except ValidationFailed as error:
        return current_period(), dict(error.fields or {})


def report_context(reseller_id: str, period: str, errors: dict[str, str]) -> dict:
    """What the margin page parts show (templates/reseller_settings/_margin.html)."""
    report = None if errors else margin_report(reseller_id, period)
    return {
        "period": period,
        "period_errors": errors,
        "report": report,
        "bars": chart_bars(report) if report else [],
    }


def _rate_form(report: MarginReport | None, period: str, formdata=None) -> MarginRateForm:
    form = MarginRateForm(formdata=formdata, period=period)
    codes = dict(currency_choices(str(select_locale())))
    wanted = report.currencies if report else []
    choices = [(code, codes.get(code, code)) for code in wanted]
    if not choices:
        base = report.cost_currency if report else ""
        choices = [(code, label) for code, label in codes.items() if code != base]
    form.currency.choices = choices
    return form


def _page(form: MarginRateForm | None = None, period: str | None = None, status: int = 200):
    reseller = current_reseller()[1]
    period, errors = (period, {}) if period else read_period(request.args.get("period"))
    context = report_context(reseller.id, period, errors)
    form = form or _rate_form(context["report"], period)
    if form.currency.choices is None:
        form.currency.choices = _rate_form(context["report"], period).currency.choices
    return (
        render_template(
            "reseller_settings/margin.html",
            form=form,
            csv_url=url_for("reseller_settings.margin_csv", period=period),
            active_tab="margin",
            **context,
        ),
        422 if errors else status,
    )


@bp.route("/margin")
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def margin_page():
    return _page()


@bp.route("/margin/rates", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def save_margin_rate():
    reseller = current_reseller()[1]
    form = MarginRateForm()
    period, errors = read_period(form.period.data)
    if errors:  # a forged month: said, and the current month shown
        for message in errors.values():
            flash(message, "danger")
        return _page(period=period, status=422)
    form.currency.choices = _rate_form(margin_report(reseller.id, period), period).currency.choices
    if not form.validate_on_submit():
        return _page(form, period, 422)
    typed = (form.rate.data or "").strip()
    try:
        rate = None if typed == "" else parse_amount(typed, "rate", 4)
        wholesale.set_margin_rate(
            the_actor(), reseller, period=period, currency=form.currency.data, rate=rate
        )
    except ValidationFailed as error:
        rollback()
        show_service_errors(form, error)
        return _page(form, period, 422)
    commit()
    if rate is None:
        flash(_("The rate was cleared."), "success")
    else:
        flash(_("The rate was saved."), "success")
    return redirect(url_for("reseller_settings.margin_page", period=period))


@bp.route("/margin.csv")
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def margin_csv():
    reseller = current_reseller()[1]
    period, errors = read_period(request.args.get("period"))
    if errors:
        return _page(period=None, status=422)
    return margin_csv_response(margin_report(reseller.id, period))


# -- the CSV ---------------------------------------------------------------------------------


def _csv_rows(report: MarginReport) -> Iterator[list]:
    yes, no = _("yes"), _("no")

    def text(value) -> str:
        return "" if value is None else format(value, "f")

    yield [
        _("Organization"),
        _("Organization ID"),
        _("Currency"),
        _("Credits sold"),
        _("Revenue (net of tax)"),
        _("Cost"),
        _("Cost currency"),
        _("Rate"),
        _("Margin"),
        _("Margin percent"),
        _("Converted"),
    ]
    for row in report.rows:
        yield [
            row.organization_name,
            row.organization_id,
            row.currency,
            row.credits,
            text(row.revenue),
            text(row.cost),
            row.cost_currency,
            text(row.rate),
            text(row.margin),
            text(row.margin_percent),
            yes if row.converted else no,
        ]
    for total in report.totals:
        yield [
            _("Total"),
            "",
            total.currency,
            total.credits,
            text(total.revenue),
            text(total.cost),
            total.cost_currency,
            "",
            text(total.margin),
            "",
            yes if total.converted else no,
        ]


def margin_csv_response(report: MarginReport, name: str = "") -> Response:
    """The report as a streamed CSV download (UTF-8 with its mark, text cells guarded
    against spreadsheet formulas, as the other CSVs): one line per row, then the totals."""
    rows = _csv_rows(report)
    filename = f"{_('margin')}-{name + '-' if name else ''}{report.period}.csv"

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        for row in rows:
            writer.writerow([csv_cell(cell) for cell in row])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": attachment(filename), "Cache-Control": "private, no-store"},
    )
