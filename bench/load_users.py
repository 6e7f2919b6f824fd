"""The locustfile of bench/load.py: logged-in staff and reseller sessions over the panel's main pages.

Run by bench/load.py (`locust --headless -f bench/load_users.py`), which seeds the database, starts gunicorn and
passes what the sessions need in the JSON file named by LOAD_PLAN: accounts (username, password, role; one per
session, taken in turn), customer and plan ids, search words, an optional API token. Every request is checked:
a status outside 2xx/3xx, or a page that turned out to be the login form (a lost session), is a failure.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import uuid
from html.parser import HTMLParser
from urllib.parse import quote

import gevent
from gevent.event import Event
from locust import HttpUser, between, events, task

PLAN = json.load(open(os.environ["LOAD_PLAN"], encoding="utf-8"))
_turn = itertools.count()
_low, _high = (float(x) for x in os.environ.get("LOAD_WAIT", "1,3").split(","))
DEBOUNCE = 0.25  # templates/customers/index.html: hx-trigger="input changed delay:250ms ..."
NEXT = re.compile(r'rel="next" href="([^"]+)"')
LOGIN = ("login form", "login")  # once per session, before it counts as logged in: timed apart
_times: dict[str, list[float]] = {}
_errors: dict[str, int] = {}
# The window is measured once every session is logged in: N password hashes at once would otherwise fill the
# first seconds of it with logins and with pages waiting behind them.
SESSIONS, SECONDS = int(os.environ["LOAD_SESSIONS"]), float(os.environ["LOAD_SECONDS"])
_ready = Event()
_window = {"logged_in": 0, "ends": float("inf")}
_env = None


@events.init.add_listener
def _init(environment, **_kw: object) -> None:
    global _env
    _env = environment


def _logged_in() -> None:
    """One more session past its login; the last one opens the window, which closes the run SECONDS later."""
    _window["logged_in"] += 1
    if _window["logged_in"] == SESSIONS:
        _window["ends"] = time.time() + SECONDS
        _ready.set()
        gevent.spawn_later(SECONDS, _env.runner.quit)


@events.request.add_listener
def _record(request_type: str, name: str, response_time: float, response_length: int, exception: Exception | None,
            **_kw: object) -> None:
    """Every request's time (exact, not locust's rounded buckets) and every failure, by page; pages answered
    after the window closed (sessions finishing their last action) are left out."""
    if name not in LOGIN and time.time() > _window["ends"]:
        return
    _times.setdefault(name, []).append(response_time)
    if exception is not None:
        key = f"{name}: {str(exception)[:160]}"
        _errors[key] = _errors.get(key, 0) + 1


@events.quitting.add_listener
def _dump(**_kw: object) -> None:
    """Write the times and errors where bench/load.py reads them (LOAD_RESULT)."""
    with open(os.environ["LOAD_RESULT"], "w", encoding="utf-8") as f:
        json.dump({"times": _times, "errors": _errors}, f)


class _Form(HTMLParser):
    """The fields of the first POST <form> whose action contains `action` (None: the first POST form without an
    action, the page posting to itself): inputs' values, the selected (or first) option of each select."""

    def __init__(self, action: str | None) -> None:
        super().__init__()
        self.action, self.inside, self.found, self.fields = action, False, False, {}
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form" and not self.found and (a.get("method") or "").lower() == "post" and (
                "action" not in a if self.action is None else self.action in (a.get("action") or "")):
            self.inside = self.found = True
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("checkbox", "radio", "submit"):
            self.fields[a["name"]] = a.get("value") or ""
        elif tag == "select" and a.get("name"):
            self.select = a["name"]
        elif tag == "option" and self.select:
            if self.select not in self.fields or "selected" in a:
                self.fields[self.select] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None
        elif tag == "form":
            self.inside = False


def form_fields(html: str, action: str | None = None) -> dict:
    parser = _Form(action)
    parser.feed(html)
    return parser.fields


