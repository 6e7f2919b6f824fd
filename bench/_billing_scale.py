"""Subscriber benchmarks at scale (imported by bench/billing.py; no processes, no simulator).

P4  customer list and search p95 with 100,000 customers, 100,000 subscriptions and 1,000,000 ledger entries (about
    half of them payments, each with its receipt) vs the
    same requests at 1,000 (and 10,000 entries): the real views through the test client, logged in as admin; page 50
    is reached as a user reaches it, by page 49's Next link (a keyset boundary, ?after=<id>)
P9  the billing run (isp.services.billing.run with isp.transaction.atomic, as the clock's job calls it) over 100,000
    due subscriptions with a mix of balances, then a second run that must change nothing

Rows are inserted set-based (multi-row Core inserts); balances equal the sum of each account's entries.
"""
from __future__ import annotations

import html
import os
import re
import time
from datetime import timedelta
from decimal import Decimal

from _harness import Harness
from _scale import _login, _time, p95

CHUNK = 5_000
ENTRIES_PER_CUSTOMER = 10
ADMIN = ("bill-admin", "Quiet-Harbour-7-Lantern")
FIRST = ("Amina", "Brian", "Caroline", "David", "Esther", "Faith", "George", "Halima", "Ibrahim", "Joyce", "Kevin",
         "Lilian", "Moses", "Naomi", "Otieno", "Purity", "Rose", "Samuel", "Tabitha", "Umar", "Violet", "Wanjiru")
LAST = ("Achieng", "Barasa", "Chege", "Gitau", "Hassan", "Irungu", "Juma", "Kamau", "Langat", "Mwangi", "Njoroge",
        "Odhiambo", "Owino", "Rotich", "Said", "Tanui", "Wafula", "Wekesa")
# (plan, kind, price); a customer's plan follows n % 20
PLANS = (("Home 10M", "pppoe", "20.00"), ("Home 25M", "pppoe", "35.00"), ("Business 50M", "static", "90.00"),
         ("Hotspot 5M", "hotspot", "10.00"))
ROUNDS = 5


def _plan_index(n: int) -> int:
    slot = n % 20
    return 0 if slot < 11 else 1 if slot < 16 else 2 if slot < 19 else 3


def _balance(n: int, price: Decimal) -> Decimal:
    """What customer n holds: 12 in 20 cover two periods, 5 owe a little, 3 hold nothing."""
    slot = n % 20
    return price * 2 if slot < 12 else Decimal("-5.00") if slot < 17 else Decimal("0.00")


def _state(n: int) -> str:
    slot = n % 100
    return "active" if slot < 72 else "grace" if slot < 80 else "suspended" if slot < 92 else "pending" if slot < 97 \
        else "terminated"


