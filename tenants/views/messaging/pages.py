"""Send SMS (form → confirmation → result) and the history of messages."""

from __future__ import annotations

import csv
import io

from flask import Response, redirect, render_template, request, stream_with_context, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _

from tenants.access import campaign_scoping, message_scoping
from tenants.access.policy import Permission, can
from tenants.core import paging
from tenants.core.errors import DomainError
from tenants.core.extensions import db
from tenants.core.types import new_id
from tenants.credits.accounts import account_lines
from tenants.credits.export import attachment, csv_cell
from tenants.jobs.outbox import commit, rollback
from tenants.messaging import history
from tenants.messaging import operations as messaging
from tenants.messaging.segments import LIMITS, alphabet
from tenants.models import Campaign, PricingModel
from tenants.views.messaging.forms import HistoryFilter, SendForm
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import show_service_errors
from tenants.web.templating import datetime_in

SECTION = "messages"
CAMPAIGN_CHOICES = 200


def _accounts(actor, org) -> list[tuple[str, str]]:
    """The accounts the sender may charge (prepaid): the pool, or with individual user credits
    the member accounts the actor sees (a plain member: their own)."""
    if org.pricing_model != PricingModel.PREPAID:
        return []
    lines = [
        line
        for line in account_lines(actor, org)
        if line.is_system != bool(org.individual_user_credits)
    ]
    return [(line.value, f"{line.label} ({format_decimal(line.credits)})") for line in lines]


def _counter() -> dict:
    basic, extended = alphabet()
    return {
        "basic": basic,
        "extended": extended,
        "limits": {name: list(limit) for name, limit in LIMITS.items()},
    }


def _campaign_choices(actor, org) -> list:
    """The history's campaign filter: the campaigns the actor may see, newest first (none
    for a plain member, who does not see campaigns)."""
    if not can(actor, Permission.MANAGE_CAMPAIGNS):
        return []
    rows = db.session.execute(
        campaign_scoping.campaigns_query(actor, org)
        .with_only_columns(Campaign.id, Campaign.name)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .limit(CAMPAIGN_CHOICES)
    ).all()
    return [("", _("Any campaign")), *((row.id, row.name) for row in rows)]


@actor_required(Permission.SEND_MESSAGES)
def send(org_id: str):
    actor, org = organization_for_view(org_id)
    form = SendForm()
    accounts = _accounts(actor, org)
    form.account.choices = accounts
    if request.method == "GET" and not form.sender.data:
        form.sender.data = org.sender_name or ""
    draft = None
    if form.validate_on_submit() and not form.edit.data:
        given = {
            "to": form.recipients.data,
            "text": form.text.data,
            "sender": form.sender.data,
            "account": form.account.data if accounts else None,
        }
        try:
            if form.confirm.data:
                sent = messaging.send_message(
                    actor, org, **given, request_key=form.request_key.data or None
                )
                commit()
                return redirect(url_for(".detail", org_id=org.id, message_id=sent.message.id))
            draft = messaging.prepare_message(actor, org, **given)
            form.request_key.data = new_id("req")
        except DomainError as error:
            rollback()
            show_service_errors(form, error)
            draft = None
    return render_template(
        "messaging/send.html",
        org=org,
        form=form,
        draft=draft,
        choose_account=len(accounts) > 1,
        counter=_counter(),
        active_section=SECTION,
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def index(org_id: str):
    actor, org = organization_for_view(org_id)
    filters = HistoryFilter(request.args)
    filters.status.choices = [("", _("Any status"))] + [
        (status.value, label) for status, label in history.status_labels().items()
    ]
    filters.campaign_id.choices = _campaign_choices(actor, org)
    status = request.args.get("status") or None
    try:
        history.clean_status(status)
    except DomainError:
        status = None
    campaign_id = request.args.get("campaign_id") or None  # one the actor cannot see: 404
    page = history.message_page(
        actor,
        org,
        status=status,
        campaign_id=campaign_id,
        cursor=request.args.get("cursor") or None,
        on_invalid=paging.page_not_found,
    )
    counts = history.recipient_counts([m.id for m in page.items])
    return render_template(
        "messaging/index.html",
        org=org,
        filters=filters,
        status=status,
        campaign_id=campaign_id,
        page=page,
        counts=counts,
        labels=history.status_labels(),
        recipient_labels=history.recipient_labels(),
        active_section=SECTION,
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def detail(org_id: str, message_id: str):
    actor, org = organization_for_view(org_id)
    message = message_scoping.get_message(actor, org, message_id)
    return render_template(
        "messaging/detail.html",
        org=org,
        message=message,
        counts=history.recipient_counts([message.id])[message.id],
        recipients=history.recipients_of(message),
        labels=history.status_labels(),
        recipient_labels=history.recipient_labels(),
        active_section=SECTION,
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def history_csv(org_id: str):
    actor, org = organization_for_view(org_id)
    status = request.args.get("status") or None
    history.clean_status(status)  # an unknown status is refused (422) before the download
    # …and a campaign the actor cannot see is a 404, before it too.
    rows = history.csv_rows(
        actor, org, status=status, campaign_id=request.args.get("campaign_id") or None
    )
    headers = [
        _("Date"),
        _("Status"),
        _("Recipients"),
        _("Opted out"),
        _("Segments"),
        _("Credits"),
        _("Refunded"),
        _("Sender"),
        _("Message"),
    ]
    zone = org.timezone or "UTC"
    labels = history.status_labels()
    filename = _("messages") + ".csv"

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(headers)
        for message in rows:
            writer.writerow(
                [
                    csv_cell(c)
                    for c in (
                        datetime_in(message.created_at, zone),
                        labels[message.status],
                        message.recipients,
                        message.skipped,
                        message.segments,
                        message.credits,
                        message.refunded,
                        message.sender or "",
                        message.text,
                    )
                ]
            )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": attachment(filename), "Cache-Control": "private, no-store"},
    )
