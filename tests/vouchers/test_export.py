"""The voucher CSV a reseller downloads: spreadsheet formulas in any cell are neutralised."""
import csv
import io

import pytest

from isp.services import csvout

HOSTILE = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\tTAB", "\rCR"]


@pytest.mark.parametrize("name", HOSTILE[:4])  # plan names refuse control characters
def test_a_plan_name_that_starts_a_formula_is_exported_as_text(app, client, auth, make_user, make_router, make_plan,
                                                                generate, fund, allow, name):
    reseller = make_user("reseller")
    plan = make_plan([make_router().id], name=name, reseller_price="2.00")
    allow(reseller.id, plan.id)
    fund(reseller.id, "10.00")
    generate(reseller.id, plan.id, 2)
    auth.login(reseller.username)
    rows = list(csv.DictReader(io.StringIO(client.get("/vouchers/export.csv").get_data(as_text=True))))
    assert len(rows) == 2
    for row in rows:
        assert row["plan"] == "'" + plan.name  # a spreadsheet shows the text, never runs it
        assert row["price"] == "10.00" and row["uptime_seconds"] == "0"  # numbers stay numbers


def test_every_formula_lead_is_escaped_and_plain_numbers_are_not():
    out = csvout.render(["a", "b"], [[v, "ok"] for v in HOSTILE] + [["-48.00", 3], ["+5", None]])
    rows = list(csv.reader(io.StringIO(out)))[1:]
    assert [r[0] for r in rows[:len(HOSTILE)]] == ["'" + v for v in HOSTILE]
    assert rows[len(HOSTILE):] == [["-48.00", "3"], ["+5", ""]]
    streamed = "".join(csvout.stream(["a", "b"], [[v, "ok"] for v in HOSTILE] * 2000, chunk=1000))
    assert streamed.count("'=HYPERLINK") == 2000 and streamed.startswith("a,b\r\n")
