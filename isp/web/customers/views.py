"""Customers: the searchable list, sign-up, the customer page (services live, usage, money, timeline), edits."""
from __future__ import annotations

from datetime import date

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from isp.extensions import db
from isp.models import Customer, CustomerStatus
from isp.services import customers, sessions
from isp.units import format_bytes
from isp.web.auth.forms import EmptyForm
from isp.web.customers import bp
from isp.web.customers.forms import CustomerForm, NoteForm, StateForm, StatusForm
from isp.web.forms import submit
from isp.web.numbers import parse_id
from isp.web.render import render
from isp.web.security import ALL_ROLES, STAFF, forbidden, is_htmx, role_required

TIMELINE_PAGE = 20
STATEMENT_PAGE = 20


@bp.context_processor
def _helpers() -> dict:
    """Template helpers: whether another blueprint's endpoint exists (billing, notifications), and selling rights."""
    return {"has_endpoint": lambda name: name in current_app.view_functions,
            "may_sell": customers.may_sell(current_user) if current_user.is_authenticated else False}


def _filters() -> dict:
    """Query-string filters, checked (a bad value is ignored, never a 500)."""
    out = {key: request.args.get(key, "").strip()[:100] for key in customers.FILTERS}
    for key in ("plan_id", "router_id", "reseller_id"):
        if parse_id(out[key]) is None:
            out[key] = ""
    if out["status"] not in {s.value for s in CustomerStatus}:
        out["status"] = ""
    if current_user.has_role("reseller"):
        out["reseller_id"] = out["router_id"] = ""
    out["debt"] = "1" if out["debt"] in ("1", "on", "yes") else ""
    return out


@bp.route("/")
@role_required(*ALL_ROLES)
def index():
    """Customers, searched as you type and filtered in SQL; a reseller sees only their own."""
    filters = _filters()
    # The pager's links seek from a boundary id (?after= / ?before=); a bad one is ignored: page 1.
    after = parse_id(request.args.get("after"))
    before = parse_id(request.args.get("before")) if after is None else None
    unreadable = after is None and before is None and bool(request.args.get("after") or request.args.get("before"))
    page = customers.list_page(current_user, filters, current_app.config["PAGE_SIZE"], after=after, before=before,
                               first=unreadable)
    ids = [c.id for c in page.items]
    return render("customers/index.html", block="results", page=page, filters=filters,
                  balances=customers.balances(ids), counts=customers.service_counts(ids),
                  **customers.filter_choices(current_user))


def _customer_form(form: CustomerForm) -> CustomerForm:
    if current_user.has_role("reseller"):
        del form.reseller_id
    else:
        choices = customers.filter_choices(current_user)["resellers"]
        form.reseller_id.choices = [(0, "The operator")] + [(r.id, r.username) for r in choices if r.can_sell_services]
    return form


