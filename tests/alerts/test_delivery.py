"""Alert messages reach real receivers on loopback: SMTP, a webhook retried while down, Telegram; send-test per channel."""
from __future__ import annotations

import json

from isp.extensions import db
from isp.models import NotificationState, NotificationTemplate
from isp.services import alerts
from isp.services.channels import verify
from tests.alerts.conftest import alerts_of, at, evaluate, notes_of, write_sample
from tests.conftest import csrf_from, run_worker
from tests.notifications.helpers import make_due, send

S = NotificationState
BOT_TOKEN = "123456:AAF-secret-bot-token"


def _hot(app, router_id, seconds=0, cpu=95):
    write_sample(app, router_id, at(seconds), cpu=cpu)
    evaluate(app, router_id, at(seconds))


def test_alert_and_recovery_emails_reach_a_real_smtp_server(app, make_rule, router, channel, smtp_server):
    channel("email", host="127.0.0.1", port=str(smtp_server.port), security="none", sender="NOC <noc@isp.example>")
    make_rule("CPU load", for_seconds=0, channels="email", recipients={"email": "ops@isp.example, boss@isp.example"})
    _hot(app, router.id)
    run_worker(app)  # the commit enqueued the sending job: it goes out in seconds
    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["ops@isp.example", "boss@isp.example"]
    assert mail.subject == "[CRITICAL] CPU load on router-1"
    assert "cpu 95% on router-1 (warning ≥ 70, critical ≥ 90)" in mail.text
    _hot(app, router.id, 10, cpu=5)
    run_worker(app)
    assert [m.subject for m in smtp_server.messages] == ["[CRITICAL] CPU load on router-1", "[RESOLVED] CPU load on router-1"]
    with app.app_context():
        log = alerts.deliveries(alerts_of(app)[0].id)
        assert [(n.event, n.state, n.attempts) for n in log] == [("alert_opened", S.sent, 1), ("alert_resolved", S.sent, 1)]


def test_webhook_is_retried_while_the_receiver_is_down_and_signed_when_it_lands(app, make_rule, router, channel, receiver):
    channel("webhook", url=receiver.url("/noc"), secret="whsec-1")
    make_rule("CPU load", for_seconds=0, channels="webhook")
    receiver.stop()
    _hot(app, router.id)
    send(app)
    [note] = notes_of(app)
    assert note.state == S.pending and note.attempts == 1 and "unreachable" in note.last_error
    send(app)  # not due yet: backoff
    assert notes_of(app)[0].attempts == 1
    receiver.start()
    make_due(app, note.id)
    send(app)
    [note] = notes_of(app)
    assert note.state == S.sent and note.attempts == 2
    [request] = receiver.requests
    assert verify("whsec-1", request.headers["X-ISP-Timestamp"], request.body, request.headers["X-ISP-Signature"])
    document = json.loads(request.body)
    assert document["event"] == "alert_opened" and document["customer"] is None
    assert document["alert"]["rule"] == "CPU load" and document["alert"]["severity"] == "critical"
    assert document["alert"]["router"]["name"] == "router-1" and document["alert"]["state"] == "open"
    _hot(app, router.id, 10)  # same state again: nothing more
    send(app)
    assert len(receiver.requests) == 1


def test_telegram_bot_api_gets_chat_and_text_and_the_token_stays_out_of_the_log(app, make_rule, router, channel,
                                                                                 receiver, caplog):
    channel("telegram", api_base=receiver.url(""), chat_id="-1001", secret=BOT_TOKEN)
    make_rule("CPU load", for_seconds=0, channels="telegram", recipients={"telegram": "4242"})
    make_rule("Memory used", for_seconds=0, channels="telegram")  # no chat on the rule: the channel's default
    write_sample(app, router.id, at(0), cpu=95, memory=99)
    evaluate(app, router.id, at(0))
    send(app)
    by_chat = {json.loads(r.body)["chat_id"]: r for r in receiver.requests}
    assert set(by_chat) == {"4242", "-1001"}
    request = by_chat["4242"]
    assert request.method == "POST" and request.path == f"/bot{BOT_TOKEN}/sendMessage"
    assert json.loads(request.body)["text"].startswith("[CRITICAL] CPU load on router-1")
    receiver.status = 401
    write_sample(app, router.id, at(10), cpu=5, memory=5)
    evaluate(app, router.id, at(10))
    send(app)
    failed = [n for n in notes_of(app) if n.event == "alert_resolved"]
    assert failed and all(n.state == S.pending and "HTTP 401" in n.last_error for n in failed)
    assert all(BOT_TOKEN not in n.last_error for n in failed)
    assert BOT_TOKEN not in caplog.text


