"""After-commit enqueueing: a job leaves only with the rows it was queued with."""
from rq import Queue

from isp import dispatch
from isp.extensions import db


def _queued(app) -> set[str]:
    return set(Queue("normal", connection=app.config["REDIS_CLIENT"]).job_ids)


def _job(name: str) -> dispatch.Enqueue:
    return dispatch.Enqueue(dispatch.RECONCILE, (1, "test"), name)


def test_a_job_queued_in_a_rolled_back_savepoint_is_not_sent(app):
    with app.app_context():
        dispatch.after_commit(db.session, _job("outer"))
        try:
            with db.session.begin_nested():
                dispatch.after_commit(db.session, _job("undone"))
                with db.session.begin_nested():
                    dispatch.after_commit(db.session, _job("inner-released-then-undone"))
                raise RuntimeError("this row is bad")
        except RuntimeError:
            pass
        with db.session.begin_nested():
            dispatch.after_commit(db.session, _job("kept"))
        assert _queued(app) == set()  # nothing leaves before the commit
        db.session.commit()
    assert _queued(app) == {"outer", "kept"}


def test_a_rolled_back_unit_sends_nothing(app):
    with app.app_context():
        dispatch.after_commit(db.session, _job("never"))
        db.session.rollback()
        db.session.commit()
    assert _queued(app) == set()
