"""The Telegram bot token never reaches a log: a malformed token is refused on save, and a request that cannot
even be built (http.client.InvalidURL, whose text is the whole URL) becomes a DeliveryError without the URL."""
from __future__ import annotations

import json
import logging
import urllib.request

import pytest

from isp import crypto
from isp.extensions import db
from isp.models import NotificationChannel, NotificationState, User
from isp.services import channels, notification_settings, notifications
from isp.services.errors import ServiceError
from tests.notifications.helpers import rows, send

GOOD = "123456:AAF-secret-bot-token"


@pytest.mark.parametrize("bad", ["123456:AAF secret bot token xx", "123456:AAF-secret\x01bot-token-xx", "not-a-token",
                                 "123456:short"])
def test_a_malformed_bot_token_is_refused_on_save_with_a_clear_error(app, admin, bad):
    with app.app_context():
        with pytest.raises(ServiceError) as refused:
            notification_settings.save_channel(db.session.get(User, admin.id), "telegram", True,
                                               {"chat_id": "-1001"}, bad)
        assert refused.value.field == "secret" and "BotFather" in str(refused.value)
        assert bad not in str(refused.value)
        db.session.rollback()
        assert db.session.get(NotificationChannel, "telegram") is None


def test_a_good_token_is_saved_trimmed(app, admin):
    with app.app_context():
        notification_settings.save_channel(db.session.get(User, admin.id), "telegram", True, {}, f" {GOOD} ")
        db.session.commit()
        row = db.session.get(NotificationChannel, "telegram")
        assert crypto.decrypt_bound(row.secret_encrypted)[0] == GOOD


def test_a_request_that_cannot_be_built_fails_without_the_url(caplog):
    url = f"http://127.0.0.1:9/bot{GOOD}\x7f/sendMessage"  # a control character: http.client raises InvalidURL
    with pytest.raises(channels.DeliveryError) as failed:
        channels._http(urllib.request.Request(url, data=b"{}", method="POST"), "Telegram 127.0.0.1")
    assert GOOD not in str(failed.value) and "127.0.0.1" in str(failed.value)
    assert GOOD not in caplog.text


def test_a_token_saved_before_the_check_is_quoted_and_stays_out_of_the_log(app, admin, receiver, caplog):
    legacy = "123456:AAF secret bot token"  # a space: unquoted, http.client would raise InvalidURL with the URL
    with app.app_context():
        config = {"api_base": receiver.url(""), "chat_id": ""}
        row = NotificationChannel(channel="telegram", enabled=True, config_json=json.dumps(config),
                                  secret_encrypted=crypto.encrypt_bound(legacy, channels.CHANNELS["telegram"].binding(config)))
        db.session.add(row)
        db.session.commit()
        notifications.queue_test(db.session.get(User, admin.id), "telegram", "777")
        db.session.commit()
    caplog.set_level(logging.DEBUG)
    send(app)
    [note] = rows(app)
    assert note.state == NotificationState.sent, note.last_error
    [request] = receiver.requests
    assert request.path == "/bot123456:AAF%20secret%20bot%20token/sendMessage"
    assert legacy not in caplog.text and "AAF secret" not in caplog.text
