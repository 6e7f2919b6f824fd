"""Messages reach real receivers on loopback: an SMTP server, a webhook receiver, an SMS gateway."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from rq import Queue

from isp.extensions import db
from isp.models import CustomerEvent, NotificationState
from isp.models.base import utcnow
from tests.conftest import run_worker
from tests.notifications.conftest import SMTP_PASSWORD, SMTP_USER
from tests.notifications.helpers import make_due, notify, row, rows, send, set_branding

S = NotificationState


def _email(channel, smtp_server, **extra):
    channel("email", host="127.0.0.1", port=str(smtp_server.port), security="none",
            sender="Acme ISP <billing@acme.example>", username=SMTP_USER, secret=SMTP_PASSWORD, **extra)


def test_payment_email_is_delivered_by_the_queued_job_to_a_real_smtp_server(app, channel, smtp_server, make_customer):
    set_branding(app, business_name="Acme ISP", currency="KES")
    _email(channel, smtp_server)
    customer_id = make_customer(name="Jane Doe", email="jane@example.com")
    [notification_id] = notify(app, "payment", customer_id, dedupe_key="payment:77", amount=Decimal("500"),
                               balance=Decimal("-20.5"), reference="QK7X2B9")
    with app.app_context():  # the commit enqueued the sending job: messages go out in seconds, not at the next tick
        assert any(j.startswith("notify-send-") for j in Queue("normal", connection=app.config["REDIS_CLIENT"]).job_ids)
    run_worker(app)

    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["jane@example.com"] and mail.mail_from == "billing@acme.example"
    assert mail.subject == "Payment received: KES 500.00"
    assert "We received your payment of KES 500.00 (reference QK7X2B9)" in mail.html
    assert "Your balance is now -KES 20.50." in mail.text  # the plain-text twin of the HTML body
    assert smtp_server.logins == [(SMTP_USER, SMTP_PASSWORD)]
    sent = row(app, notification_id)
    assert sent.state == S.sent and sent.attempts == 1 and sent.sent_at is not None and sent.last_error == ""
    with app.app_context():
        [line] = db.session.scalars(db.select(CustomerEvent).where(CustomerEvent.customer_id == customer_id)).all()
        assert line.kind == "notification" and "Payment received by Email to ja•••@example.com: sent" == line.summary


def test_customer_name_with_markup_is_escaped_in_the_html_email(app, channel, smtp_server, make_customer):
    _email(channel, smtp_server)
    customer_id = make_customer(name='<script>alert("x")</script> Bob', email="bob@example.com")
    notify(app, "welcome", customer_id)
    send(app)
    [mail] = smtp_server.messages
    assert "<script>" not in mail.html
    assert "Hello &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Bob," in mail.html
    assert 'Hello <script>alert("x")</script> Bob,' in mail.text  # plain text is text: nothing renders it


def test_wrong_smtp_password_is_a_logged_failure_not_a_crash(app, channel, smtp_server, make_customer):
    channel("email", host="127.0.0.1", port=str(smtp_server.port), security="none", sender="billing@acme.example",
            username=SMTP_USER, secret="wrong")
    [notification_id] = notify(app, "welcome", make_customer())
    send(app)
    failed = row(app, notification_id)
    assert failed.state == S.pending and failed.attempts == 1 and "refused the login" in failed.last_error
    assert "wrong" not in failed.last_error and smtp_server.messages == []


def test_webhook_body_is_signed_and_the_receiver_verifies_it(app, channel, receiver, make_customer, make_subscription):
    secret = "whsec-5b1f0c"
    channel("webhook", url=receiver.url("/isp/events"), secret=secret)
    customer_id = make_customer(name="Jane Doe", account_no="ISP-000042")
    sub_id = make_subscription(customer_id, username="jane.pppoe", paid_until=utcnow() - timedelta(days=4))
    [notification_id] = notify(app, "suspended", customer_id, sub_id, dedupe_key=f"suspended:{sub_id}:1")
    send(app)

    [request] = receiver.requests
    assert request.method == "POST" and request.path == "/isp/events"
    timestamp, signature = request.headers["X-ISP-Timestamp"], request.headers["X-ISP-Signature"]
    # What a receiver does, written out independently of the sender's code:
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, f"sha256={expected}")
    forged = hmac.new(b"another-secret", timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert signature != f"sha256={forged}"
    document = json.loads(request.body)
    assert document["event"] == "suspended" and document["id"] == notification_id
    assert request.headers["X-ISP-Delivery"] == str(notification_id)
    assert document["customer"]["account_no"] == "ISP-000042" and document["service"]["username"] == "jane.pppoe"
    assert document["subject"] == "Service suspended" and "jane.pppoe is suspended" in document["body"]
    assert row(app, notification_id).state == S.sent


def test_signature_covers_the_timestamp_so_a_replay_with_a_new_time_fails(app):
    from isp.services.channels import sign, verify

    body, secret = b'{"event":"payment"}', "k"
    signature = sign(secret, "1700000000", body)
    assert verify(secret, "1700000000", body, signature, now=1700000100)
    assert not verify(secret, "1700009999", body, signature, now=1700009999)  # timestamp swapped: signature breaks
    assert not verify(secret, "1700000000", body, signature, now=1700000000 + 3600)  # too old: replay refused
    assert not verify(secret, "1700000000", body + b" ", signature, now=1700000000)


def test_sms_gateway_gets_url_encoded_values_and_the_token_header(app, channel, receiver, make_customer):
    set_branding(app, business_name="Zoë & Co")
    channel("sms", url=receiver.url("/send") + "?to={phone}&text={message}&from={sender}", method="GET",
            auth_header="Authorization", sender="ACME", secret="Bearer tok-123")
    customer_id = make_customer(phone="+254 700 000-123", name="A&B", account_no="ISP-000777")
    [notification_id] = notify(app, "welcome", customer_id)
    send(app)

    [request] = receiver.requests
    sent = row(app, notification_id)
    assert sent.state == S.sent and sent.recipient == "+254700000123"
    assert request.method == "GET" and request.headers["Authorization"] == "Bearer tok-123"
    assert "to=%2B254700000123&" in request.path and "%26" in request.path  # + and & encoded, not taken literally
    query = parse_qs(urlsplit(request.path).query)
    assert query == {"to": ["+254700000123"], "text": [sent.body], "from": ["ACME"]}
    assert sent.body == "Welcome to Zoë & Co, A&B! Your account number is ISP-000777."  # text: no HTML escaping


def test_sms_gateway_by_post_sends_a_form_body(app, channel, receiver, make_customer):
    channel("sms", url=receiver.url("/api/sms") + "?key={token}&to={phone}&msg={message}", method="POST",
            secret="s3cr3t/+=")
    [notification_id] = notify(app, "welcome", make_customer(phone="0712345678"))
    send(app)
    [request] = receiver.requests
    assert request.method == "POST" and request.path == "/api/sms"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {"key": ["s3cr3t/+="], "to": ["0712345678"],
                                              "msg": [row(app, notification_id).body]}


def test_receiver_down_keeps_the_row_pending_with_a_backoff_then_it_goes_out(app, channel, receiver, make_customer):
    channel("webhook", url=receiver.url(), secret="k")
    receiver.stop()
    [notification_id] = notify(app, "welcome", make_customer())
    before = utcnow()
    send(app)
    waiting = row(app, notification_id)
    assert waiting.state == S.pending and waiting.attempts == 1
    assert waiting.next_attempt_at > before and "unreachable" in waiting.last_error
    send(app)  # not due yet: nothing happens
    assert row(app, notification_id).attempts == 1

    receiver.start()
    make_due(app, notification_id)
    send(app)
    done = row(app, notification_id)
    assert done.state == S.sent and done.attempts == 2 and len(receiver.requests) == 1


def test_an_error_status_is_retried_and_the_row_dies_after_the_last_attempt(app, channel, receiver, make_customer):
    app.config["NOTIFY_MAX_ATTEMPTS"] = 3
    channel("webhook", url=receiver.url(), secret="k")
    receiver.status = 503
    customer_id = make_customer()
    [notification_id] = notify(app, "welcome", customer_id)
    for _ in range(3):
        make_due(app, notification_id)
        send(app)
    dead = row(app, notification_id)
    assert dead.state == S.dead and dead.attempts == 3 and "HTTP 503" in dead.last_error
    assert len(receiver.requests) == 3
    make_due(app, notification_id)
    send(app)
    assert len(receiver.requests) == 3  # dead rows are never sent again
    with app.app_context():
        [line] = db.session.scalars(db.select(CustomerEvent.summary).where(CustomerEvent.customer_id == customer_id)).all()
        assert "not delivered after 3 attempts" in line and "HTTP 503" in line


def test_two_workers_never_send_the_same_row(app, channel, receiver, make_customer):
    from isp.services import notification_delivery

    channel("webhook", url=receiver.url(), secret="k")
    ids = [i for _ in range(3) for i in notify(app, "welcome", make_customer())]
    with app.app_context():
        first = notification_delivery.claim_due(10)
        db.session.commit()
        second = notification_delivery.claim_due(10)
        db.session.commit()
    assert sorted(first) == sorted(ids) and second == []
    assert all(r.attempts == 1 for r in rows(app))


def test_two_workers_sending_at_once_deliver_each_message_exactly_once(app, channel, receiver, make_customer):
    import threading

    channel("webhook", url=receiver.url(), secret="k")
    customer_id = make_customer()
    with app.app_context():
        from isp.models import Customer
        from isp.services import notifications

        customer = db.session.get(Customer, customer_id)
        for n in range(30):
            notifications.notify("payment", customer, dedupe_key=f"payment:{n}")
        db.session.commit()
    start = threading.Barrier(2)
    results: list[int] = []

    def worker() -> None:
        start.wait()
        results.append(send(app))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    deliveries = [r.headers["X-ISP-Delivery"] for r in receiver.requests]
    assert len(deliveries) == 30 and len(set(deliveries)) == 30 and sum(results) == 30
    assert all(r.state == S.sent and r.attempts == 1 for r in rows(app))


def test_an_unreachable_server_is_tried_once_per_run_and_every_row_backs_off(app, channel, make_customer):
    from tests.notifications.conftest import free_port

    channel("webhook", url=f"http://127.0.0.1:{free_port()}/hook", secret="k")  # nothing listens there
    customer_id = make_customer()
    ids = [i for n in range(3) for i in notify(app, "payment", customer_id, dedupe_key=f"payment:{n}")]
    send(app)
    waiting = [row(app, i) for i in ids]
    assert all(r.state == S.pending and r.attempts == 1 and r.next_attempt_at > utcnow() for r in waiting)
    assert "unreachable" in waiting[0].last_error and "not tried again" not in waiting[0].last_error
    assert all("unreachable" in r.last_error and "(not tried again in this run)" in r.last_error for r in waiting[1:])


def test_claimed_rows_a_run_has_no_time_for_are_given_back(app, channel, receiver, make_customer):
    from isp.services import notification_delivery

    channel("webhook", url=receiver.url(), secret="k")
    ids = notify(app, "welcome", make_customer())
    with app.app_context():
        assert notification_delivery.claim_due(10) == ids
        db.session.commit()
        notification_delivery.release(ids)
        db.session.commit()
    given_back = row(app, ids[0])
    assert given_back.attempts == 0 and given_back.next_attempt_at <= utcnow()
    send(app)
    assert row(app, ids[0]).state == S.sent and len(receiver.requests) == 1
