"""Background jobs and SMS notifications for platform admins: failed jobs (retry), SMS log."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from reseller.platform.blueprint import bp
from tenants.access.policy import Permission
from tenants.core.extensions import db
from tenants.core.types import is_record_id
from tenants.jobs import worker
from tenants.models import Organization, SmsMessage
from tenants.web.decorators import actor_required
from tenants.web.forms import Form

SMS_PAGE = 100


class RetryForm(Form):
    """CSRF only: the job id is in the URL."""


@bp.route("/jobs")
@actor_required(Permission.MANAGE_PLATFORM)
def failed_jobs():
    return render_template("platform/jobs.html", jobs=worker.failed_jobs(), form=RetryForm())


@bp.route("/jobs/<job_id>/retry", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def retry_job(job_id: str):
    form = RetryForm()
    if not form.validate_on_submit():
        abort(400)
    if len(job_id) > 40 or not worker.retry_job(job_id):
        abort(404)
    flash(_("The job was queued again."), "success")
    return redirect(url_for("platform.failed_jobs"))


@bp.route("/sms")
@actor_required(Permission.MANAGE_PLATFORM)
def sms_log():
    """SMS notifications handed to the gateway, newest first (keyset pages by id)."""
    query = select(SmsMessage, Organization.name).outerjoin(
        Organization, Organization.id == SmsMessage.organization_id
    )
    before = request.args.get("before", "")
    if is_record_id(before):  # anything else is no page of this list: the first page
        query = query.where(SmsMessage.id < before)
    rows = db.session.execute(query.order_by(SmsMessage.id.desc()).limit(SMS_PAGE + 1)).all()
    more = len(rows) > SMS_PAGE
    rows = rows[:SMS_PAGE]
    return render_template(
        "platform/sms.html",
        rows=rows,
        next_before=rows[-1][0].id if more and rows else None,
    )
