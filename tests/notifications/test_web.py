"""The notifications pages: settings with write-only secrets, template editing with a preview, the delivery logs."""
from __future__ import annotations

from isp.extensions import db
from isp.models import AuditEntry, Notification, NotificationChannel, NotificationState, NotificationTemplate, User
from tests.conftest import csrf_from
from tests.notifications.helpers import notify, rows, send

S = NotificationState
SECRET = "smtp-Secret-7Qz!"


def _post_channel(client, page_html, name, **fields):
    data = {"channel": name, f"{name}-csrf_token": csrf_from(page_html)}
    data.update({f"{name}-{k}": v for k, v in fields.items()})
    return client.post("/notifications/settings/channel", data=data)


def test_settings_never_show_the_secret_only_whether_it_is_set(app, client, auth, smtp_server):
    auth.login_as("admin")
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert 'data-secret="not-set"' in page
    saved = _post_channel(client, page, "email", enabled="y", host="127.0.0.1", port=str(smtp_server.port), security="none",
                          sender="billing@acme.example", username="mailer", secret=SECRET)
    assert saved.status_code == 302
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert "SMTP password set" in page and SECRET not in page
    # A refused save re-renders the form: the typed secret is not echoed back either.
    refused = _post_channel(client, page, "email", enabled="y", host="", security="starttls", sender="billing@acme.example",
                            secret=SECRET)
    assert refused.status_code == 422 and SECRET not in refused.get_data(as_text=True)
    assert "Give the SMTP server&#39;s host name" in refused.get_data(as_text=True)
    with app.app_context():
        row = db.session.get(NotificationChannel, "email")
        assert row.enabled and SECRET not in row.secret_encrypted and SECRET not in row.config_json
        assert all(SECRET not in (e.detail or "") for e in db.session.scalars(db.select(AuditEntry)))


def test_moving_the_smtp_server_needs_the_password_again(app, client, auth):
    auth.login_as("admin")
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert _post_channel(client, page, "email", enabled="y", host="smtp.acme.example", port="587", security="starttls",
                         sender="billing@acme.example", username="mailer", secret=SECRET).status_code == 302
    moved = _post_channel(client, page, "email", enabled="y", host="smtp.elsewhere.example", port="587",
                          security="starttls", sender="billing@acme.example", username="mailer")
    assert moved.status_code == 422 and "type it again" in moved.get_data(as_text=True)
    with app.app_context():
        assert "smtp.acme.example" in db.session.get(NotificationChannel, "email").config_json
    # Same server, other sender: the saved password stays.
    assert _post_channel(client, page, "email", enabled="y", host="smtp.acme.example", port="587", security="starttls",
                         sender="noreply@acme.example", username="mailer").status_code == 302


def test_only_admins_reach_the_settings(client, auth):
    auth.login_as("operator")
    assert client.get("/notifications/settings", headers={"HX-Request": "true"}).status_code == 403
    assert client.get("/notifications/").status_code == 200  # the log is for all staff


