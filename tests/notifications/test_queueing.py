"""notify(): one row per channel and event, deduplicated, skipped when there is no address, rendered sandboxed."""
from __future__ import annotations

from decimal import Decimal

import pytest
from rq import Queue

from isp.extensions import db
from isp.models import Customer, CustomerEvent, Notification, NotificationState, NotificationTemplate, User
from isp.services.errors import ServiceError
from tests.notifications.helpers import notify, rows, send

S = NotificationState


def _queued_jobs(app) -> list[str]:
    return [j for j in Queue("normal", connection=app.config["REDIS_CLIENT"]).job_ids if j.startswith("notify-send-")]


def test_notify_twice_with_the_same_key_queues_one_message_per_channel(app, channel, receiver, make_customer):
    channel("webhook", url=receiver.url(), secret="k")
    channel("sms", url=receiver.url("/sms") + "?to={phone}&text={message}")
    customer_id = make_customer()
    first = notify(app, "payment", customer_id, dedupe_key="payment:9", amount=Decimal("10"))
    again = notify(app, "payment", customer_id, dedupe_key="payment:9", amount=Decimal("10"))
    assert len(first) == 2 and again == []
    assert sorted((r.channel, r.dedupe_key) for r in rows(app)) == [("sms", "payment:9:sms"), ("webhook", "payment:9:webhook")]


def test_a_duplicate_that_slips_past_the_check_does_not_fail_the_callers_transaction(app, channel, receiver,
                                                                                      make_customer, monkeypatch):
    from isp.services import notifications

    channel("webhook", url=receiver.url(), secret="k")
    customer_id = make_customer()
    notify(app, "payment", customer_id, dedupe_key="payment:5")
    monkeypatch.setattr(notifications, "_taken", lambda keys: set())  # a racing caller inserted it after our look
    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        db.session.add(CustomerEvent(customer_id=customer_id, kind="payment", summary="the caller's own write"))
        assert notifications.notify("payment", customer, dedupe_key="payment:5") == []
        db.session.commit()
        assert db.session.scalar(db.select(CustomerEvent.summary)) == "the caller's own write"
    assert len(rows(app)) == 1


def test_no_address_is_recorded_as_skipped_and_nothing_is_sent(app, channel, smtp_server, receiver, make_customer):
    channel("email", host="127.0.0.1", port=str(smtp_server.port), security="none", sender="b@acme.example")
    channel("sms", url=receiver.url("/sms") + "?to={phone}&text={message}")
    customer_id = make_customer(email="", phone="+254711000222")
    notify(app, "welcome", customer_id)
    send(app)
    by_channel = {r.channel: r for r in rows(app)}
    assert by_channel["email"].state == S.skipped and by_channel["email"].last_error == "the customer has no email address"
    assert by_channel["sms"].state == S.sent
    assert smtp_server.messages == [] and len(receiver.requests) == 1


def test_disabled_channels_and_disabled_templates_queue_nothing(app, channel, receiver, make_customer, admin):
    from isp.services import notification_settings

    channel("webhook", url=receiver.url(), secret="k", enabled=False)
    customer_id = make_customer()
    assert notify(app, "welcome", customer_id) == []
    channel("webhook", url=receiver.url(), secret="k")
    with app.app_context():
        notification_settings.save_template(db.session.get(User, admin.id), "welcome", "webhook", "Hi", "Hello", False)
        db.session.commit()
    assert notify(app, "welcome", customer_id) == []
    assert len(notify(app, "payment", customer_id)) == 1


def test_the_sending_job_is_enqueued_only_when_the_unit_commits(app, channel, receiver, make_customer):
    from isp.services import notifications

    channel("webhook", url=receiver.url(), secret="k")
    customer_id = make_customer()
    with app.app_context():  # the caller's unit (say, a payment) fails after queuing its notice
        db.session.add(CustomerEvent(customer_id=customer_id, kind="payment", summary="payment recorded"))
        notifications.notify("payment", db.session.get(Customer, customer_id), dedupe_key="payment:1")
        db.session.rollback()
    assert rows(app) == [] and _queued_jobs(app) == []
    with app.app_context():  # one unit queuing many messages enqueues the job once
        customer = db.session.get(Customer, customer_id)
        for n in range(3):
            notifications.notify("payment", customer, dedupe_key=f"payment:{n}")
        db.session.commit()
    assert len(rows(app)) == 3 and len(_queued_jobs(app)) == 1


def test_sandbox_refuses_attribute_walks_when_the_template_is_saved(app, admin):
    from isp.services import notification_settings

    with app.app_context():
        actor = db.session.get(User, admin.id)
        with pytest.raises(ServiceError) as refused:
            notification_settings.save_template(actor, "reminder", "sms", "Hi", "{{ ''.__class__.__mro__ }}", True)
        assert refused.value.field == "body"
        assert "not allowed: access to attribute '__class__' of 'str' object is unsafe" in refused.value.message
        with pytest.raises(ServiceError) as typo:
            notification_settings.save_template(actor, "reminder", "email", "{{ customer.nmae }}", "x", True)
        assert typo.value.field == "subject" and "has no attribute 'nmae'" in typo.value.message
        with pytest.raises(ServiceError) as huge:
            notification_settings.save_template(actor, "reminder", "sms", "Hi", "{{ 'x' * 100000000 }}", True)
        assert "more than 1000 times" in huge.value.message
        with pytest.raises(ServiceError) as syntax:
            notification_settings.save_template(actor, "reminder", "sms", "Hi", "Hello {{ customer.name ", True)
        assert "line 1" in syntax.value.message
        db.session.rollback()
        assert db.session.scalar(db.select(NotificationTemplate)) is None


def test_a_broken_stored_template_kills_its_row_not_the_job(app, channel, receiver, make_customer):
    channel("webhook", url=receiver.url(), secret="k")
    with app.app_context():  # saved before validation existed, or edited in the database by hand
        db.session.add(NotificationTemplate(event="welcome", channel="webhook", subject="Hi",
                                            body="{{ customer.__class__ }}", enabled=True))
        db.session.commit()
    customer_id = make_customer()
    notify(app, "welcome", customer_id)
    good = notify(app, "payment", customer_id)
    send(app)
    by_event = {r.event: r for r in rows(app)}
    assert by_event["welcome"].state == S.dead and "unsafe" in by_event["welcome"].last_error
    assert by_event["payment"].id in good and by_event["payment"].state == S.sent
    assert len(receiver.requests) == 1


def test_sms_and_webhook_text_is_not_html_escaped_but_email_is(app, channel, smtp_server, receiver, make_customer):
    channel("email", host="127.0.0.1", port=str(smtp_server.port), security="none", sender="b@acme.example")
    channel("webhook", url=receiver.url(), secret="k")
    notify(app, "welcome", make_customer(name="Tom & <Jerry>"))
    bodies = {r.channel: r.body for r in rows(app)}
    assert "Tom &amp; &lt;Jerry&gt;" in bodies["email"] and "Tom & <Jerry>" in bodies["webhook"]


def test_notify_refuses_an_unknown_event(app, make_customer):
    from isp.services import notifications

    customer_id = make_customer()
    with app.app_context(), pytest.raises(ValueError):
        notifications.notify("birthday", db.session.get(Customer, customer_id))
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Notification)) == 0
