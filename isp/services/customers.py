"""Customers: sign-up (race-free account numbers), edits recorded on the timeline, notes, status; scoped reads."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import cache

from sqlalchemy import Select, and_, exists, false, func, or_, select, union
from sqlalchemy.orm import aliased, selectinload

from isp.extensions import db, requested_page
from isp.models import (
    Customer,
    CustomerEvent,
    CustomerStatus,
    Invoice,
    LedgerAccount,
    Payment,
    Role,
    Subscription,
    SubscriptionState,
    User,
)
from isp.services import audit, ledger, numbering, paging, validators
from isp.services.errors import ServiceError
from isp.sqlutil import chunked

# (field, label, max length) of the free-text fields; phones, email and tags have their own checks.
TEXT_FIELDS = (("name", "Name", 120), ("address", "Address", 255), ("national_id", "National ID", 64),
               ("location", "Location", 255))
LABELS = {"name": "name", "phone": "phone", "phone2": "second phone", "email": "email", "address": "address",
          "national_id": "national ID", "location": "location", "tags": "tags", "notes": "notes", "reseller_id": "owner"}
MAX_NOTES = 4000


# -- who may do what ------------------------------------------------------------------------------------------

def may_sell(user: User) -> bool:
    """True if the user may sign up customers and give them services (staff, or a reseller allowed to)."""
    return user.has_role("admin", "operator") or (user.has_role("reseller") and bool(user.can_sell_services))


def scoped(stmt: Select, user: User) -> Select:
    """Limit a customer query to what the user may see: a reseller only their own (none unless allowed to sell)."""
    if user.has_role("reseller"):
        if not user.can_sell_services:
            return stmt.where(false())
        stmt = stmt.where(Customer.reseller_id == user.id)
    return stmt


def get(user: User, customer_id: int) -> Customer | None:
    """A customer the user may see, else None (the view answers 404)."""
    return db.session.scalar(scoped(select(Customer).where(Customer.id == customer_id), user))


# -- writing --------------------------------------------------------------------------------------------------

def _owner(data: dict, actor: User, current: int | None) -> int | None:
    """The reseller a customer belongs to: a reseller's own sign-ups are theirs; staff may pick any reseller."""
    if actor.has_role("reseller"):
        return actor.id
    raw = data.get("reseller_id", current)
    if raw in (None, "", 0, "0"):
        return None
    try:
        reseller_id = int(raw)
    except (TypeError, ValueError):
        raise ServiceError("Choose a reseller from the list.", "reseller_id") from None
    if reseller_id == current:
        return current
    reseller = db.session.get(User, reseller_id)
    if reseller is None or reseller.role != Role.reseller or not reseller.can_sell_services:
        raise ServiceError("That reseller is not allowed to sell services.", "reseller_id")
    return reseller_id


def clean(data: dict) -> dict:
    """Check and normalise the customer's fields; raises ServiceError naming the field."""
    out = {field: validators.text(data.get(field), field, size, required=field == "name", label=label)
           for field, label, size in TEXT_FIELDS}
    out["phone"] = validators.phone(data.get("phone"), "phone")
    out["phone2"] = validators.phone(data.get("phone2"), "phone2")
    out["email"] = validators.email(data.get("email"), "email")
    out["tags"] = validators.tags(data.get("tags"), "tags")
    out["notes"] = validators.text(data.get("notes"), "notes", MAX_NOTES, multiline=True)
    return out


def event(customer: Customer, kind: str, summary: str, actor: User | None, from_state: str = "",
          to_state: str = "", subscription_id: int | None = None) -> CustomerEvent:
    """Add one line to the customer's timeline."""
    row = CustomerEvent(customer_id=customer.id, subscription_id=subscription_id, kind=kind, summary=summary,
                        actor_id=actor.id if actor else None, from_state=from_state, to_state=to_state)
    db.session.add(row)
    return row


def create(data: dict, actor: User) -> Customer:
    """Sign up a customer: a fresh account number (race-free), a ledger account, a timeline line."""
    if not may_sell(actor):
        raise ServiceError("Your account may not sign up customers.")
    values = clean(data)
    reseller_id = _owner(data, actor, None)
    account_no = numbering.account_numbers(1)[0]
    customer = Customer(account_no=account_no, reseller_id=reseller_id, created_by_id=actor.id,
                        status=CustomerStatus.active, **values)
    db.session.add(customer)
    db.session.flush()
    ledger.customer_account(customer.id)
    event(customer, "created", f"Customer {account_no} signed up.", actor)
    audit.record(actor, "customer.create", f"customer:{customer.id}", account_no, obj=customer,
                 changes=audit.diff({}, audit.state(customer)))
    return customer