class Subscribers:
    """Routers, plans and an admin; customers with one service each and ten ledger entries, added in bulk."""

    def __init__(self, h: Harness) -> None:
        from isp.extensions import db
        from isp.models import Role
        from isp.services import service_plans, users

        self.h = h
        self.router_ids = [h.add_router(f"bill-{i}", 1) for i in range(3)]
        with h.app.app_context():
            users.create_user(ADMIN[0], ADMIN[1], Role.admin)
            self.plans = []
            for name, kind, price in PLANS:
                plan = service_plans.create_plan({"name": name, "kind": kind, "price": price, "period_unit": "month",
                                                  "period_count": 1, "rate_limit": "5M/10M", "shared_users": 1,
                                                  "router_ids": self.router_ids, "active": True})
                self.plans.append((plan.id, kind, Decimal(price)))
            db.session.commit()
        self.count = 0
        self.payments = 0  # receipts written so far (ids given here, set-based)

    def grow(self, total: int) -> None:
        """Add customers (each with a ledger account, ten entries and one service) until there are `total`."""
        from sqlalchemy import insert, select

        from isp import crypto
        from isp.extensions import db
        from isp.models import Counter, Customer, LedgerAccount, LedgerEntry, Payment, Subscription
        from isp.models.base import utcnow

        with self.h.app.app_context():
            secret = crypto.encrypt("bench-pass-123")  # one Fernet token for all: encryption is not what is measured
            now = utcnow().replace(microsecond=0)
            while self.count < total:
                first, last = self.count + 1, min(self.count + CHUNK, total)
                numbers = range(first, last + 1)
                customers, services = [], []
                for n in numbers:
                    given, family = FIRST[n % len(FIRST)], LAST[n // len(FIRST) % len(LAST)]
                    status = "suspended" if _state(n) == "suspended" else "closed" if _state(n) == "terminated" else "active"
                    created = now - timedelta(days=400) + timedelta(seconds=n * 60)
                    customers.append({"id": n, "account_no": f"ISP-{n:06d}", "name": f"{given} {family} {n}",
                                      "phone": f"+2547{n:08d}", "phone2": "", "email": f"{given}.{family}{n}@example.net".lower(),
                                      "address": f"Plot {n % 400}, Riverside Rd", "national_id": "", "location": "",
                                      "notes": "", "tags": "home", "status": status, "reseller_id": None,
                                      "created_by_id": None, "created_at": created, "updated_at": created})
                    plan_id, kind, _price = self.plans[_plan_index(n)]
                    paid_until = now + timedelta(days=n % 28 + 1)
                    services.append({"id": n, "customer_id": n, "kind": kind, "username": f"{given}.{family}{n}".lower(),
                                     "password_encrypted": secret, "plan_id": plan_id,
                                     "router_id": self.router_ids[n % 3],
                                     "static_ip": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" if kind == "static" else None,
                                     "caller_id": "", "state": _state(n), "started_at": created, "period_start": created,
                                     "paid_until": paid_until, "grace_days": None, "grace_until": None, "auto_renew": True,
                                     "period_bytes": 0, "fup_active": False, "state_changed_at": created,
                                     "created_at": created, "updated_at": created})
                db.session.execute(insert(Customer), customers)
                db.session.execute(insert(Subscription), services)
                db.session.execute(insert(LedgerAccount), [
                    {"kind": "customer", "user_id": None, "customer_id": n, "lock_version": 0, "created_at": now,
                     "balance": _balance(n, self.plans[_plan_index(n)][2])} for n in numbers])
                accounts = dict(db.session.execute(select(LedgerAccount.customer_id, LedgerAccount.id).where(
                    LedgerAccount.customer_id.between(first, last))).tuples().all())
                entries, payments = [], []
                for n in numbers:
                    price = self.plans[_plan_index(n)][2]
                    after = Decimal("0.00")
                    # Ten entries: payments and charges of the price, the last one lands on the account's balance.
                    amounts = [price if k % 2 == 0 else -price for k in range(ENTRIES_PER_CUSTOMER - 1)]
                    amounts.append(_balance(n, price) - sum(amounts))
                    for k, amount in enumerate(amounts):
                        after += amount
                        at = now - timedelta(days=300 - k * 30)
                        # As the app writes them: a payment entry points at its receipt, and every entry carries its
                        # idempotency key (the columns' statistics, and so the query plans, are a real database's).
                        payment_id = None
                        if amount > 0:
                            self.payments += 1
                            payment_id = self.payments
                            payments.append({"id": payment_id, "number": f"RCT-BENCH-{payment_id:07d}", "customer_id": n,
                                             "amount": amount, "currency": "", "method": "cash", "reference": None,
                                             "note": "", "taken_by_id": None, "received_at": at})
                        entries.append({"account_id": accounts[n], "kind": "payment" if amount > 0 else "charge",
                                        "amount": amount, "balance_after": after, "memo": "bench", "batch_id": None,
                                        "invoice_id": None, "payment_id": payment_id,
                                        "idem_key": f"payment:{payment_id}" if payment_id else f"bench-charge:{n}:{k}",
                                        "created_by_id": None, "created_at": at})
                for start in range(0, len(payments), CHUNK * 2):
                    db.session.execute(insert(Payment), payments[start:start + CHUNK * 2])
                for start in range(0, len(entries), CHUNK * 2):
                    db.session.execute(insert(LedgerEntry), entries[start:start + CHUNK * 2])
                db.session.commit()
                self.count = last
            db.session.merge(Counter(name="customer", value=self.count))  # the next sign-up continues the sequence
            tables = "customers, subscriptions, ledger_accounts, ledger_entries, payments"
            db.session.execute(db.text("ANALYZE" if db.engine.dialect.name == "sqlite" else f"ANALYZE TABLE {tables}"))
            db.session.commit()
            if db.engine.dialect.name == "sqlite":
                # Measure the database at rest, as it is a moment after a bulk load: the rows just inserted folded
                # from the write-ahead log into the file (SQLite does this by itself once no reader holds the log).
                db.session.remove()
                db.engine.dispose()
                with db.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _urls(data: Subscribers, total: int) -> list[tuple[str, str]]:
    """(what, URL): the list, search (name prefix, phone, account no, username) and every filter, pages 1 and 50."""
    mid = total // 2 + 7
    given, family = FIRST[mid % len(FIRST)], LAST[mid // len(FIRST) % len(LAST)]
    asks = [("name prefix", f"q={given}"), ("full name", f"q={given}+{family}"),
            ("phone prefix", f"q=%2B2547{mid:08d}"[:-3]), ("account no", f"q=ISP-{mid:06d}"), ("account digits", f"q={mid}"),
            ("username", f"q={given.lower()}.{family.lower()}{mid}"), ("list", ""), ("suspended", "status=suspended"),
            ("active", "status=active"), ("plan", f"plan_id={data.plans[1][0]}"), ("router", f"router_id={data.router_ids[2]}"),
            ("in debt", "debt=1"), ("active+plan+debt", f"status=active&plan_id={data.plans[1][0]}&debt=1"),
            ("router+debt", f"router_id={data.router_ids[0]}&debt=1")]
    return [(f"{what} p{p}", f"/customers/?{query}&page={p}") for what, query in asks for p in (1, 50)]


NEXT = re.compile(r'rel="next" href="([^"]+)"')


def _next_from(client, url: str) -> str:
    """Page 50 as a user reaches it: the Next link of page 49 (a keyset boundary, ?after=<its last id>&page=50).
    A list with fewer than 50 pages: its page-50 URL as is (page 1 of a few, or an empty page)."""
    if not url.endswith("&page=50"):
        return url
    found = NEXT.search(client.get(url[:-len("50")] + "49").get_data(as_text=True))
    return html.unescape(found.group(1)) if found else url


def _measure(data: Subscribers, total: int) -> tuple[list[float], dict[str, float]]:
    """Every URL's times; page 50 is followed from page 49's Next link (what clicking Next does). The same pages
    jumped to by number (?page=50 alone: an id-only OFFSET walk) are timed too and shown with BENCH_VERBOSE
    as "(jump)", outside the P4 figure."""
    client = data.h.app.test_client()
    _login(client, *ADMIN)
    urls = [(what, _next_from(client, url)) for what, url in _urls(data, total)]
    for _what, url in urls[:4]:
        _time(client, url, 1)  # warm caches and templates
    per_url = {what: _time(client, url, ROUNDS) for what, url in urls}
    # The search box asks as you type: the same searches as htmx fragments.
    per_url.update({f"{what} (htmx)": _time(client, url, ROUNDS, **{"HX-Request": "true"}) for what, url in urls[:12]})
    jumps = {f"{what} (jump)": p95(_time(client, url, ROUNDS)) for what, url in _urls(data, total) if url.endswith("=50")}
    return [t for v in per_url.values() for t in v], {**{what: p95(v) for what, v in per_url.items()}, **jumps}


def p4(h: Harness, data: Subscribers) -> None:
    """P4: the customer list and search at 1,000 and at 100,000 customers and subscriptions (1M ledger entries)."""
    data.grow(1_000)
    small, small_urls = _measure(data, 1_000)
    data.grow(100_000)
    large, large_urls = _measure(data, 100_000)
    if os.environ.get("BENCH_VERBOSE"):
        for url, value in sorted(large_urls.items(), key=lambda kv: -kv[1]):
            print(f"  {value * 1000:6.1f} ms at 100,000, {small_urls[url] * 1000:6.1f} ms at 1,000  {url}")
    a, b = p95(large) * 1000, p95(small) * 1000
    print(f"P4: {a / b:.1f}x (list p95 {a:.0f} ms at 100,000 subscriptions vs {b:.0f} ms at 1,000; search, filter, page 50)")


def p9(h: Harness, data: Subscribers) -> None:
    """P9: the billing run over 100,000 due subscriptions, then again (nothing left to change)."""
    from sqlalchemy import case, update

    from isp.extensions import db
    from isp.models import Subscription
    from isp.models.base import utcnow
    from isp.services import billing
    from isp.transaction import atomic

    with h.app.app_context():
        now = utcnow().replace(microsecond=0)
        slot = Subscription.id % 20
        # Every service due: 17 in 20 active and past paid_until (12 of them with a balance that covers the price),
        # 3 in 20 in grace that ran out a minute ago.
        db.session.execute(update(Subscription).values(
            state=case((slot < 17, "active"), else_="grace"), auto_renew=True,
            period_start=now - timedelta(days=31), paid_until=now - timedelta(hours=1),
            grace_until=case((slot < 17, None), else_=now - timedelta(minutes=1))))
        db.session.commit()
        due = db.session.scalar(db.select(db.func.count()).select_from(Subscription))
        started = time.perf_counter()
        first = billing.run(utcnow(), atomic)
        took = time.perf_counter() - started
        second = billing.run(utcnow(), atomic)
    print(f"P9: {took:.1f} s (billing run over {due:,} due subscriptions: renewed {first['renewed']:,}, grace "
          f"{first['grace']:,}, suspended {first['suspended']:,}; second run changes nothing: {sum(second.values())} changes)")
