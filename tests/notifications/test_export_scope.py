"""The customer CSV exports follow the same reach as the customer list: a reseller whose right to sell services
is withdrawn exports nothing, not even their former customers."""
from __future__ import annotations

import csv
import io

from isp.extensions import db
from isp.models import User


def _names(response) -> list[str]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return [row["name"] for row in csv.DictReader(io.StringIO(response.get_data(as_text=True)))]


def test_a_reseller_exports_their_own_customers_until_their_right_to_sell_is_withdrawn(
        app, client, auth, make_user, make_customer, make_subscription):
    reseller = auth.login_as("reseller")
    with app.app_context():
        db.session.get(User, reseller.id).can_sell_services = True
        db.session.commit()
    own = make_customer(name="Own Shop", reseller_id=reseller.id)
    make_subscription(own)
    make_customer(name="Someone Else")
    assert _names(client.get("/imports/export/customers.csv")) == ["Own Shop"]
    assert _names(client.get("/imports/export/services.csv")) == ["Own Shop"]

    with app.app_context():
        db.session.get(User, reseller.id).can_sell_services = False
        db.session.commit()
    assert _names(client.get("/imports/export/customers.csv")) == []
    assert _names(client.get("/imports/export/services.csv")) == []


def test_staff_export_every_customer(app, client, auth, make_customer):
    make_customer(name="Own Shop", reseller_id=auth.make_user("reseller").id)
    make_customer(name="Someone Else")
    auth.login_as("operator")
    assert _names(client.get("/imports/export/customers.csv")) == ["Own Shop", "Someone Else"]
