"""The CSV import's real run, on `bulk`: the whole file in one transaction, its outcome kept for the uploader's page."""
from __future__ import annotations

import logging

from rq.timeouts import JobTimeoutException

from isp import dispatch
from isp.extensions import db
from isp.models import Role, User
from isp.services import importer
from isp.services.errors import ServiceError
from isp.transaction import atomic

log = logging.getLogger(__name__)
IMPORTERS = (Role.admin, Role.operator)  # who may import (the confirm view's roles), checked again when the run starts


def run_import(token: str, user_id: int) -> str:
    """Check the confirmed file again and write it in one transaction as the user who confirmed it; keep the outcome."""
    ref = importer.run_ref(token)
    if not importer.mark_running(token):
        log.warning("import %s had started before; this copy of its job does nothing", ref)
        return "started before"  # never a second run, nor an outcome overwritten
    try:
        outcome = _run(token, user_id)
    except JobTimeoutException:
        log.error("import %s ran past %s s and was rolled back", ref, dispatch.IMPORT_RUN.timeout)
        importer.finish(token, importer.failed(f"The import took longer than {dispatch.IMPORT_RUN.timeout // 60} minutes "
                                               "and was stopped: nothing was written. Split the file and try again."))
        raise
    except Exception:
        log.exception("import %s failed", ref)
        importer.finish(token, importer.failed("The import failed on the server (the error is in the worker's log): "
                                               "nothing was written."))
        raise
    importer.finish(token, outcome)
    log.info("import %s by user %s: %s", ref, user_id, outcome["state"])
    return outcome["state"]


def _run(token: str, user_id: int) -> dict:
    """The run's outcome: done, refused (the checks failed inside the transaction) or failed; anything else raises."""
    stashed = importer.unstash(token, user_id)
    if stashed is None:
        return importer.failed("The checked file was no longer on the server when a worker got to it: nothing was "
                               "written. Upload it again.")

    def unit() -> importer.Report:
        actor = db.session.get(User, user_id)  # loaded inside the unit: a re-run after a deadlock loads it afresh
        if actor is None or not actor.active or actor.role not in IMPORTERS:
            raise ServiceError("The account that confirmed this import may no longer import: nothing was written.")
        return importer.run(stashed.data, stashed.options, actor, stashed.filename, importer.run_ref(token))

    try:
        return importer.done(atomic(unit))
    except importer.ImportRefused as err:
        return importer.refused(err.report)
    except ServiceError as err:
        return importer.failed(err.message)
