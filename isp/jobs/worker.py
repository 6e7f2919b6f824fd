"""The RQ worker that runs jobs in-process, so it can own long-lived router connections."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from rq import SimpleWorker

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue

log = logging.getLogger(__name__)


class IspWorker(SimpleWorker):
    """SimpleWorker with an app context per job, a pool it owns, and a clean teardown.

    A SimpleWorker does not fork per job, so connections made by one job serve
    the next. SIGTERM asks for a warm shutdown: the current job finishes first;
    a hard kill leaves its rows `running`, which the outbox sweep re-queues.
    """

    app = None  # set by `flask worker` before work() starts

    @property
    def dequeue_timeout(self) -> int:
        # Wake up regularly even when idle, to evict idle router connections.
        return 10

    def perform_job(self, job: Job, queue: Queue) -> bool:
        from isp.extensions import db
        from isp.services import audit

        with self.app.app_context(), audit.source("job"):  # what a job records is the system's (via=job)
            try:
                return super().perform_job(job, queue)
            finally:
                db.session.remove()

    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        result = super().heartbeat(*args, **kwargs)
        if self.app is not None:
            from isp.routeros import runtime

            with self.app.app_context():
                runtime.evict_idle()
        return result

    def teardown(self) -> None:
        if self.app is not None:
            from isp.routeros import runtime

            with self.app.app_context():
                runtime.close_pool()
        super().teardown()
