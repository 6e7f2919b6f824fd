"""API billing fixtures: the billing tests' `bill` factories, and API tokens made through the service."""
from __future__ import annotations

import pytest

from isp.extensions import db as _db
from tests.alerts_web.conftest import _no_seeded_rules, make_alert, make_rule  # noqa: F401  (alert fixtures)
from tests.billing.conftest import bill, spy_sync  # noqa: F401  (fixtures shared with the billing tests)


@pytest.fixture
def token(app):
    """Factory: token(user_id, *scopes) -> the Authorization headers of a fresh token of that user."""
    from isp.models import User
    from isp.services import api_tokens

    def factory(user_id: int, *scopes: str) -> dict[str, str]:
        with app.app_context():
            _, raw = api_tokens.create(_db.session.get(User, user_id), "test", set(scopes or ("read",)), None)
            _db.session.commit()
        return {"Authorization": f"Bearer {raw}"}

    return factory