def test_alert_template_is_editable_and_rendered_in_the_sandbox(app, make_rule, router, channel, receiver):
    channel("webhook", url=receiver.url("/noc"), secret="whsec-1")
    with app.app_context():
        db.session.add(NotificationTemplate(event="alert_opened", channel="webhook", subject="{{ alert.rule }}!",
                                            body="{{ alert.router }} {{ alert.severity }} {{ ''.__class__ }}"))
        db.session.commit()
    make_rule("CPU load", for_seconds=0, channels="webhook")
    _hot(app, router.id)
    [note] = notes_of(app)
    assert note.state == S.dead and "template error" in note.last_error and "not allowed" not in note.body
    with app.app_context():
        template = db.session.scalar(db.select(NotificationTemplate))
        template.body = "{{ alert.router }} is {{ alert.severity }}: {{ alert.message }}"
        db.session.commit()
    _hot(app, router.id, 10, cpu=5)
    _hot(app, router.id, 20, cpu=96)
    send(app)
    [request] = receiver.requests
    assert json.loads(request.body)["body"].startswith("router-1 is critical: cpu 96%")


def test_a_channel_off_or_without_a_recipient_is_logged_as_skipped(app, make_rule, router, channel, smtp_server):
    channel("email", host="127.0.0.1", port=str(smtp_server.port), security="none", sender="noc@isp.example")
    make_rule("CPU load", for_seconds=0, channels="email,sms")
    _hot(app, router.id)
    notes = {n.channel: n for n in notes_of(app)}
    assert notes["email"].state == S.skipped and "names no Email recipient" in notes["email"].last_error
    assert notes["sms"].state == S.skipped and "turned off" in notes["sms"].last_error


def test_send_test_works_on_every_channel_for_a_staff_address(app, client, auth, channel, receiver, smtp_server):
    channel("email", host="127.0.0.1", port=str(smtp_server.port), security="none", sender="noc@isp.example")
    channel("webhook", url=receiver.url("/hook"), secret="whsec-1")
    channel("sms", url=receiver.url("/sms") + "?to={phone}&text={message}")
    channel("telegram", api_base=receiver.url(""), secret=BOT_TOKEN)
    auth.login_as("admin")
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert 'id="channel-telegram"' in page and "Bot token" in page and BOT_TOKEN not in page
    token = csrf_from(page)
    for name, to in (("email", "ops@isp.example"), ("webhook", ""), ("sms", "+254711000111"), ("telegram", "777")):
        response = client.post("/notifications/settings/test", data={"csrf_token": token, "channel": name, "recipient": to})
        assert response.status_code == 302, (name, response.get_data(as_text=True)[:500])
    response = client.post("/notifications/settings/test", data={"csrf_token": token, "channel": "telegram", "recipient": ""})
    assert response.status_code == 422 and "Type where to send the Telegram test" in response.get_data(as_text=True)
    run_worker(app)
    assert [m.rcpt_tos for m in smtp_server.messages] == [["ops@isp.example"]]
    paths = sorted(r.path.split("?")[0] for r in receiver.requests)
    assert paths == sorted(["/hook", "/sms", f"/bot{BOT_TOKEN}/sendMessage"])
    [telegram] = [r for r in receiver.requests if r.path.startswith("/bot")]
    assert json.loads(telegram.body)["chat_id"] == "777"
