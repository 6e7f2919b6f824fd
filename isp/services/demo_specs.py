"""Who the demo's subscribers are: plans, names, contacts and each customer's story (deterministic, so a re-run finds
the same customers). isp.services.demo_subscribers seeds them through the real services.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from isp.extensions import db
from isp.models import ServicePlan, User
from isp.services import periods, service_plans

DEMO_TAG = "demo"
WATCH_TAG = "demo-watch"
COUNT = 200  # customers, the watch customer included

# name, kind, price, rate limit, data cap, fair-use rate, shared users
PLANS = (
    ("Home 10M", "pppoe", "20.00", "5M/10M", "", "", 1),
    ("Home 25M", "pppoe", "35.00", "10M/25M 15M/35M 8M/20M 16/16", "150G", "3M/6M", 1),
    ("Business static 50M", "static", "90.00", "25M/50M", "", "", 1),
    ("Hotspot home 5M", "hotspot", "10.00", "2M/5M", "", "", 2),
)
# Customer n's story is STORIES[n % 19] (19 is coprime with the 20 plan slots and the 3 routers, so every plan and
# router gets every story): 8 paid, 2 paid ahead, 3 veterans, 1 awaiting payment, 1 paid half, 2 in grace, 2 suspended.
STORIES = ("paid", "grace", "veteran", "paid", "suspended", "prepaid", "paid", "pending", "veteran", "paid", "grace",
           "paid", "suspended", "prepaid", "paid", "veteran", "partial", "paid", "paid")
FIRST = ("Amina", "Brian", "Caroline", "David", "Esther", "Faith", "George", "Halima", "Ibrahim", "Joyce", "Kevin",
         "Lilian", "Moses", "Naomi", "Otieno", "Purity", "Quincy", "Rose", "Samuel", "Tabitha", "Umar", "Violet",
         "Wanjiru", "Xavier", "Yusuf", "Zawadi", "Aisha", "Bernard", "Cynthia", "Dennis", "Eunice", "Felix")
LAST = ("Achieng", "Barasa", "Chege", "Donkor", "Ekwueme", "Fofana", "Gitau", "Hassan", "Irungu", "Juma", "Kamau",
        "Langat", "Mwangi", "Njoroge", "Odhiambo", "Owino", "Rotich", "Said", "Tanui", "Wafula", "Wekesa", "Yeboah")
STREETS = ("Riverside Rd", "Moi Avenue", "Ngong Rd", "Kenyatta Ave", "Lake View Close", "Market St", "Hill Lane",
           "Mission Rd", "Airport Rd", "Acacia Way")
METHODS = ("cash", "mobile", "mobile", "bank", "cash")


@dataclass
class Spec:
    """One demo customer and its service, as the seed will create it."""

    n: int
    name: str
    phone: str
    email: str
    address: str
    location: str
    tags: str
    plan: str
    router: int  # index into the demo routers
    username: str
    static_ip: str | None
    caller_id: str
    story: str
    signup: datetime
    method: str


def plans(router_ids: list[int], actor: User) -> dict[str, ServicePlan]:
    """The demo's service plans, sold on every demo router (made once; found by name afterwards)."""
    out = {}
    for name, kind, price, rate, cap, fup, shared in PLANS:
        plan = db.session.scalar(select(ServicePlan).where(ServicePlan.name == name))
        if plan is None:
            plan = service_plans.create_plan({"name": name, "kind": kind, "price": price, "period_unit": "month",
                                              "period_count": 1, "rate_limit": rate, "data_cap": cap,
                                              "fup_rate_limit": fup, "shared_users": shared, "router_ids": router_ids,
                                              "active": True}, actor)
        out[name] = plan
    return out


def _plan_of(n: int) -> str:
    slot = n % 20
    return PLANS[0 if slot < 12 else 1 if slot < 16 else 2 if slot < 19 else 3][0]


def _signup(story: str, now: datetime, rng: random.Random) -> datetime:
    """When the customer signed up, so that the story holds today (one period is about a month)."""
    days = timedelta(days=1)
    if story in ("paid", "prepaid"):
        return now - rng.uniform(0.1, 27) * days
    if story in ("pending", "partial"):
        return now - rng.uniform(0.05, 6) * days
    if story == "veteran":
        return now - rng.uniform(35, 115) * days
    ended = rng.uniform(0.2, 2.6) if story == "grace" else rng.uniform(4, 40)
    return periods.add_months(now - ended * days, -1)


def specs(now: datetime, routers: int, count: int = COUNT) -> list[Spec]:
    """`count` customers (deterministic: the same list on every run), the watch customer last."""
    rng = random.Random(2026)
    names = rng.sample([(f, la) for f in FIRST for la in LAST], count)
    out = []
    for n, (first, last) in enumerate(names):
        watch = n == count - 1
        plan = PLANS[0][0] if watch else _plan_of(n)
        kind = next(k for name, k, *_ in PLANS if name == plan)
        story = "watch" if watch else STORIES[n % len(STORIES)]
        router = 0 if watch else n % routers
        username = f"{first}.{last}".lower() if kind != "static" else f"{first[0]}{last}".lower() + f"-{n}"
        business = kind == "static"
        out.append(Spec(
            n=n, name=f"{first} {last}" + (" Traders Ltd" if business else ""),
            phone=f"+254 7{rng.randrange(10, 99)} {rng.randrange(100, 999)} {rng.randrange(100, 999)}",
            email=f"{first}.{last}@example.net".lower() if rng.random() < 0.7 else "",
            address=f"Plot {rng.randrange(1, 400)}, {rng.choice(STREETS)}",
            location=f"{-1.25 - rng.random() * 0.1:.5f},{36.75 + rng.random() * 0.15:.5f}",
            tags=",".join([DEMO_TAG, WATCH_TAG] if watch else [DEMO_TAG, "business" if business else "home"]
                          + (["vip"] if rng.random() < 0.05 else [])),
            plan=plan, router=router, username=username,
            static_ip=f"10.20.{router * 4 + n // 200}.{10 + n % 200}" if business else None,
            caller_id=f"02:DE:00:00:{n // 256:02X}:{n % 256:02X}" if kind == "pppoe" and n % 9 == 4 else "",
            story=story, signup=now if watch else periods.second(_signup(story, now, rng)),
            method=rng.choice(METHODS)))
    return out


# -- writing one customer -----------------------------------------------------------------------------------
