"""The last 30 days log of an organization: page, CSV, print."""

from __future__ import annotations

import itertools
from datetime import date

from flask import render_template, request, url_for
from flask_babel import gettext as _

from tenants.access.actors import Actor
from tenants.access.policy import Permission
from tenants.credits import export, export_rows, movements
from tenants.credits.accounts import account_name
from tenants.models import Organization
from tenants.views.organization.statements import statement_picker
from tenants.web import browsing
from tenants.web.browsing import LOG_PAGE_SIZE
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.replica import reads_replica


def _log_filters(actor: Actor, org: Organization) -> dict:
    filters = {"since": movements.last_days()}
    account = request.args.get("account")
    if account:
        filters["account"] = account
    return filters


@actor_required(Permission.VIEW_ORGANIZATION)
@reads_replica
def log(org_id: str):
    actor, org = organization_for_view(org_id)
    filters = _log_filters(actor, org)
    page = browsing.requested_page(movements.movements_query(actor, org, **filters), LOG_PAGE_SIZE)
    return render_template(
        "credits/log.html",
        org=org,
        page=page,
        links=browsing.page_links(".log", page, org_id=org.id),
        names=movements.entry_names(page.entries, org),
        account=filters.get("account"),
        account_name=account_name(org, filters["account"]) if "account" in filters else None,
        csv_url=url_for(".log_csv", org_id=org.id, account=filters.get("account")),
        print_url=url_for(".log_print", org_id=org.id, account=filters.get("account")),
        statement=statement_picker(actor, org),
        active_section="logs",
    )


@actor_required(Permission.VIEW_ORGANIZATION)
@reads_replica
def log_csv(org_id: str):
    actor, org = organization_for_view(org_id)
    rows = export_rows.iter_organization_rows(actor, org, **_log_filters(actor, org))
    # The file's name is the reader's language too (SPEC §6).
    name = _("credits-log-%(organization)s-%(date)s.csv", organization=org.id, date=date.today())
    return export.movements_csv_response(rows, name)


@actor_required(Permission.VIEW_ORGANIZATION)
@reads_replica
def log_print(org_id: str):
    actor, org = organization_for_view(org_id)
    filters = _log_filters(actor, org)
    rows = list(
        itertools.islice(
            export_rows.iter_organization_rows(actor, org, **filters), export.PRINT_LIMIT + 1
        )
    )
    return render_template(
        "credits/log_print.html",
        org=org,
        rows=rows[: export.PRINT_LIMIT],
        truncated=len(rows) > export.PRINT_LIMIT,
        limit=export.PRINT_LIMIT,
        since=filters["since"],
        account_name=account_name(org, filters["account"]) if "account" in filters else None,
        back_url=url_for(".log", org_id=org.id, account=filters.get("account")),
        row_labels=export.RowLabels(),
    )