def test_an_unsafe_template_is_refused_with_a_clear_message_and_not_saved(app, client, auth):
    auth.login_as("admin")
    page = client.get("/notifications/templates?event=reminder&channel=sms").get_data(as_text=True)
    response = client.post("/notifications/templates?event=reminder&channel=sms", data={
        "csrf_token": csrf_from(page), "event": "reminder", "channel": "sms", "subject": "Hi",
        "body": "{{ ''.__class__.__mro__ }}", "enabled": "y", "action": "save"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "access to attribute &#39;__class__&#39; of &#39;str&#39; object is unsafe" in html
    with app.app_context():
        assert db.session.scalar(db.select(NotificationTemplate)) is None


def test_preview_renders_sample_data_escaped_on_the_page(client, auth):
    auth.login_as("admin")
    page = client.get("/notifications/templates?event=welcome&channel=sms").get_data(as_text=True)
    # The sample customer is called "Jane <b>Doe</b>": SMS text keeps it raw, the page shows it escaped.
    assert "Welcome to Acme Internet, Jane &lt;b&gt;Doe&lt;/b&gt;!" in page and "<b>Doe</b>" not in page
    fragment = client.post("/notifications/templates/preview?event=welcome&channel=email", headers={"HX-Request": "true"},
                           data={"csrf_token": csrf_from(page), "subject": "Hello {{ customer.name }}",
                                 "body": "<p>{{ customer.name }} owes {{ balance }}</p>"})
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html
    assert "Hello Jane &lt;b&gt;Doe&lt;/b&gt;" in html  # subject: plain text, escaped by the page
    assert "&lt;p&gt;Jane &amp;lt;b&amp;gt;Doe&amp;lt;/b&amp;gt; owes -KES 150.00&lt;/p&gt;" in html  # HTML source, twice escaped


def test_a_saved_template_is_what_customers_get(app, client, auth, channel, receiver, make_customer):
    channel("webhook", url=receiver.url(), secret="k")
    auth.login_as("admin")
    page = client.get("/notifications/templates?event=payment&channel=webhook").get_data(as_text=True)
    assert client.post("/notifications/templates?event=payment&channel=webhook", data={
        "csrf_token": csrf_from(page), "subject": "Paid", "body": "Thanks {{ customer.name }}: {{ amount }}",
        "enabled": "y", "action": "save"}).status_code == 302
    notify(app, "payment", make_customer(name="Ann"), amount="12.50")
    assert rows(app)[0].body == "Thanks Ann: 12.50"
    settings = client.get("/notifications/settings").get_data(as_text=True)
    assert "edited" in settings.lower()


def test_send_test_queues_the_reminder_and_shows_its_result(app, client, auth, channel, receiver):
    channel("sms", url=receiver.url("/sms") + "?to={phone}&text={message}")
    auth.login_as("admin")
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert client.post("/notifications/settings/test", data={
        "csrf_token": csrf_from(page), "channel": "sms", "recipient": "+254 711 222 333"}).status_code == 302
    send(app)
    [request] = receiver.requests
    assert "to=%2B254711222333" in request.path
    [test] = rows(app)
    assert test.event == "test" and test.state == S.sent and test.subject.startswith("[Test] ")
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert "Recent tests" in page and "+254••••••333" in page and "+254711222333" not in page


def _seed_log(app, make_customer, make_user):
    reseller = make_user("reseller")
    own = make_customer(reseller_id=reseller.id, email="own@example.com")
    other = make_customer(email="other@example.com")
    with app.app_context():
        db.session.get(User, reseller.id).can_sell_services = True
        for customer_id, state, error in ((own, S.dead, "<script>alert(1)</script>"), (other, S.sent, "")):
            db.session.add(Notification(customer_id=customer_id, event="payment", channel="email",
                                        recipient=f"{'own' if customer_id == own else 'other'}@example.com",
                                        state=state, attempts=2, last_error=error))
        db.session.commit()
    return reseller, own, other


def test_customer_log_fragment_masks_and_escapes(app, client, auth, make_customer, make_user):
    _, own, _ = _seed_log(app, make_customer, make_user)
    auth.login_as("operator")
    response = client.get(f"/notifications/customers/{own}/log", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "o•••@example.com" in html and "own@example.com" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert 'data-state="dead"' in html


def test_a_reseller_sees_only_their_own_customers_log(app, client, auth, make_customer, make_user):
    reseller, own, other = _seed_log(app, make_customer, make_user)
    auth.login(reseller.username)
    assert client.get(f"/notifications/customers/{own}/log").status_code == 200
    assert client.get(f"/notifications/customers/{other}/log").status_code == 404
    assert client.get("/notifications/customers/999999/log").status_code == 404
    assert client.get("/notifications/", headers={"HX-Request": "true"}).status_code == 403


def test_a_reseller_whose_right_to_sell_is_withdrawn_sees_no_log_any_more(app, client, auth, make_customer, make_user):
    reseller, own, _ = _seed_log(app, make_customer, make_user)
    auth.login(reseller.username)
    assert client.get(f"/notifications/customers/{own}/log").status_code == 200
    with app.app_context():
        db.session.get(User, reseller.id).can_sell_services = False
        db.session.commit()
    assert client.get(f"/notifications/customers/{own}/log").status_code == 404


def test_global_log_filters_by_state_and_channel(app, client, auth, make_customer, make_user):
    _seed_log(app, make_customer, make_user)
    auth.login_as("operator")
    dead = client.get("/notifications/?state=dead", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-state="dead"' in dead and 'data-state="sent"' not in dead
    none = client.get("/notifications/?channel=sms").get_data(as_text=True)
    assert "No message matches these filters." in none
