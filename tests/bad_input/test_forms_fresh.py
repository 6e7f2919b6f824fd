"""Bad input that needs a world of its own per case: login (failures count towards the throttle) and resellers."""
from __future__ import annotations

import pytest

from tests.bad_input.conftest import LONG, Bad
from tests.bad_input.test_forms_core import GOOD_BATCH

# -- login ---------------------------------------------------------------------------------------------------

LOGIN = [
    ("blank both", {"username": "", "password": ""}, "This field is required"),
    ("blank password", {"username": "admin1", "password": ""}, "This field is required"),
    ("wrong password", {"username": "{admin}", "password": "not-the-password"}, "Invalid username or password"),
    ("unknown user", {"username": "nobody", "password": "whatever-pass"}, "Invalid username or password"),
    ("username 10k chars", {"username": LONG, "password": "x"}, "Field cannot be longer than 64 characters"),
    ("password 10k chars", {"username": "{admin}", "password": LONG}, "Field cannot be longer than 256 characters"),
    ("sql injection", {"username": "' OR 1=1 --", "password": "' OR '1'='1"}, "Invalid username or password"),
    ("nul byte", {"username": "adm\x00in", "password": "x"}, "Invalid username or password"),
    ("unicode username", {"username": "ädmin\u202e", "password": "x"}, "Invalid username or password"),
]


LOGIN = [pytest.param(*c[1:], id=c[0]) for c in LOGIN]


@pytest.mark.parametrize("data,message", LOGIN)
def test_login(app, make_user, data, message):
    """A refused login shows why and logs nobody in (a fresh app each: failures count towards the throttle)."""
    admin = make_user("admin")
    anon = Bad(app, app.test_client(), token_url="/auth/login")
    data = {k: v.replace("{admin}", admin.username) for k, v in data.items()}
    anon.post("/auth/login", data, message, skip={"audit_log", "users"})
    assert anon.client.get("/").status_code == 302  # still logged out



# -- a reseller's batches ------------------------------------------------------------------------------


def test_voucher_batch_plan_of_another_reseller(fresh_world, app, make_user, make_plan, allow, fund):
    """A reseller cannot buy a plan not allowed to them (another reseller's), even by posting its id."""
    world = fresh_world
    other_plan = make_plan(router_ids=[world.router.id], name="Their plan")
    theirs = make_user("reseller")
    allow(theirs.id, other_plan.id)
    mine = make_plan(router_ids=[world.router.id], name="My plan")
    allow(world.reseller.id, mine.id)
    fund(world.reseller.id, "1000")
    seller = Bad(app, app.test_client())
    seller.login(world.reseller.username)
    seller.post("/vouchers/batches/new", {**GOOD_BATCH, "plan_id": str(other_plan.id)}, "Not a valid choice")


def test_voucher_batch_reseller_without_funds(fresh_world, app, make_plan, allow):
    """A reseller whose balance does not cover the batch is refused and nothing is charged."""
    world = fresh_world
    mine = make_plan(router_ids=[world.router.id], name="My plan")
    allow(world.reseller.id, mine.id)
    seller = Bad(app, app.test_client())
    seller.login(world.reseller.username)
    seller.post("/vouchers/batches/new", {**GOOD_BATCH, "plan_id": str(mine.id)}, "balance")