def _shown(value: object) -> str:
    text = str(value) if value not in (None, "") else "—"
    return text if len(text) <= 80 else text[:80] + "…"


def update(customer: Customer, data: dict, actor: User) -> list[str]:
    """Save edits (fields left out keep their value); each changed field becomes one timeline line ("phone: a → b")."""
    values = clean({**{field: getattr(customer, field) for field in LABELS if field != "reseller_id"}, **data})
    values["reseller_id"] = _owner(data, actor, customer.reseller_id)
    before = audit.state(customer)
    lines: list[str] = []
    for field, new in values.items():
        old = getattr(customer, field)
        if old == new:
            continue
        if field == "notes":
            lines.append("notes edited")
        elif field == "reseller_id":
            names = {u.id: u.username for u in db.session.scalars(select(User).where(User.id.in_([i for i in (old, new) if i])))}
            lines.append(f"owner: {names.get(old, 'operator')} → {names.get(new, 'operator')}")
        else:
            lines.append(f"{LABELS[field]}: {_shown(old)} → {_shown(new)}")
        setattr(customer, field, new)
    for line in lines:
        event(customer, "updated", line, actor)
    if lines:
        audit.record(actor, "customer.update", f"customer:{customer.id}", ", ".join(line.split(":")[0] for line in lines),
                     obj=customer, changes=audit.changed(before, customer))
    db.session.flush()
    return lines


def add_note(customer: Customer, text: object, actor: User) -> CustomerEvent:
    """Append a note to the customer's timeline."""
    note = validators.text(text, "text", MAX_NOTES, required=True, label="The note", multiline=True)
    row = event(customer, "note", note, actor)
    db.session.flush()
    return row


def set_status(customer: Customer, status: str, actor: User, reason: str = "") -> None:
    """Mark the customer active, suspended or closed (a closed customer has no live services)."""
    try:
        to = CustomerStatus(status)
    except ValueError:
        raise ServiceError("Choose active, suspended or closed.", "status") from None
    reason = validators.text(reason, "reason", 200, label="Reason")
    if to == customer.status:
        return
    if to == CustomerStatus.closed:
        live = db.session.scalar(select(func.count()).select_from(Subscription).where(
            Subscription.customer_id == customer.id, Subscription.state != SubscriptionState.terminated))
        if live:
            raise ServiceError(f"Terminate the customer's {live} service(s) before closing the account.", "status")
    before = customer.status
    customer.status = to
    event(customer, "status", f"Account {to.value}" + (f": {reason}" if reason else "."), actor, before.value, to.value)
    audit.record(actor, "customer.status", f"customer:{customer.id}", f"{before.value} → {to.value}", obj=customer,
                 changes={"status": [before.value, to.value]})
    db.session.flush()


# -- search and lists -----------------------------------------------------------------------------------------

