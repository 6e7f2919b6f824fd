"""The harness itself: a request that does write is caught by the no-partial-write check, on either profile."""
from __future__ import annotations

import pytest


def test_a_write_is_detected(world):
    """A valid sign-up passes through the same check and fails it: the check can fail."""
    with pytest.raises(AssertionError, match="partial write"):
        world.bad.post("/customers/new", {"name": "Real Customer", "phone": "+254711000999"}, None, status=302)


def test_an_edit_without_new_rows_is_detected(world):
    """A change to an existing row (no row added) is caught too."""
    with pytest.raises(AssertionError, match="partial write"):
        world.bad.post(f"/customers/{world.customer}/edit", {"name": "Alice Renamed", "phone": "+254700000001",
                                                              "email": "alice@example.com"}, None, status=302)
