"""Platform administration: the last monthly invoice runs, with counts and progress."""

from __future__ import annotations

from flask import render_template

from reseller.platform.blueprint import bp
from tenants.access.policy import Permission
from tenants.billing import monthly_run
from tenants.web.decorators import actor_required


@bp.route("/billing-runs")
@actor_required(Permission.MANAGE_PLATFORM)
def billing_runs():
    return render_template("platform/billing_runs.html", runs=monthly_run.recent_runs(50))
