"""The settings row is created on first use; two requests creating it at once must not answer 500."""
from __future__ import annotations

from sqlalchemy import select

from isp.extensions import db
from isp.models import Branding
from isp.services import branding


def test_a_request_that_loses_the_race_to_create_the_settings_row_reads_the_winners(app):
    with app.app_context():
        assert db.session.get(Branding, 1) is None  # a fresh install: nobody has saved the settings yet
        db.session.remove()
    # The winner: another request created and committed the row (its own connection).
    with app.app_context():
        db.session.add(Branding(id=1, business_name="Winner Net", currency="KES", expiry_action="remove", logo_mime=""))
        db.session.commit()
    with app.app_context():
        # The loser looked before the winner committed and found nothing, then inserts.
        real_get, calls = db.session.get, []

        def stale_first_look(entity, ident, **kw):
            calls.append(ident)
            return None if len(calls) == 1 else real_get(entity, ident, **kw)

        db.session.get = stale_first_look
        try:
            row = branding.get()
        finally:
            db.session.get = real_get
        assert (row.business_name, row.currency) == ("Winner Net", "KES")
        db.session.commit()  # the request goes on and commits: nothing of the failed insert is left behind
        assert len(db.session.scalars(select(Branding)).all()) == 1
