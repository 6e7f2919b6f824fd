"""Small helpers shared by the notification tests."""
from __future__ import annotations

from datetime import timedelta

from isp.extensions import db
from isp.models import Customer, Notification, Subscription
from isp.models.base import utcnow


def notify(app, event, customer_id, subscription_id=None, dedupe_key=None, **context) -> list[int]:
    """Queue an event as the billing code would (one committed unit); returns the new rows' ids."""
    from isp.services import notifications

    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        sub = db.session.get(Subscription, subscription_id) if subscription_id else None
        rows = notifications.notify(event, customer, sub, dedupe_key=dedupe_key, **context)
        db.session.commit()
        return [r.id for r in rows]


def send(app) -> int:
    """One run of the sending job, as a worker runs it."""
    from isp.jobs.notifications import send_due

    with app.app_context():
        try:
            return send_due()
        finally:
            db.session.remove()


def row(app, notification_id) -> Notification:
    """A fresh copy of a notification row (detached)."""
    with app.app_context():
        found = db.session.get(Notification, notification_id)
        db.session.expunge(found)
        return found


def rows(app) -> list[Notification]:
    """Every notification row, oldest first (detached)."""
    with app.app_context():
        found = list(db.session.scalars(db.select(Notification).order_by(Notification.id)))
        db.session.expunge_all()
        return found


def make_due(app, notification_id) -> None:
    """Pretend the retry time has come (what waiting out the backoff would do)."""
    with app.app_context():
        db.session.get(Notification, notification_id).next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


def set_branding(app, **fields) -> None:
    """Business name, currency, reminder days."""
    from isp.services import branding

    with app.app_context():
        current = branding.get()
        for key, value in fields.items():
            setattr(current, key, value)
        db.session.commit()