def _like(text: str) -> str:
    """A prefix LIKE pattern (the column's index reads it as a range), with the wildcards escaped."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


def _account_exact(q: str) -> str | None:
    """'123', '000123' or 'isp-123' -> 'ISP-000123' (an exact, indexed match), else None."""
    settings = numbering._settings()
    rest = q.upper()
    prefix = settings.account_prefix.upper()
    if prefix and rest.startswith(prefix):
        rest = rest[len(prefix):]
    if not (rest.isascii() and rest.isdigit()) or not 0 < int(rest) < 10 ** settings.account_digits:
        return None
    return numbering.format_account(int(rest), settings)


def _search_parts(q: str) -> list[Select]:
    """One SELECT of customer ids per indexed column whose value starts with `q` (each a range on its own index)."""
    q = q.strip()[:100]
    pattern = _like(q)
    parts = [select(Customer.id).where(Customer.name.like(pattern, escape="!")),
             select(Customer.id).where(Customer.account_no.like(pattern, escape="!")),
             select(Subscription.customer_id.label("id")).where(Subscription.username.like(pattern, escape="!"))]
    if exact := _account_exact(q):
        parts.append(select(Customer.id).where(Customer.account_no == exact))
    phone = q.replace(" ", "").replace("-", "")
    if phone.lstrip("+").isdigit() and len(phone) >= 2:
        phone_pattern = _like(phone)
        parts += [select(Customer.id).where(Customer.phone.like(phone_pattern, escape="!")),
                  select(Customer.id).where(Customer.phone2.like(phone_pattern, escape="!"))]
    if " " not in q:
        parts.append(select(Customer.id).where(Customer.email.like(pattern, escape="!")))
    return parts


def matching_ids(q: str, cap: int | None = None, after: int | None = None, before: int | None = None):
    """Ids of customers whose account number, name, phone, email or a service username starts with `q`.

    One SELECT per indexed column, combined with UNION: each part is a range on its own index, and the
    union (the matches, not the table) is what the list joins to. With `cap` (a plain search: nothing filters
    the matches afterwards) each part keeps only its newest `cap` ids, which is exact for the newest `cap` of
    the union: a page of a broad prefix (4,546 of 100,000 names) then sorts `cap` ids per part, not all.
    A keyset boundary (`after`/`before`) is applied in every part, so each keeps its `cap` ids next to it
    (`before`: the oldest `cap` above it).
    """
    parts = [paging.past(part, part.selected_columns[0], after, before) for part in _search_parts(q)]
    if cap is not None:
        order = (lambda column: column.asc()) if before is not None else (lambda column: column.desc())
        newest = [part.distinct().order_by(order(part.selected_columns[0])).limit(cap).subquery() for part in parts]
        parts = [select(sub.c.id) for sub in newest]
    return union(*parts).subquery("matches")


def search_count(q: str, up_to: int) -> int:
    """How many customers match `q` (a plain search), counted at most to `up_to`.

    A broad prefix matches thousands in a column: if one part alone reaches `up_to` (each read off its index and
    stopped there, unsorted; a customer once however many services match), so does the union, and nothing more is
    read. Otherwise every part is smaller than `up_to` and their union is counted exactly.
    """
    parts = _search_parts(q)
    capped = [select(func.count()).select_from(part.distinct().limit(up_to).subquery()).scalar_subquery()
              for part in parts]
    counts = db.session.execute(select(*capped)).one()
    if max(counts) >= up_to:
        return up_to
    if sum(1 for n in counts if n) <= 1:  # one column matches (an account number, a phone): nothing to merge
        return max(counts)
    return min(db.session.scalar(select(func.count()).select_from(union(*parts).subquery())) or 0, up_to)


FILTERS = ("q", "status", "plan_id", "router_id", "reseller_id", "debt")


def _customer_conditions(user: User, filters: dict) -> list:
    """The filters on the customers row itself, the reseller scope first."""
    out = []
    if user.has_role("reseller"):
        out.append(Customer.reseller_id == user.id if user.can_sell_services else false())
    if filters.get("status"):
        out.append(Customer.status == CustomerStatus(filters["status"]))
    if filters.get("reseller_id"):
        out.append(Customer.reseller_id == int(filters["reseller_id"]))
    return out


@cache
def _aliases() -> tuple:
    """The subscriptions aliases of the plan/router walk, made once: aliased() builds a proxy of every column
    (~2 ms a call, more than the walk itself; a keyset page builds the query three times)."""
    return aliased(Subscription, name="driver"), aliased(Subscription, name="on_router")


def list_query(user: User, filters: dict, cap: int | None = None, after: int | None = None,
               before: int | None = None) -> Select:
    """Ids of the customers the user may see that pass the filters, newest first (page it with `list_page`).

    A plan or router filter drives the page: `SELECT customer_id FROM subscriptions WHERE plan_id = ? GROUP BY
    customer_id ORDER BY customer_id DESC` walks the (plan_id, customer_id) index in order and stops at the page;
    the router (a second subscription), debt and the customer's own filters and scope are checked per candidate
    by unique-key joins, kept in that order on MariaDB (STRAIGHT_JOIN) so it never materialises every customer
    on a plan or router (25,000-55,000 of 100,000) to sort them. Without one, the customers' (filter, id)
    indexes, the search matches or the in-debt accounts (walked newest customer first off the (customer_id,
    balance) index) drive it. `cap`: how many ids the page and its count can use at most (a plain search then
    sorts only that many, see `matching_ids`). `after`/`before`: only the ids past that keyset boundary (a
    range on the same index, so a deep page seeks rather than skips); with `before` the ids come oldest first,
    read upward from the boundary.
    """
    q = (filters.get("q") or "").strip()
    plan_id = int(filters["plan_id"]) if filters.get("plan_id") else None
    router_id = int(filters["router_id"]) if filters.get("router_id") else None
    customer_where = _customer_conditions(user, filters)
    if (plan_id or router_id) and not q:
        driver, other = _aliases()
        customer_id = driver.customer_id
        stmt = select(customer_id).where(driver.plan_id == plan_id if plan_id else driver.router_id == router_id)
        if plan_id and router_id:
            stmt = stmt.join(other, and_(other.customer_id == customer_id, other.router_id == router_id))
        if filters.get("debt"):
            stmt = stmt.join(LedgerAccount, and_(LedgerAccount.customer_id == customer_id, LedgerAccount.balance < 0))
        if customer_where:
            stmt = stmt.join(Customer, Customer.id == customer_id).where(*customer_where)
        return (paging.bounded(stmt.group_by(customer_id), customer_id, after, before)
                .prefix_with("STRAIGHT_JOIN", dialect="mysql").prefix_with("STRAIGHT_JOIN", dialect="mariadb"))
    if q:
        # The search's matches are ids already: the customers table is joined only for its own filters.
        plain = not (customer_where or plan_id or router_id or filters.get("debt"))
        matches = matching_ids(q, cap if plain else None, after, before)
        key = matches.c.id
        stmt = select(key)
        if customer_where:
            stmt = stmt.join(Customer, Customer.id == key).where(*customer_where)
    elif filters.get("debt") and not (plan_id or router_id):
        # In debt: the accounts below zero, newest customer first; the customers row only for its own filters.
        key = LedgerAccount.customer_id
        stmt = select(key).where(key.is_not(None), LedgerAccount.balance < 0)
        if customer_where:
            stmt = stmt.join(Customer, Customer.id == key).where(*customer_where)
        return paging.bounded(stmt, key, after, before)
    else:
        key = Customer.id
        stmt = select(key).where(*customer_where)
    # With a search (a few matches) the plan and router are semi-joins on the (filter, customer) indexes.
    for value, column in ((plan_id, Subscription.plan_id), (router_id, Subscription.router_id)):
        if value:
            stmt = stmt.where(key.in_(select(Subscription.customer_id).where(column == value)))
    if filters.get("debt"):
        stmt = stmt.where(key.in_(select(LedgerAccount.customer_id).where(LedgerAccount.balance < 0)))
    return paging.bounded(stmt, key, after, before)


class Pagination(paging.IdPagination):
    """Id-first paging whose count stops at COUNT_UP_TO (or ten pages past this one).

    The customer and service lists filter through joins and semi-joins (a plan, a router, debt, a search): each
    customer counted costs a probe, so the pager says "more than 2,000" sooner than the plain lists do. An `ids`
    select (one column, ordered) may stand in for the page's ids; `select` then only names the rows to load.
    """

    COUNT_UP_TO = 2_000

    def _ids(self) -> Select:
        ids = self._query_args.get("ids")
        return ids if ids is not None else super()._ids()

    PREFETCH_UP_TO = 10_000
    _counted: list | None = None

    @classmethod
    def count_limit(cls, page: int, per_page: int) -> int:
        """How far page `page` counts: COUNT_UP_TO, or ten pages past it."""
        return min(max(cls.COUNT_UP_TO, (page - 1) * per_page + 10 * per_page), paging.MAX_OFFSET)

    def _count_limit(self) -> int:
        return self.count_limit(self.page, self.per_page)

    def _page_ids(self) -> list:
        """With `prefetch` (ids that cost a walk over every match: a filtered search's union) and while
        the count's limit is small (the first 200 pages), one query reads the ids up to it, in order: the page is
        a slice and the count their number, instead of a second query walking the same matches (135 -> 64 ms for
        a broad name prefix at 100,000 on SQLite). Index-ordered ids are cheaper read twice than carried over."""
        limit = self._count_limit()
        if not self._query_args.get("prefetch") or limit > self.PREFETCH_UP_TO:
            return super()._page_ids()
        self._counted = list(self._query_args["session"].scalars(self._ids().limit(limit + 1)))
        return self._counted[self._query_offset:self._query_offset + self.per_page]

    def _query_count(self) -> int:
        limit = self._count_limit()
        if self._query_args.get("counter") is not None:
            total = self._query_args["counter"](limit + 1)
            if total > limit:
                self.more_than = limit
            return total
        if self._counted is not None:
            total = len(self._counted)
            if total > limit:
                self.more_than = limit
            return total
        ids = self._ids().order_by(None).limit(limit + 1).subquery()
        total = self._query_args["session"].execute(select(func.count()).select_from(ids)).scalar() or 0
        if total > limit:
            self.more_than = limit
        return total


def paginate(stmt: Select, key: object, per_page: int, ids: Select | None = None, prefetch: bool = False,
             counter: Callable[[int], int] | None = None, page: int | None = None) -> Pagination:
    """Page `stmt` by ids (page number from the request), counting at most COUNT_UP_TO; `ids` (the page's ids
    in order, if given) replaces `stmt`'s own id query; `prefetch`: read the page and the count in one query;
    `counter(up_to)`: how many there are, counted at most to up_to, instead of counting the ids."""
    return Pagination(select=stmt, key=key, session=db.session(), page=page or requested_page(), per_page=per_page,
                      max_per_page=None, error_out=False, ids=ids, prefetch=prefetch, counter=counter)


def _plain_search(user: User, filters: dict) -> bool:
    """A search that nothing filters afterwards (no filter, no reseller scope): its parts page and count alone."""
    return bool((filters.get("q") or "").strip()) and not (
        _customer_conditions(user, filters) or filters.get("plan_id") or filters.get("router_id") or filters.get("debt"))


def list_page(user: User, filters: dict, per_page: int, after: int | None = None,
              before: int | None = None, first: bool = False) -> Pagination | paging.KeysetPage:
    """One page of `list_query`: its ids off the indexes, then those rows.

    With a keyset boundary (`after`/`before`, what the pager's links carry) the page seeks from it (`keyset_page`).
    Without one the page number is an offset (page 1, or a jump to page N typed into the URL): a plain search
    pages the union of each part's newest page x per_page ids (the page's cost follows how deep it is, not how
    many match) and counts with `search_count` (a broad prefix stops at the count's limit). `first`: page 1
    whatever the request's ?page= says (a link whose boundary was unreadable).
    """
    if after is not None or before is not None:
        return keyset_page(user, filters, per_page, after, before)
    q = (filters.get("q") or "").strip()
    page = 1 if first else max(requested_page(), 1)
    limit = Pagination.count_limit(page, per_page)  # the page and its count use at most limit + 1
    if _plain_search(user, filters):
        window = min(page * per_page, paging.MAX_OFFSET + per_page)
        return paginate(select(Customer), Customer.id, per_page, ids=list_query(user, filters, cap=window),
                        counter=lambda up_to: search_count(q, up_to), page=page)
    # A filtered search reads its ids to the count's limit once (the page is a slice, the count their number). The
    # debt filter walks (customer_id, balance) for the page and counts off (balance, customer_id): carrying 2,951
    # ids to the client cost more than both (pymysql: ~20 ms).
    return paginate(select(Customer), Customer.id, per_page, ids=list_query(user, filters, cap=limit + 1),
                    prefetch=bool(q), page=page)


def _beyond(user: User, filters: dict, after: int | None = None, before: int | None = None):
    """SQL: whether any customer lies past the boundary (one seek on the index, one id read).

    A plain search asks each column's part for any match past it, unordered: the first index entry found ends
    that part (the page's newest-first read sorts the whole prefix range; this must not do it again)."""
    if _plain_search(user, filters):
        return or_(*[exists(paging.past(part, part.selected_columns[0], after, before))
                     for part in _search_parts(filters["q"])])
    return list_query(user, filters, cap=1, after=after, before=before).limit(1).exists()


def keyset_page(user: User, filters: dict, per_page: int, after: int | None = None,
                before: int | None = None) -> paging.KeysetPage:
    """The page below `after` (Next) or above `before` (Previous), newest first: per_page + 1 ids seeked off the
    (filter, id) index from the boundary, whatever the depth (OFFSET reads and drops every earlier page).

    A page that comes back empty (a boundary past the end, rows deleted meanwhile) or a Previous page short of a
    full page with nothing newer is page 1. The count is "page n-1 x per_page, plus the customers from this page's
    first on" counted up to COUNT_UP_TO (a plain search: its matches counted as on page 1): its cost does not
    grow with the depth either. The page number is the link's label (?page=), never used by the query.
    """
    upward = before is not None
    ids, more = paging.take(list_query(user, filters, cap=per_page + 1, after=None if upward else after,
                                       before=before), per_page, upward)
    if not ids or (upward and not more and len(ids) < per_page):
        after, upward = None, False
        ids, more = paging.take(list_query(user, filters, cap=per_page + 1), per_page)
        if not ids:
            return paging.KeysetPage([], page=1, per_page=per_page, has_prev=False, has_next=False, remaining=0)
    # Whether there is a page on the other side, and (unless a plain search, counted whole by search_count) how
    # many from this page's first on: one statement, one round trip.
    probe = _beyond(user, filters, after=ids[-1]) if upward else \
        _beyond(user, filters, before=ids[0]) if after is not None else false()
    cap = Pagination.COUNT_UP_TO
    plain = _plain_search(user, filters)
    columns = [probe]
    if not plain:
        counted = list_query(user, filters, cap=cap + 1, after=ids[0] + 1).order_by(None).limit(cap + 1).subquery()
        columns.append(select(func.count()).select_from(counted).scalar_subquery())
    row = db.session.execute(select(*columns)).one()
    has_prev, has_next = (more, bool(row[0])) if upward else (bool(row[0]), more)
    label = requested_page() if has_prev else 1
    if plain:
        whole, before_count = search_count(filters["q"].strip(), cap + 1), (max(label, 2) - 1) * per_page if has_prev else 0
        remaining = max(whole - before_count, len(ids)) if whole <= cap else max(cap - before_count, len(ids))
        more_than = remaining if whole > cap else None
    else:
        remaining = row[1] or 0
        more_than = cap if remaining > cap else None
    items = paging.load_rows(select(Customer), Customer.id, ids)
    return paging.KeysetPage(items, page=label, per_page=per_page, has_prev=has_prev, has_next=has_next,
                             remaining=remaining, more_than=more_than)


def balances(customer_ids: Iterable[int]) -> dict[int, Decimal]:
    """Cached ledger balance per customer, one IN query per 500 (no account yet: zero)."""
    ids = list(customer_ids)
    out = {i: Decimal("0.00") for i in ids}
    for chunk in chunked(ids):
        out.update(db.session.execute(select(LedgerAccount.customer_id, LedgerAccount.balance).where(
            LedgerAccount.customer_id.in_(chunk))).tuples().all())
    return out


def service_counts(customer_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per customer: how many services in each state, in one grouped query."""
    ids = list(customer_ids)
    out: dict[int, dict[str, int]] = {i: {} for i in ids}
    for chunk in chunked(ids):
        for customer_id, state, n in db.session.execute(
                select(Subscription.customer_id, Subscription.state, func.count()).where(
                    Subscription.customer_id.in_(chunk)).group_by(Subscription.customer_id, Subscription.state)):
            out[customer_id][state.value] = n
    return out


def filter_choices(user: User) -> dict[str, list]:
    """Options of the list filters (small tables): plans and routers; resellers for staff."""
    from isp.models import Router, ServicePlan

    staff = not user.has_role("reseller")
    # Names and ids only: these fill <select>s on every keystroke's answer.
    plans = db.session.execute(select(ServicePlan.id, ServicePlan.name).order_by(ServicePlan.name)).all()
    routers = db.session.execute(select(Router.id, Router.name).order_by(Router.name)).all() if staff else []
    resellers = db.session.execute(select(User.id, User.username, User.can_sell_services).where(
        User.role == Role.reseller).order_by(User.username)).all() if staff else []
    return {"plans": plans, "routers": routers, "resellers": resellers, "statuses": [s.value for s in CustomerStatus]}


# -- the customer page ----------------------------------------------------------------------------------------

def services_of(customer: Customer) -> list[Subscription]:
    """The customer's services, live ones first, then newest."""
    rows = db.session.scalars(select(Subscription).where(Subscription.customer_id == customer.id)
                              .options(selectinload(Subscription.plan)).order_by(Subscription.id.desc()))
    return sorted(rows, key=lambda s: s.state == SubscriptionState.terminated)


def timeline_query(customer: Customer) -> Select:
    """The customer's timeline, newest first (paginate it)."""
    return select(CustomerEvent).where(CustomerEvent.customer_id == customer.id).order_by(CustomerEvent.id.desc())


def statement_query(customer: Customer) -> Select:
    """Ledger entries of the customer's account, newest first (paginate it)."""
    account_id = select(LedgerAccount.id).where(LedgerAccount.customer_id == customer.id).scalar_subquery()
    return ledger.entries_query(account_id)


def invoices(customer: Customer, limit: int = 20) -> list[Invoice]:
    """The customer's latest invoices and credit notes, newest first."""
    return list(db.session.scalars(select(Invoice).where(Invoice.customer_id == customer.id)
                                   .order_by(Invoice.id.desc()).limit(limit)))


def payments(customer: Customer, limit: int = 20) -> list[Payment]:
    """The customer's latest payments, newest first."""
    return list(db.session.scalars(select(Payment).where(Payment.customer_id == customer.id)
                                   .order_by(Payment.id.desc()).limit(limit)))
