"""A private FreeRADIUS for the tests (being built: see the `freeradius` fixture)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def freeradius():
    """A running private FreeRADIUS reading the test profile's radius database."""
    pytest.skip("FreeRADIUS fixture not built yet")
