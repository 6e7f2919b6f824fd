"""The RQ worker that runs jobs in-process, so it can own long-lived connections."""
from __future__ import annotations

import logging

from rq import SimpleWorker

log = logging.getLogger(__name__)


class IspWorker(SimpleWorker):
    """SimpleWorker with an app context and a fresh DB session per job."""

    app = None  # set by `flask worker` before work() starts

    def perform_job(self, job, queue):  # noqa: ANN001
        from isp.extensions import db

        with self.app.app_context():
            try:
                return super().perform_job(job, queue)
            finally:
                db.session.remove()
