"""Real receivers on loopback for the notification tests: an SMTP server (aiosmtpd) and an HTTP server."""
from __future__ import annotations

import socket
import threading
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from isp.extensions import db as _db

SMTP_USER, SMTP_PASSWORD = "mailer", "smtp-pass-9f3k"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """What the SMTP server received: one entry per message, as the server parsed it."""

    def __init__(self) -> None:
        self.messages: list[SimpleNamespace] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        parsed: EmailMessage = message_from_bytes(envelope.original_content, policy=policy.default)
        html = parsed.get_body(("html",))
        text = parsed.get_body(("plain",))
        self.messages.append(SimpleNamespace(
            mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos), subject=str(parsed["Subject"]),
            html=html.get_content() if html else "", text=text.get_content() if text else "", raw=envelope.original_content))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
            if (auth_data.login.decode(), auth_data.password.decode()) == (SMTP_USER, SMTP_PASSWORD):
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (plain, AUTH allowed without TLS so the login is exercised)."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), authenticator=box.authenticate,
                            auth_require_tls=False)
    controller.start()
    box.port = controller.port
    try:
        yield box
    finally:
        controller.stop()


class Receiver:
    """An HTTP server on 127.0.0.1 at a random port that records every request; it can be stopped and restarted."""

    def __init__(self) -> None:
        self.requests: list[SimpleNamespace] = []
        self.status = 200
        self.port = free_port()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.requests.append(SimpleNamespace(method=self.command, path=self.path,
                                                         headers=self.headers, body=body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = _record  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver():
    """A running HTTP receiver."""
    running = Receiver()
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def admin(app, make_user):
    """An admin account (the actor of settings changes)."""
    return make_user("admin")


@pytest.fixture
def make_customer(app):
    """Factory: make_customer(**fields) -> customer id."""
    from isp.models import Customer

    counter = {"n": 0}

    def factory(**fields):
        counter["n"] += 1
        data = {"account_no": f"T-{counter['n']:06d}", "name": f"Customer {counter['n']}", "phone": "+254700000001",
                "email": f"c{counter['n']}@example.com"}
        data.update(fields)
        with app.app_context():
            customer = Customer(**data)
            _db.session.add(customer)
            _db.session.commit()
            return customer.id

    return factory


@pytest.fixture
def make_subscription(app, make_router):
    """Factory: make_subscription(customer_id, paid_until=..., **fields) -> subscription id (plan 'Home 10M', 2,500.00)."""
    from isp.models import ServiceKind, ServicePlan, Subscription, SubscriptionState

    state = {"router": None, "plan": None, "n": 0}

    def factory(customer_id, **fields):
        state["n"] += 1
        if state["router"] is None:
            state["router"] = make_router().id
        with app.app_context():
            if state["plan"] is None:
                plan = ServicePlan(name="Home 10M", kind=ServiceKind.pppoe, profile_name="isp-home-10m",
                                   price=Decimal("2500.00"), rate_limit="10M/10M")
                _db.session.add(plan)
                _db.session.flush()
                state["plan"] = plan.id
            data = {"customer_id": customer_id, "kind": ServiceKind.pppoe, "username": f"user{state['n']}",
                    "plan_id": state["plan"], "router_id": state["router"], "state": SubscriptionState.active,
                    "auto_renew": True}
            data.update(fields)
            sub = Subscription(**data)
            _db.session.add(sub)
            _db.session.commit()
            return sub.id

    return factory


@pytest.fixture
def channel(app, admin):
    """channel(name, enabled=True, secret='', **config): save a channel's settings as the admin would."""
    from isp.models import User
    from isp.services import notification_settings

    def factory(name, enabled=True, secret="", **config):
        with app.app_context():
            notification_settings.save_channel(_db.session.get(User, admin.id), name, enabled, config, secret)
            _db.session.commit()

    return factory