class Session(HttpUser):
    """One person logged in through the login form (CSRF token and all), working through the pages of their role."""

    wait_time = between(_low, _high)

    def on_start(self) -> None:
        account = PLAN["accounts"][next(_turn) % len(PLAN["accounts"])]
        self.role, self.username = account["role"], account["username"]
        self.customers = (PLAN["reseller_customer_ids"][self.username] if self.role == "reseller"
                          else PLAN["customer_ids"])
        page = self.client.get("/auth/login", name="login form")
        fields = form_fields(page.text)
        fields.update(username=account["username"], password=account["password"])
        with self.client.post("/auth/login", data=fields, name="login", catch_response=True) as response:
            if "/auth/" in response.url:
                response.failure(f"login of {account['username']} failed: ended on {response.url}")
        _logged_in()
        _ready.wait()
        time.sleep(random.uniform(_low, _high))  # not fifty first pages in the same instant

    # -- helpers ---------------------------------------------------------------------------------------------

    def get(self, url: str, name: str, htmx: bool = False) -> str:
        headers = {"HX-Request": "true"} if htmx else {}
        with self.client.get(url, name=name, headers=headers, catch_response=True) as response:
            if response.status_code >= 400:
                response.failure(f"{response.status_code} on {url}")
            elif "/auth/login" in response.url or response.headers.get("HX-Redirect", "").startswith("/auth/login"):
                response.failure(f"session lost on {url}")
            return response.text or ""

    def post(self, url: str, data: dict, name: str, ends_on: str) -> None:
        with self.client.post(url, data=data, name=name, catch_response=True) as response:
            if response.status_code >= 400:
                said = re.findall(r'class="error"[^>]*>([^<]+)<', response.text or "")
                response.failure(f"{response.status_code} on {name}: {'; '.join(said)[:200] or response.text[:200]}")
            elif ends_on not in response.url:
                response.failure(f"{url} ended on {response.url} (expected {ends_on})")

    def customer(self) -> int:
        return random.choice(self.customers)

    # -- pages ------------------------------------------------------------------------------------------------

    @task(3)
    def dashboard(self) -> None:
        self.get("/", "dashboard")

    @task(6)
    def customers(self) -> None:
        filters = ["", "status=suspended", "status=active", "debt=1"]
        if self.role != "reseller":
            filters += [f"plan_id={random.choice(PLAN['service_plan_ids'])}",
                        f"router_id={random.choice(PLAN['router_ids'])}"]
        query = random.choice(filters)
        html = self.get(f"/customers/?{query}", "customers list")
        found = NEXT.search(html)
        if found and random.random() < 0.5:  # on to the next page, as the pager's link goes (keyset)
            self.get(found.group(1).replace("&amp;", "&"), "customers next page")

    @task(6)
    def search_as_you_type(self) -> None:
        """Type a word into the list's search box as the browser sends it: htmx fires `input changed
        delay:250ms`, so a keystroke sends the fragment request only once 250 ms pass without another one
        (and the last one always does). Keystrokes come 80-400 ms apart, a typist's pace."""
        word = random.choice(PLAN["search_words"])
        last = min(len(word), 6)
        for end in range(1, last + 1):
            gap = random.uniform(0.08, 0.4)
            if end >= 2 and (gap >= DEBOUNCE or end == last):
                self.get(f"/customers/?q={quote(word[:end])}", "customers search (htmx)", htmx=True)
            if end < last:
                time.sleep(gap)

    @task(5)
    def customer_page(self) -> None:
        self.get(f"/customers/{self.customer()}", "customer page")

    @task(5)
    def vouchers(self) -> None:
        query = random.choice(["", "state=unused", "state=active", f"plan_id={random.choice(PLAN['voucher_plan_ids'])}",
                               f"q=S{random.randint(0, 999):03d}"])
        self.get(f"/vouchers/?{query}", "vouchers list")

    @task(2)
    def staff_pages(self) -> None:
        if self.role == "reseller":
            self.get("/resellers/me", "reseller account")
            return
        url, name = random.choice([("/routers/", "routers"), ("/billing/", "billing"), ("/reports/", "reports"),
                                   ("/alerts/", "alerts"), ("/vouchers/batches", "voucher batches"),
                                   (f"/routers/{random.choice(PLAN['router_ids'])}", "router page")]
                                  + ([("/monitoring/", "monitoring")] if self.role == "admin" else []))
        self.get(url, name)

    # -- writes -----------------------------------------------------------------------------------------------

    @task(1)
    def payment(self) -> None:
        customer_id = self.customer()
        url = f"/billing/customers/{customer_id}/payments/new"
        fields = form_fields(self.get(url, "payment form"))
        fields.update(amount="1.00", reference=f"LOAD-{uuid.uuid4().hex[:16]}", note="load test")
        self.post(url, fields, "record payment", "/receipt")

    @task(1)
    def note(self) -> None:
        customer_id = self.customer()
        html = self.get(f"/customers/{customer_id}", "customer page")
        fields = form_fields(html, f"/customers/{customer_id}/notes")
        fields["text"] = f"Load test note {uuid.uuid4().hex[:8]}"
        self.post(f"/customers/{customer_id}/notes", fields, "add note", f"/customers/{customer_id}")

    @task(1)
    def voucher_batch(self) -> None:
        if self.role != "admin":
            return
        fields = form_fields(self.get("/vouchers/batches/new", "voucher batch form"))
        # A voucher plan and a router it is sold on (the form's first router option is "choose one").
        fields.update(count="5", note="load test", plan_id=str(random.choice(PLAN["voucher_plan_ids"])),
                      router_id=str(random.choice(PLAN["voucher_router_ids"])))
        self.post("/vouchers/batches/new", fields, "generate vouchers", "/vouchers/batches/")

    @task(2)
    def api(self) -> None:
        token = PLAN.get("api_token")
        if not token or self.role != "admin":
            return
        with self.client.get("/api/v1/vouchers", headers={"Authorization": f"Bearer {token}"}, name="api vouchers",
                             catch_response=True) as response:
            if response.status_code >= 400:
                response.failure(f"{response.status_code} on /api/v1/vouchers")
