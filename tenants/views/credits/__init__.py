"""Prepaid credits in the portal: balances and history, purchases with receipts, transfers,
withdrawals, a test SMS, the last 30 days log (page, CSV, print) and the reseller-wide log.

Retrying a declined card starts a new purchase (the "Try another card" button): a declined
purchase stays declined for the record, and every pay POST is tied to one pending purchase,
so no double submit of any page can charge or credit twice.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_decimal, format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
)
from wtforms.validators import Optional

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, WhileActing, can, refused_while_acting, require
from tenants.core.errors import (
    DomainError,
    Forbidden,
    InsufficientCredits,
    NotFound,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import round_money
from tenants.credits import movements, purchases, topups, trial_sms
from tenants.credits import operations as credits
from tenants.credits.payments import provider_for
from tenants.credits.reseller_log import LogFilters, iter_reseller_log_rows, reseller_log_query
from tenants.invoices import documents as invoices
from tenants.jobs.outbox import commit, rollback
from tenants.models import (
    AccountKind,
    EntryType,
    Invoice,
    Member,
    Organization,
    Purchase,
    PurchaseStatus,
    User,
)
from tenants.web.decorators import actor_required, apply_field_errors, the_actor
from tenants.web.locale import use_organization_timezone

bp = Blueprint("credits", __name__, url_prefix="/organizations/<org_id>/credits")
reseller_bp = Blueprint("reseller_credits", __name__, url_prefix="/credits")

PAGE_SIZE = 50
LOG_PAGE_SIZE = 100
PRINT_LIMIT = 5000
CSV_FLUSH_ROWS = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------------------
# Forms


class PurchaseForm(FlaskForm):
    account = SelectField(_l("Purchase for"), validate_choice=False)
    credits = StringField(_l("Quantity (credits)"))
    submit = SubmitField(_l("Proceed"))


class ConfirmPurchaseForm(FlaskForm):
    account = HiddenField()
    credits = HiddenField()
    payment_method = SelectField(_l("Payment method"), validate_choice=False)
    submit = SubmitField(_l("Continue to payment"))


class CardForm(FlaskForm):
    card_number = StringField(
        _l("Card number"),
        description=_l(
            "Test payments: any card number is approved except 4000 0000 0000 0002, "
            "which is declined."
        ),
        render_kw={"autocomplete": "cc-number", "inputmode": "numeric"},
    )
    card_name = StringField(_l("Name on card"), render_kw={"autocomplete": "cc-name"})
    expiry = StringField(
        _l("Expiry (MM/YY)"), render_kw={"autocomplete": "cc-exp", "placeholder": "MM/YY"}
    )
    cvc = StringField(_l("CVC"), render_kw={"autocomplete": "cc-csc", "inputmode": "numeric"})
    save_card = BooleanField(_l("Save this card for automatic top-ups"))
    submit = SubmitField(_l("Pay now"))


class OfflinePaymentForm(FlaskForm):
    note = StringField(
        _l("Payment note or reference"),
        description=_l("For example the bank transfer reference (optional)."),
    )
    submit = SubmitField(_l("Record payment"))


class ConfirmForm(FlaskForm):
    submit = SubmitField(_l("Try another card"))


class StartAgainForm(FlaskForm):
    submit = SubmitField(_l("Start a new purchase"))


class TransferForm(FlaskForm):
    source = SelectField(_l("From"), validate_choice=False)
    target = SelectField(_l("To"), validate_choice=False)
    credits = StringField(_l("Quantity (credits)"))
    agree = BooleanField(_l("I agree to the conditions"))
    submit = SubmitField(_l("Transfer"))

    paths = {"from": "source", "to": "target", "credits": "credits", "agree": "agree"}


class WithdrawForm(FlaskForm):
    account = SelectField(_l("Account"), validate_choice=False)
    credits = StringField(_l("Quantity (credits)"))
    reason = StringField(_l("Reason"))
    submit = SubmitField(_l("Withdraw credits"))


class TestSmsForm(FlaskForm):
    recipient = TelField(
        _l("Recipient mobile"), description=_l("International format, e.g. +34 600 000 000.")
    )
    message = TextAreaField(
        _l("Message"),
        description=_l("One credit per 160 characters; longer messages are split in parts of 153."),
    )
    account = SelectField(_l("Charge to"), validate_choice=False)
    submit = SubmitField(_l("Send test SMS"))


class FilterForm(FlaskForm):
    class Meta:
        csrf = False

    type = SelectField(_l("Type"), validate_choice=False)
    account = SelectField(_l("Account"), validate_choice=False)
    date_from = DateField(_l("From date"), validators=[Optional()])
    date_to = DateField(_l("To date"), validators=[Optional()])
    q = StringField(_l("Search reference"))
    submit = SubmitField(_l("Filter"))


# ---------------------------------------------------------------------------
# Helpers


@dataclass(frozen=True)
class AccountLine:
    value: str
    label: str
    credits: int
    member_id: str = ""

    @property
    def is_system(self) -> bool:
        return self.value == "system"


def _organization(org_id: str) -> tuple[Actor, Organization]:
    actor = the_actor()
    org = scoping.get_organization(actor, org_id)
    use_organization_timezone(org)
    return actor, org


def _members(actor: Actor, org: Organization) -> list[tuple[str, str]]:
    """(member id, name) of the members whose accounts the actor may see."""
    visible = scoping.members_query(actor, org).with_only_columns(Member.id)
    rows = db.session.execute(
        select(Member.id, User.name)
        .join(User, User.id == Member.user_id)
        .where(Member.id.in_(visible))
        .order_by(User.name, Member.id)
    )
    members = rows.all()
    if not movements.sees_every_account(actor):
        members = [(mid, name) for mid, name in members if mid == actor.member_id]
    return members


def _accounts(actor: Actor, org: Organization) -> list[AccountLine]:
    """The holding accounts the actor may see, with their balances."""
    balance = credits.balance(org)
    lines = []
    if movements.sees_every_account(actor):
        lines.append(AccountLine("system", _("System Credits"), balance.system_credits))
    if org.individual_user_credits:
        held = dict(balance.users)
        for member_id, name in _members(actor, org):
            lines.append(
                AccountLine(
                    f"member:{member_id}",
                    _("User Credits: %(name)s", name=name),
                    held.get(member_id, 0),
                    member_id,
                )
            )
    return lines


def _manageable(accounts: list[AccountLine], actor: Actor) -> list[AccountLine]:
    return [
        line
        for line in accounts
        if credits.can_manage_account(
            actor,
            credits.SYSTEM_ACCOUNT
            if line.is_system
            else credits.AccountRef(AccountKind.MEMBER, line.member_id),
        )
    ]


def _purchasable(accounts: list[AccountLine], actor: Actor) -> list[AccountLine]:
    lines = _manageable(accounts, actor)
    if not can(actor, Permission.MANAGE_CREDITS):
        lines = [line for line in lines if not line.is_system]
    return lines


def _refused(form, error: DomainError, paths: dict | None = None) -> None:
    """Undo the attempt; field errors next to their fields, anything else as a flash."""
    if isinstance(error, NotFound | Forbidden):
        raise error
    rollback()
    paths = paths or getattr(form, "paths", {}) or {}
    placed, unplaced = {}, []
    for key, message in (error.fields or {}).items():
        name = paths.get(key, key)
        if form is not None and getattr(form, name, None) is not None:
            placed[name] = message
        else:
            unplaced.append(message)
    if form is not None:
        apply_field_errors(form, ValidationFailed(fields=placed))
    if unplaced or not error.fields:
        flash(" ".join(unplaced) or str(error), "danger")


def _purchase(actor: Actor, org: Organization, purchase_id: str) -> Purchase:
    """A purchase of this organization the actor may follow, else a 404."""
    if not isinstance(purchase_id, str) or len(purchase_id) > 40:
        raise NotFound()
    query = select(Purchase).where(
        Purchase.id == purchase_id,
        Purchase.organization_id == org.id,
        Purchase.reseller_id == org.reseller_id,
    )
    if not movements.sees_every_account(actor):
        query = query.where(
            or_(
                Purchase.account == f"member:{actor.member_id}",
                Purchase.created_by_user_id == actor.user_id,
            )
        )
    purchase = db.session.scalar(query)
    if purchase is None:
        raise scoping.not_found(actor, Purchase, purchase_id)
    return purchase


def _account_name(org: Organization, label: str) -> str:
    if label == "system":
        return _("System Credits")
    member_id = label.split(":", 1)[-1]
    name = movements.member_names(org).get(member_id, member_id)
    return _("User Credits: %(name)s", name=name)


def _payment_methods(actor: Actor) -> list[tuple[str, str]]:
    methods = [("sandbox", _("Card (test payments)"))]
    if provider_for("offline").allowed_for(actor):
        methods.append(("offline", _("Payment recorded by the reseller (bank transfer, cash)")))
    return methods


def whole_number(value: str | None):
    """Typed credits as an int: plain digits, or digits grouped by thousands ("1,000",
    "1.000", "1 000"); anything else goes to the service as it is, which says what is wrong
    (so "1.5" is refused, not read as 15)."""
    text = (value or "").strip()
    if text == "":
        return 0
    if re.fullmatch(r"\d{1,15}", text) or re.fullmatch(r"\d{1,3}([.,\u00a0\u202f ]\d{3})+", text):
        return int(re.sub(r"\D", "", text))
    return text


def _language() -> str:
    return str(get_locale() or "en")


# ---------------------------------------------------------------------------
# Filters and history


def _filter_form(actor: Actor, org: Organization | None, accounts: list[AccountLine]):
    form = FilterForm(formdata=request.args)
    form.type.choices = [("", _("All types"))] + [
        (value.value, str(label)) for value, label in movements.ENTRY_TYPE_LABELS.items()
    ]
    form.account.choices = [("", _("All accounts"))] + [(a.value, a.label) for a in accounts]
    return form


def _filters(form: FilterForm, org: Organization | None) -> dict:
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
    if form.q.data and form.q.data.strip():
        filters["q"] = form.q.data.strip()[:100]
    return filters


def _page(query, limit: int):
    try:
        return movements.page_of(query, limit=limit, cursor=request.args.get("cursor") or None)
    except ValidationFailed:
        flash(_("That page link is no longer valid; showing the newest movements."), "warning")
        return movements.page_of(query, limit=limit)


FILTER_ARGS = ("type", "account", "date_from", "date_to", "q")


def _page_links(endpoint: str, page, keys: tuple[str, ...] = FILTER_ARGS, **values) -> dict:
    args = {k: v for k, v in request.args.items() if k in keys and v}
    args.update(values)
    return {
        "older": url_for(endpoint, **args, cursor=page.older_cursor) if page.older_cursor else None,
        "newer": url_for(endpoint, **args, cursor=page.newer_cursor) if page.newer_cursor else None,
    }


def _names(entries, org: Organization | None = None) -> dict:
    member_ids = {e.member_id for e in entries if e.member_id}
    org_ids = {e.organization_id for e in entries}
    members = {}
    if member_ids:
        members = dict(
            db.session.execute(
                select(Member.id, User.name)
                .join(User, User.id == Member.user_id)
                .where(Member.id.in_(member_ids))
            ).all()
        )
    orgs, zones = {}, {}
    if org is None and org_ids:
        rows = db.session.execute(
            select(Organization.id, Organization.name, Organization.timezone).where(
                Organization.id.in_(org_ids)
            )
        ).all()
        orgs = {org_id: name for org_id, name, _zone in rows}
        zones = {org_id: zone for org_id, _name, zone in rows}
    users = movements.user_names(
        itertools.chain.from_iterable((e.actor_user_id, e.real_user_id) for e in entries)
    )
    return {"members": members, "users": users, "orgs": orgs, "zones": zones}


# ---------------------------------------------------------------------------
# The credits page


@bp.route("/")
@actor_required(Permission.VIEW_ORGANIZATION)
def index(org_id: str):
    actor, org = _organization(org_id)
    accounts = _accounts(actor, org)
    form = _filter_form(actor, org, accounts)
    filters = _filters(form, org)
    try:
        query = movements.movements_query(actor, org, **filters)
    except ValidationFailed as error:
        apply_field_errors(form, error)
        filters.pop("account", None)
        query = movements.movements_query(actor, org, **filters)
    page = _page(query, PAGE_SIZE)
    return render_template(
        "credits/index.html",
        org=org,
        accounts=accounts,
        total=sum(a.credits for a in accounts),
        form=form,
        page=page,
        links=_page_links(".index", page, org_id=org.id),
        names=_names(page.entries, org),
        series=movements.daily_series(org) if movements.sees_every_account(actor) else None,
        can_manage=can(actor, Permission.MANAGE_CREDITS),
        can_withdraw=can(actor, Permission.WITHDRAW_CREDITS),
        can_buy=bool(_purchasable(accounts, actor)),
        manageable={a.value for a in _manageable(accounts, actor)},
        purchasable={a.value for a in _purchasable(accounts, actor)},
        filtered=bool(filters),
        active_section="payment",
    )


# ---------------------------------------------------------------------------
# Purchase: form → quote and billing → payment → confirmation and receipt


@bp.route("/purchase", methods=["GET", "POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def purchase(org_id: str):
    actor, org = _organization(org_id)
    accounts = _purchasable(_accounts(actor, org), actor)
    if not accounts:
        raise Forbidden()
    form = PurchaseForm()
    form.account.choices = [(a.value, a.label) for a in accounts]
    if request.method == "GET":
        wanted = request.args.get("account")
        if wanted in {a.value for a in accounts}:
            form.account.data = wanted
    if form.validate_on_submit():
        try:
            if form.account.data not in {a.value for a in accounts}:
                raise ValidationFailed(fields={"account": _("Choose an account.")})
            credits.require_prepaid_and_usable(org)
            quote = purchases.quote(org, whole_number(form.credits.data))
        except DomainError as error:
            _refused(form, error)
        else:
            confirm = ConfirmPurchaseForm(formdata=None)
            confirm.account.data = form.account.data
            confirm.credits.data = str(quote.credits)
            confirm.payment_method.choices = _payment_methods(actor)
            return _render_confirm(actor, org, confirm, quote)
    return render_template(
        "credits/purchase.html",
        org=org,
        form=form,
        recent=purchases.recent_purchases(actor, org),
        shown_status=purchases.shown_status,
        pending_period=format_timedelta(purchases.pending_max_age(), threshold=1),
        account_names={a.value: a.label for a in _accounts(actor, org)},
        active_section="payment",
    )


def _render_confirm(actor: Actor, org: Organization, form: ConfirmPurchaseForm, quote):
    return render_template(
        "credits/purchase_confirm.html",
        org=org,
        form=form,
        quote=quote,
        account_name=_account_name(org, form.account.data),
        billing=invoices.billing_snapshot(org),
        can_edit_billing=can(actor, Permission.EDIT_ORGANIZATION_SETTINGS),
        active_section="payment",
    )


@bp.route("/purchase/confirm", methods=["POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def confirm_purchase(org_id: str):
    actor, org = _organization(org_id)
    if not _purchasable(_accounts(actor, org), actor):
        raise Forbidden()  # e.g. platform staff: they see the organization, never buy
    form = ConfirmPurchaseForm()
    form.payment_method.choices = _payment_methods(actor)
    if form.validate_on_submit():
        try:
            new = purchases.start_purchase(
                actor,
                org,
                credit_count=whole_number(form.credits.data),
                account=form.account.data,
                payment_method=form.payment_method.data,
                language=_language(),
                reuse_pending=True,  # a double click continues the same purchase
            )
        except DomainError as error:
            _refused(None, error)
        else:
            commit()
            return redirect(url_for(".pay", org_id=org.id, purchase_id=new.id))
    # Back to the first step with what was chosen (the quote may have changed).
    flash(_("Please check the purchase again."), "warning")
    return redirect(url_for(".purchase", org_id=org.id, account=form.account.data or None))


@bp.route("/purchases/<purchase_id>/pay", methods=["GET", "POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def pay(org_id: str, purchase_id: str):
    actor, org = _organization(org_id)
    purchase = _purchase(actor, org, purchase_id)
    if purchase.status == PurchaseStatus.PAID:
        # Double submit or reload after paying: nothing more happens, show what was bought.
        return redirect(url_for(".purchase_done", org_id=org.id, purchase_id=purchase.id))
    offline = purchase.payment_method == "offline"
    if offline and not provider_for("offline").allowed_for(actor):
        raise Forbidden()
    form = OfflinePaymentForm() if offline else CardForm()
    expired = purchases.is_expired(purchase)
    if purchase.status == PurchaseStatus.PENDING and not expired and form.validate_on_submit():
        details = {"note": form.note.data} if offline else {"card_number": form.card_number.data}
        try:
            purchases.pay(actor, purchase, details)
            if (
                not offline
                and form.save_card.data
                and purchase.status == PurchaseStatus.PAID
                and _may_save_card(actor, purchase)
            ):
                topups.save_card(actor, org, {**details, "expiry": form.expiry.data})
        except purchases.PaymentDeclined:
            rollback()
            db.session.refresh(purchase)
        except DomainError as error:
            _refused(form, error)
        else:
            commit()
            if purchase.status == PurchaseStatus.PAID:
                flash(
                    _("Payment approved: %(n)s credits added.", n=format_decimal(purchase.credits)),
                    "success",
                )
                return redirect(url_for(".purchase_done", org_id=org.id, purchase_id=purchase.id))
    return render_template(
        "credits/pay.html",
        org=org,
        purchase=purchase,
        form=form,
        offline=offline,
        expired=expired,
        decline_text=purchases.decline_text(purchase),
        may_save_card=_may_save_card(actor, purchase),
        retry_form=StartAgainForm() if expired else ConfirmForm(),
        account_name=_account_name(org, purchase.account),
        active_section="payment",
    )


def _may_save_card(actor: Actor, purchase: Purchase) -> bool:
    """Cards for automatic top-ups of the system pool; never saved while acting as someone."""
    return (
        purchase.account == "system"
        and can(actor, Permission.MANAGE_CREDITS)
        and not refused_while_acting(actor, WhileActing.CHANGE_SAVED_CARD)
    )


@bp.route("/purchases/<purchase_id>/retry", methods=["POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def retry_purchase(org_id: str, purchase_id: str):
    """After a decline: a new purchase of the same credits, re-quoted, to pay with another
    card."""
    actor, org = _organization(org_id)
    old = _purchase(actor, org, purchase_id)
    if not _purchasable(_accounts(actor, org), actor):
        raise Forbidden()
    form = ConfirmForm()
    retryable = old.status == PurchaseStatus.DECLINED or purchases.is_expired(old)
    if not form.validate_on_submit() or not retryable:
        return redirect(url_for(".pay", org_id=org.id, purchase_id=old.id))
    try:
        new = purchases.start_purchase(
            actor,
            org,
            credit_count=old.credits,
            account=old.account,
            payment_method=old.payment_method,
            language=_language(),
            reuse_pending=True,
        )
    except DomainError as error:
        _refused(None, error)
        return redirect(url_for(".purchase", org_id=org.id))
    commit()
    return redirect(url_for(".pay", org_id=org.id, purchase_id=new.id))


@bp.route("/purchases/<purchase_id>/")
@actor_required(Permission.VIEW_ORGANIZATION)
def purchase_done(org_id: str, purchase_id: str):
    actor, org = _organization(org_id)
    purchase = _purchase(actor, org, purchase_id)
    if purchase.status != PurchaseStatus.PAID:
        return redirect(url_for(".pay", org_id=org.id, purchase_id=purchase.id))
    return render_template(
        "credits/purchase_done.html",
        org=org,
        purchase=purchase,
        receipt=db.session.get(Invoice, purchase.receipt_id) if purchase.receipt_id else None,
        account_name=_account_name(org, purchase.account),
        can_manage=can(actor, Permission.MANAGE_CREDITS),
        active_section="payment",
    )


@bp.route("/receipts/<invoice_id>.pdf")
@actor_required(Permission.VIEW_ORGANIZATION)
def receipt_pdf(org_id: str, invoice_id: str):
    actor, org = _organization(org_id)
    if len(invoice_id) > 40:
        raise NotFound()
    query = select(Invoice).where(
        Invoice.id == invoice_id,
        Invoice.organization_id == org.id,
        Invoice.reseller_id == org.reseller_id,
    )
    if not movements.sees_every_account(actor):
        # A member reaches the receipts of their own purchases only.
        query = query.where(
            Invoice.id.in_(
                select(Purchase.receipt_id).where(
                    Purchase.organization_id == org.id,
                    or_(
                        Purchase.account == f"member:{actor.member_id}",
                        Purchase.created_by_user_id == actor.user_id,
                    ),
                )
            )
        )
    invoice = db.session.scalar(query)
    if invoice is None:
        raise scoping.not_found(actor, Invoice, invoice_id)
    pdf = invoices.render_invoice_pdf(invoice, _language())
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{invoice.number}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


# ---------------------------------------------------------------------------
# Transfer, withdraw, test SMS


@bp.route("/transfer", methods=["GET", "POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def transfer(org_id: str):
    actor, org = _organization(org_id)
    require(actor, Permission.MANAGE_CREDITS)
    accounts = _manageable(_accounts(actor, org), actor)
    form = TransferForm()
    choices = [(a.value, f"{a.label} ({format_decimal(a.credits)})") for a in accounts]
    form.source.choices = choices
    form.target.choices = choices
    if request.method == "GET":
        values = {a.value for a in accounts}
        source, target = request.args.get("from"), request.args.get("to")
        if source in values:
            form.source.data = source
            if target is None:
                target = "system" if source != "system" else None
        if target in values:
            form.target.data = target
            if source is None and target != "system":
                form.source.data = "system"
    status = 200
    if form.validate_on_submit():
        try:
            credits.transfer_credits(
                actor,
                org,
                form.source.data,
                form.target.data,
                whole_number(form.credits.data),
                agreed=bool(form.agree.data),
            )
        except InsufficientCredits:
            rollback()
            status = 402
            flash(_("Insufficient credits: the source account does not hold that many."), "danger")
        except DomainError as error:
            _refused(form, error)
        else:
            commit()
            flash(_("Transfer complete: the credits have been applied."), "success")
            return redirect(url_for(".index", org_id=org.id))
    return (
        render_template(
            "credits/transfer.html",
            org=org,
            form=form,
            individual=org.individual_user_credits,
            active_section="payment",
        ),
        status,
    )


@bp.route("/withdraw", methods=["GET", "POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def withdraw(org_id: str):
    actor, org = _organization(org_id)
    require(actor, Permission.WITHDRAW_CREDITS)
    accounts = _accounts(actor, org)
    form = WithdrawForm()
    form.account.choices = [(a.value, f"{a.label} ({format_decimal(a.credits)})") for a in accounts]
    if request.method == "GET" and request.args.get("account") in {a.value for a in accounts}:
        form.account.data = request.args["account"]
    status = 200
    if form.validate_on_submit():
        try:
            credits.withdraw_credits(
                actor,
                org,
                form.account.data,
                whole_number(form.credits.data),
                reason=form.reason.data,
            )
        except InsufficientCredits:
            rollback()
            status = 402
            form.credits.errors = [_("The account does not hold that many credits.")]
        except DomainError as error:
            _refused(form, error)
        else:
            commit()
            flash(_("The credits have been withdrawn."), "success")
            return redirect(url_for(".index", org_id=org.id))
    return (
        render_template("credits/withdraw.html", org=org, form=form, active_section="payment"),
        status,
    )


@bp.route("/test-sms", methods=["GET", "POST"])
@actor_required(Permission.VIEW_ORGANIZATION)
def test_sms(org_id: str):
    actor, org = _organization(org_id)
    if not (actor.is_member or actor.is_reseller_staff):
        raise Forbidden()
    form = TestSmsForm()
    choose_account = org.individual_user_credits and movements.sees_every_account(actor)
    if choose_account:
        form.account.choices = [
            (a.value, f"{a.label} ({format_decimal(a.credits)})")
            for a in _accounts(actor, org)
            if not a.is_system
        ]
    status = 200
    if form.validate_on_submit():
        try:
            entry = trial_sms.send_test_sms(
                actor,
                org,
                recipient=form.recipient.data,
                message=form.message.data,
                account=form.account.data if choose_account else None,
            )
        except InsufficientCredits:
            rollback()
            status = 402
            flash(
                _("Insufficient credits: the test SMS was not sent and nothing was charged."),
                "danger",
            )
        except DomainError as error:
            _refused(form, error)
        else:
            commit()
            flash(
                _(
                    "Test SMS recorded: %(n)s credits used, %(left)s left.",
                    n=format_decimal(-entry.credits),
                    left=format_decimal(entry.balance_after),
                ),
                "success",
            )
            return redirect(url_for(".index", org_id=org.id))
    return (
        render_template(
            "credits/test_sms.html",
            org=org,
            form=form,
            choose_account=choose_account,
            active_section="payment",
        ),
        status,
    )


# ---------------------------------------------------------------------------
# Last 30 days log: page, CSV, print


def _log_filters(actor: Actor, org: Organization) -> dict:
    filters = {"since": movements.last_days()}
    account = request.args.get("account")
    if account:
        filters["account"] = account
    return filters


@bp.route("/log")
@actor_required(Permission.VIEW_ORGANIZATION)
def log(org_id: str):
    actor, org = _organization(org_id)
    filters = _log_filters(actor, org)
    page = _page(movements.movements_query(actor, org, **filters), LOG_PAGE_SIZE)
    return render_template(
        "credits/log.html",
        org=org,
        page=page,
        links=_page_links(".log", page, org_id=org.id),
        names=_names(page.entries, org),
        account=filters.get("account"),
        account_name=_account_name(org, filters["account"]) if "account" in filters else None,
        csv_url=url_for(".log_csv", org_id=org.id, account=filters.get("account")),
        print_url=url_for(".log_print", org_id=org.id, account=filters.get("account")),
        active_section="logs",
    )


@bp.route("/log.csv")
@actor_required(Permission.VIEW_ORGANIZATION)
def log_csv(org_id: str):
    actor, org = _organization(org_id)
    rows = movements.iter_organization_rows(actor, org, **_log_filters(actor, org))
    return movements_csv_response(rows, f"credits-log-{org.id}-{date.today().isoformat()}.csv")


@bp.route("/log/print")
@actor_required(Permission.VIEW_ORGANIZATION)
def log_print(org_id: str):
    actor, org = _organization(org_id)
    filters = _log_filters(actor, org)
    rows = list(
        itertools.islice(movements.iter_organization_rows(actor, org, **filters), PRINT_LIMIT + 1)
    )
    return render_template(
        "credits/log_print.html",
        org=org,
        rows=rows[:PRINT_LIMIT],
        truncated=len(rows) > PRINT_LIMIT,
        limit=PRINT_LIMIT,
        since=filters["since"],
        account_name=_account_name(org, filters["account"]) if "account" in filters else None,
        back_url=url_for(".log", org_id=org.id, account=filters.get("account")),
        row_labels=RowLabels(),
    )


# -- rows as people read them (CSV and print) -------------------------------------------------


class RowLabels:
    """How a movement row reads (type, account, who, amount), translated once per export
    rather than once per row: the CSV of 100,000 rows would otherwise spend its time in
    gettext."""

    def __init__(self):
        self.system = _("System Credits")
        self.api_key = _("API key")
        self.nobody = _("System")
        self.types = {t: movements.entry_type_label(t) for t in EntryType}
        self.members: dict[str, str] = {}
        self.zones: dict[str, ZoneInfo] = {}

    def zone(self, name: str | None) -> ZoneInfo:
        key = name or "UTC"
        if key not in self.zones:
            self.zones[key] = ZoneInfo(key)
        return self.zones[key]

    def __call__(self, row: movements.MovementRow) -> dict:
        if row.account_kind == AccountKind.SYSTEM:
            account = self.system
        else:
            name = row.member_name or row.member_id
            if name not in self.members:
                self.members[name] = _("User Credits: %(name)s", name=name)
            account = self.members[name]
        if row.real_user_name and row.actor_name:
            done_by = _("%(real)s as %(name)s", real=row.real_user_name, name=row.actor_name)
        elif row.actor_name:
            done_by = row.actor_name
        elif row.api_key_id:
            done_by = self.api_key
        else:
            done_by = self.nobody
        amount = ""
        if row.amount is not None and row.currency:
            amount = str(round_money(row.amount, row.currency))
        return {
            "type": self.types.get(row.type, str(row.type)),
            "account": account,
            "done_by": done_by,
            "amount": amount,
        }


def csv_cell(value):
    """Text a spreadsheet would run as a formula is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def movements_csv_response(rows, filename: str, *, with_organization: bool = False) -> Response:
    """Movement rows as a streamed CSV download (the portal's logs and the API's export)."""
    headers = [
        _("Date"),
        _("Type"),
        _("Account"),
        _("Credits"),
        _("Balance after"),
        _("Amount"),
        _("Currency"),
        _("Reference"),
        _("Done by"),
    ]
    if with_organization:
        headers.insert(0, _("Organization"))

    # On PostgreSQL the database writes the rows (same bytes, ~10x faster); None on SQLite.
    copied = movements.copy_csv(
        rows, with_organization=with_organization, formula_starts=FORMULA_STARTS
    )

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # so spreadsheets read the file as UTF-8
        writer.writerow([csv_cell(h) for h in headers])
        if copied is not None:
            yield buffer.getvalue().encode()
            yield from copied
            return
        describe = RowLabels()
        for count, row in enumerate(rows, 1):
            labels = describe(row)
            zone = describe.zone(row.organization_timezone)
            cells = [
                row.created_at.astimezone(zone).isoformat(timespec="seconds"),
                labels["type"],
                labels["account"],
                row.credits,
                row.balance_after,
                labels["amount"],
                row.currency or "",
                row.reference or "",
                labels["done_by"],
            ]
            if with_organization:
                cells.insert(0, row.organization_name)
            writer.writerow([csv_cell(c) for c in cells])
            if count % CSV_FLUSH_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


