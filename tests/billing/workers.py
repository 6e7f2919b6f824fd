"""Entry points for billing tests that need a second process (spawned: nothing shared but the database)."""
from __future__ import annotations

from datetime import datetime


def run_billing(url: str, now_iso: str, chunk: int, barrier, results) -> None:
    """Run the billing job's unit of work in this process once the barrier releases; put the counts on `results`."""
    from isp.services import billing, renewal
    from isp.transaction import atomic
    from tests.conftest import make_test_app

    renewal.CHUNK = chunk
    app = make_test_app(url)
    with app.app_context():
        try:
            barrier.wait(120)
            results.put(("ok", billing.run(datetime.fromisoformat(now_iso), atomic)))
        except Exception as err:  # noqa: BLE001 - reported to the test
            results.put(("error", f"{type(err).__name__}: {err}"))