@bp.route("/new", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def create():
    """Sign up a customer (staff, or a reseller allowed to sell services)."""
    if not customers.may_sell(current_user):
        return forbidden()
    form = _customer_form(CustomerForm())
    customer = submit(form, lambda: customers.create(form.values(), current_user), field="name")
    if customer is not None:
        flash(f"Customer {customer.account_no} signed up. Add a service next.", "success")
        return redirect(url_for("customers.detail", customer_id=customer.id))
    return render("customers/form.html", form=form, customer=None, status=422 if form.errors else 200)


def customer_or_404(customer_id: int) -> Customer:
    """The customer if the current user may see it; 404 otherwise (decided in the query)."""
    customer = customers.get(current_user, customer_id)
    if customer is None:
        abort(404)
    return customer


@bp.route("/<int:customer_id>/edit", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def edit(customer_id: int):
    """Edit contact details; every changed field is one line on the timeline."""
    customer = customer_or_404(customer_id)
    form = _customer_form(CustomerForm() if request.method == "POST" else CustomerForm.for_customer(customer))
    lines = submit(form, lambda: customers.update(customer, form.values(), current_user), field="name")
    if lines is not None:
        flash(f"Saved: {', '.join(line.split(':')[0] for line in lines)}." if lines else "Nothing changed.", "success")
        return redirect(url_for("customers.detail", customer_id=customer.id))
    return render("customers/form.html", form=form, customer=customer, status=422 if form.errors else 200)


def usage_chart(days: list[tuple[date, int, int]], height: int = 60) -> dict:
    """Bars for an inline SVG: per day the download and upload heights (stacked), scaled to the busiest day."""
    peak = max((i + o for _, i, o in days), default=0)
    bars = []
    for n, (day, up, down) in enumerate(days):  # bytes_in is what the subscriber sent (upload)
        total = down + up
        h = round(height * total / peak, 1) if peak else 0
        h_up = round(h * up / total, 1) if total else 0
        bars.append({"x": n * 10, "h": h, "h_up": h_up, "y": height - h, "day": day,
                     "label": f"{day:%d %b}: {format_bytes(down)} down, {format_bytes(up)} up"})
    return {"bars": bars, "height": height, "width": max(len(days), 1) * 10, "peak": peak,
            "total": sum(i + o for _, i, o in days)}


def _live(customer: Customer) -> dict:
    """The services of the customer with what the last session poll saw (one query for all)."""
    services = customers.services_of(customer)
    return {"services": services, "live": sessions.live_state([s.id for s in services])}


def _timeline(customer: Customer):
    return db.paginate(customers.timeline_query(customer), per_page=TIMELINE_PAGE, error_out=False)


def _statement(customer: Customer):
    return db.paginate(customers.statement_query(customer), per_page=STATEMENT_PAGE, error_out=False)


@bp.route("/<int:customer_id>")
@role_required(*ALL_ROLES)
def detail(customer_id: int):
    """The customer page: services live, usage, sessions, balance and statement, invoices, payments, timeline."""
    customer = customer_or_404(customer_id)
    ctx = _live(customer)
    ids = [s.id for s in ctx["services"]]
    usage = {sub_id: usage_chart(days) for sub_id, days in sessions.usage_days_of(ids, 30).items()}
    recent = sessions.recent_sessions_of(ids, 10)
    return render("customers/detail.html", customer=customer, **ctx, usage=usage, recent=recent,
                  balance=customers.balances([customer.id])[customer.id], statement=_statement(customer),
                  timeline=_timeline(customer), invoices=customers.invoices(customer), payments=customers.payments(customer),
                  note_form=NoteForm(), status_form=StatusForm(data={"status": customer.status.value}),
                  state_form=StateForm(), button_form=EmptyForm())


def _fragment_only(customer: Customer):
    """Only htmx polls and pages these blocks; a person who opens the URL gets the customer page."""
    if not is_htmx() or request.headers.get("HX-Boosted") == "true":
        return redirect(url_for("customers.detail", customer_id=customer.id))
    return None


@bp.route("/<int:customer_id>/live")
@role_required(*ALL_ROLES)
def live(customer_id: int):
    """The services panel with live state (polled by the customer page)."""
    customer = customer_or_404(customer_id)
    return _fragment_only(customer) or render("customers/detail.html", block="live", customer=customer, **_live(customer),
                                              state_form=StateForm(), button_form=EmptyForm())


@bp.route("/<int:customer_id>/timeline")
@role_required(*ALL_ROLES)
def timeline(customer_id: int):
    """A page of the timeline (htmx)."""
    customer = customer_or_404(customer_id)
    return _fragment_only(customer) or render("customers/detail.html", block="timeline", customer=customer,
                                              timeline=_timeline(customer), note_form=NoteForm())


@bp.route("/<int:customer_id>/statement")
@role_required(*ALL_ROLES)
def statement(customer_id: int):
    """A page of the ledger statement (htmx)."""
    customer = customer_or_404(customer_id)
    return _fragment_only(customer) or render("customers/detail.html", block="statement", customer=customer,
                                              statement=_statement(customer))


@bp.route("/<int:customer_id>/notes", methods=["POST"])
@role_required(*ALL_ROLES)
def note(customer_id: int):
    """Add a note to the timeline; htmx gets the refreshed timeline."""
    customer = customer_or_404(customer_id)
    form = NoteForm()
    added = submit(form, lambda: customers.add_note(customer, form.text.data, current_user), field="text")
    if is_htmx():
        return render("customers/detail.html", block="timeline", customer=customer, timeline=_timeline(customer),
                      note_form=NoteForm(formdata=None) if added else form, status=200 if added else 422)
    if added is None:
        flash(" ".join(form.text.errors) or "The note was not saved.", "error")
    return redirect(url_for("customers.detail", customer_id=customer.id) + "#timeline")


@bp.route("/<int:customer_id>/status", methods=["POST"])
@role_required(*STAFF)
def status(customer_id: int):
    """Mark the account active, suspended or closed (staff)."""
    customer = customer_or_404(customer_id)
    form = StatusForm()
    if submit(form, lambda: customers.set_status(customer, form.status.data, current_user, form.reason.data)) is not None:
        flash(f"Account {customer.account_no} is {customer.status.value}.", "success")
    elif form.errors:
        flash(" ".join(e for errs in form.errors.values() for e in errs), "error")
    return redirect(url_for("customers.detail", customer_id=customer.id))


from isp.web.customers import plan_views, service_views  # noqa: E402,F401
