"""The lists of customers, subscriptions, payments and alerts run as many statements for one item as for a page."""
from __future__ import annotations

from sqlalchemy import event

from isp.extensions import db as _db


def _statements(app, client, headers, path: str) -> int:
    count = {"n": 0}

    def before(*_args):
        count["n"] += 1

    with app.app_context():
        engine = _db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        assert client.get(path, headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return count["n"]


def test_list_queries_do_not_grow_with_the_page(app, client, bill, token, make_rule, make_alert):
    plan = bill.plan()
    agent = bill.agent()
    rule = make_rule()
    customers = [bill.customer(f"C{n}", reseller_id=agent.id if n % 2 else None) for n in range(4)]
    for customer in customers:
        bill.service(customer, plan)
        make_alert(rule, bill.router_id)
    headers = token(bill.staff.id, "read", "customers")
    for n, customer in enumerate(customers):
        paid = client.post("/api/v1/payments", json={"customer_id": customer, "amount": "5.00", "method": "cash"},
                           headers={**headers, "Idempotency-Key": f"q{n}"})
        assert paid.status_code == 201
    client.get("/api/v1/customers", headers=headers)  # the token's last use is written once a minute: not counted
    for path in ("/api/v1/customers", "/api/v1/customers?in_debt=false&q=C", "/api/v1/subscriptions",
                 "/api/v1/payments", "/api/v1/alerts"):
        sep = "&" if "?" in path else "?"
        small = _statements(app, client, headers, f"{path}{sep}limit=1")
        large = _statements(app, client, headers, f"{path}{sep}limit=200")
        assert small == large, (path, small, large)
        assert len(client.get(f"{path}{sep}limit=200", headers=headers).get_json()["items"]) == 4
