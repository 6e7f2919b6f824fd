"""The alert centre: who may see it, filters and paging in SQL, counts, the CSV, and acknowledging with a note."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import Alert, AlertEvent, AlertState, AuditEntry
from tests.alerts_web.conftest import T0


def _ids(html: str) -> list[int]:
    import re

    return [int(x) for x in re.findall(r'data-alert="(\d+)"', html)]


def test_staff_see_every_page_and_a_reseller_gets_403_everywhere(client, auth, make_rule, make_alert):
    rule = make_rule()
    alert = make_alert(rule)
    pages = ["/alerts/", "/alerts/?tab=resolved", f"/alerts/{alert}", "/alerts/rules", "/alerts/maintenance",
             "/alerts/alerts.csv"]
    for role in ("admin", "operator"):
        auth.login_as(role)
        for url in pages:
            assert client.get(url).status_code == 200, (role, url)
        auth.logout()
    auth.login_as("reseller")
    token = auth.token()
    for url in [*pages, "/alerts/rules/new?kind=metric", f"/alerts/rules/{rule}/edit"]:
        assert client.get(url).status_code == 403, url
    for url in [f"/alerts/{alert}/acknowledge", f"/alerts/{alert}/resolve", "/alerts/maintenance",
                f"/alerts/rules/{rule}/delete"]:
        assert client.post(url, data={"csrf_token": token, "ack-note": "x"}).status_code == 403, url
    with client.application.app_context():
        assert _db.session.get(Alert, alert).state is AlertState.open


def test_tabs_filters_counts_and_paging(app, client, auth, routers_two, make_rule, make_alert):
    cpu = make_rule("CPU load")
    offline = make_rule("Router offline", kind="offline", params_json='{"seconds": 45}')
    opened = [make_alert(cpu, routers_two.a.id, opened_at=T0 + timedelta(minutes=i)) for i in range(7)]
    crit = make_alert(offline, routers_two.b.id, severity="critical", message="edge-b not seen for 60 s")
    acked = make_alert(cpu, routers_two.b.id, state="acknowledged", ack_note="on it")
    resolved = make_alert(offline, routers_two.a.id, state="resolved")
    app.config["PAGE_SIZE"] = 5
    auth.login_as("operator")

    page1 = client.get("/alerts/").get_data(as_text=True)
    assert _ids(page1) == [crit, *reversed(opened)][:5]  # newest first
    assert 'data-count="open">8<' in page1 and 'data-count="acknowledged">1<' in page1 and 'data-count="resolved">1<' in page1
    page2 = client.get("/alerts/?page=2").get_data(as_text=True)
    assert _ids(page2) == list(reversed(opened))[4:]

    assert _ids(client.get("/alerts/?severity=critical").get_data(as_text=True)) == [crit]
    assert _ids(client.get(f"/alerts/?router={routers_two.b.id}").get_data(as_text=True)) == [crit]
    assert _ids(client.get("/alerts/?site=South").get_data(as_text=True)) == [crit]
    assert _ids(client.get("/alerts/?kind=offline").get_data(as_text=True)) == [crit]
    text = client.get("/alerts/?q=not%20seen").get_data(as_text=True)
    assert _ids(text) == [crit] and 'data-count="acknowledged">0<' in text
    assert _ids(client.get("/alerts/?tab=acknowledged").get_data(as_text=True)) == [acked]
    assert _ids(client.get("/alerts/?tab=resolved&kind=offline").get_data(as_text=True)) == [resolved]
    # A bad filter value is dropped, never a 500.
    assert client.get("/alerts/?severity=%3Cx%3E&router=abc&date_from=yesterday&tab=nope").status_code == 200


def test_date_range_is_whole_days_in_the_operators_timezone(app, client, auth, make_rule, make_alert):
    app.config["ISP_TIMEZONE"] = "Africa/Nairobi"  # UTC+3
    rule = make_rule()
    late_utc = make_alert(rule, opened_at=T0.replace(day=30, month=11, hour=22, minute=30))  # 1 Dec 01:30 in Nairobi
    before = make_alert(rule, opened_at=T0.replace(day=30, month=11, hour=20, minute=59))   # 30 Nov 23:59 in Nairobi
    auth.login_as("operator")
    assert _ids(client.get("/alerts/?date_from=2026-12-01&date_to=2026-12-01").get_data(as_text=True)) == [late_utc]
    assert _ids(client.get("/alerts/?date_to=2026-11-30").get_data(as_text=True)) == [before]


def test_open_list_refreshes_itself_as_a_fragment(client, auth, make_rule, make_alert):
    make_alert(make_rule(), severity="critical", suppressed="maintenance")
    auth.login_as("admin")
    full = client.get("/alerts/").get_data(as_text=True)
    assert 'hx-trigger="every 10s"' in full and "<html" in full
    assert 'data-suppressed="maintenance"' in full and 'data-severity="critical"' in full
    fragment = client.get("/alerts/?severity=critical", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and 'hx-trigger="every 10s"' in body and "severity=critical" in body
    assert "HX-Request" in fragment.headers["Vary"]
    history = client.get("/alerts/?tab=resolved").get_data(as_text=True)
    assert 'hx-trigger="every 10s"' not in history  # history does not poll


def test_csv_of_the_filtered_history_neutralises_formulas(client, auth, routers_two, make_rule, make_alert):
    rule = make_rule("=cmd|' /C calc'!A0")
    make_alert(rule, routers_two.a.id, state="resolved", message="=HYPERLINK(\"http://evil\")", value=93.5)
    make_alert(rule, routers_two.b.id, state="resolved", message="other site")
    make_alert(rule, routers_two.a.id, state="open", message="still open")
    auth.login_as("operator")
    response = client.get("/alerts/alerts.csv?tab=resolved&site=North")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1
    assert rows[0]["message"] == "'=HYPERLINK(\"http://evil\")" and rows[0]["rule"].startswith("'=")
    assert rows[0]["router"] == "core-a" and rows[0]["site"] == "North" and rows[0]["value"] == "93.5"
    assert rows[0]["state"] == "resolved" and rows[0]["resolved_utc"].startswith("2026-12-01T09:05")


def test_operator_acknowledges_with_a_note_and_the_page_shows_who_when_and_note(app, client, auth, routers_two,
                                                                                  make_rule, make_alert):
    app.config["ISP_TIMEZONE"] = "Africa/Nairobi"
    alert = make_alert(make_rule("CPU <b>load</b>"), routers_two.a.id, message="CPU 95% <script>alert(1)</script>")
    user = auth.login_as("operator")
    page = client.get(f"/alerts/{alert}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "CPU &lt;b&gt;load&lt;/b&gt;" in page and f"/routers/{routers_two.a.id}" in page
    response = client.post(f"/alerts/{alert}/acknowledge",
                           data={"csrf_token": auth.token(), "ack-note": "Rebooting <script>x()</script> the radio"})
    assert response.status_code == 302
    page = client.get(f"/alerts/{alert}").get_data(as_text=True)
    with app.app_context():
        row = _db.session.get(Alert, alert)
        assert row.state is AlertState.acknowledged and row.acked_by_id == user.id
        local = row.acked_at.astimezone(__import__("zoneinfo").ZoneInfo("Africa/Nairobi")).strftime("%Y-%m-%d %H:%M")
        assert _db.session.scalar(select(AlertEvent.kind).where(AlertEvent.alert_id == alert)) == "acknowledged"
    assert f"{user.username} at {local}" in page
    assert "Rebooting &lt;script&gt;x()&lt;/script&gt; the radio" in page and "<script>x()" not in page
    listing = client.get("/alerts/?tab=acknowledged").get_data(as_text=True)
    assert _ids(listing) == [alert] and user.username in listing
    # Acknowledging twice is refused in words, the state unchanged.
    again = client.post(f"/alerts/{alert}/acknowledge", data={"csrf_token": auth.token(), "ack-note": "again"})
    assert again.status_code == 422
    # Resolving by hand closes it, with who.
    assert client.post(f"/alerts/{alert}/resolve", data={"csrf_token": auth.token(), "resolve-note": "fixed"}).status_code == 302
    with app.app_context():
        row = _db.session.get(Alert, alert)
        assert row.state is AlertState.resolved and row.resolved_by_id == user.id
        assert _db.session.scalar(select(AuditEntry.id).where(AuditEntry.action.like("alert%"))) is not None


def test_posts_need_csrf(client, auth, make_rule, make_alert):
    alert = make_alert(make_rule())
    auth.login_as("admin")
    assert client.post(f"/alerts/{alert}/acknowledge", data={"ack-note": "x"}).status_code in (400, 403)
    with client.application.app_context():
        assert _db.session.get(Alert, alert).state is AlertState.open


def test_delivery_log_masks_recipients(app, client, auth, make_rule, make_alert):
    from isp.models import Notification, NotificationState

    alert = make_alert(make_rule())
    with app.app_context():
        _db.session.add(Notification(alert_id=alert, event="alert", channel="email", recipient="janedoe@example.net",
                                     state=NotificationState.pending, attempts=2, last_error="smtp unreachable"))
        _db.session.commit()
    auth.login_as("operator")
    page = client.get(f"/alerts/{alert}").get_data(as_text=True)
    assert "ja•••@example.net" in page and "janedoe@" not in page
    assert "smtp unreachable" in page


def test_counts_stop_early_on_a_long_history(ctx, make_rule, make_alert):
    from isp.services import alert_lists

    rule = make_rule()
    for _ in range(4):
        make_alert(rule, state="resolved")
    filters = alert_lists.clean_filters({})
    assert alert_lists.counts(filters, "UTC", up_to=2) == {"open": 0, "acknowledged": 0, "resolved": 3}
    assert alert_lists.counts(filters, "UTC")["resolved"] == 4


def test_rows_carry_labels_for_the_phone_layout(client, auth, make_rule, make_alert):
    import re

    make_alert(make_rule())
    auth.login_as("operator")
    html = client.get("/alerts/").get_data(as_text=True)
    table = html[html.index('data-test="alerts"'):html.index("</table>", html.index('data-test="alerts"'))]
    cells = re.findall(r"<td[^>]*>", table)
    assert cells and all("data-label=" in c for c in cells)