# ---------------------------------------------------------------------------
# The reseller's 30-day log across all its customers


def _reseller_actor() -> Actor:
    actor = the_actor()
    if not actor.is_reseller_staff:
        abort(403)
    return actor


class ResellerLogFilterForm(FlaskForm):
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


def _reseller_log_filters() -> tuple[ResellerLogFilterForm, LogFilters]:
    """The GET query's filters (days in UTC: the rows mix timezones); invalid ones show an
    error and are left out."""
    form = ResellerLogFilterForm(formdata=request.args)
    form.type.choices = [("", _("All types"))] + [
        (value.value, str(label)) for value, label in movements.ENTRY_TYPE_LABELS.items()
    ]
    dated = _filters(form, None)  # the type and the dates, checked as on the other logs
    filters = LogFilters(
        organization=(form.organization.data or "").strip()[:100] or None,
        person=(form.person.data or "").strip()[:100] or None,
        types=tuple(EntryType(t) for t in dated.get("types", ())),
        since=dated.get("since"),
        until=dated.get("until"),
        q=dated.get("q"),
    )
    return form, filters


def _reseller_log_args() -> dict:
    return {k: v for k, v in request.args.items() if k in RESELLER_LOG_ARGS and v}


@reseller_bp.route("/reseller-log")
@actor_required(Permission.USE_CUSTOMER_APP)
def reseller_log():
    actor = _reseller_actor()
    form, filters = _reseller_log_filters()
    page = _page(reseller_log_query(actor, filters), LOG_PAGE_SIZE)
    return render_template(
        "credits/reseller_log.html",
        page=page,
        links=_page_links(".reseller_log", page, keys=RESELLER_LOG_ARGS),
        names=_names(page.entries),
        form=form,
        filtered=filters.active,
        filter_args=_reseller_log_args(),
    )


@reseller_bp.route("/reseller-log/print")
@actor_required(Permission.USE_CUSTOMER_APP)
def reseller_log_print():
    actor = _reseller_actor()
    _form, filters = _reseller_log_filters()
    rows = list(itertools.islice(iter_reseller_log_rows(actor, filters), PRINT_LIMIT + 1))
    return render_template(
        "credits/reseller_log_print.html",
        show_org=True,
        rows=rows[:PRINT_LIMIT],
        truncated=len(rows) > PRINT_LIMIT,
        limit=PRINT_LIMIT,
        back_url=url_for(".reseller_log", **_reseller_log_args()),
        row_labels=RowLabels(),
    )


@reseller_bp.route("/reseller-log.csv")
@actor_required(Permission.USE_CUSTOMER_APP)
def reseller_log_csv():
    actor = _reseller_actor()
    _form, filters = _reseller_log_filters()
    rows = iter_reseller_log_rows(actor, filters)
    return movements_csv_response(
        rows, f"credits-log-all-customers-{date.today().isoformat()}.csv", with_organization=True
    )
