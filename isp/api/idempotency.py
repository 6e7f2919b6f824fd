"""Idempotency-Key on POSTs that create money or vouchers: a retry returns the first answer instead of acting twice.

    @bp.route("/batches")
    class Batches(MethodView):
        @scopes("vouchers")
        @idempotent(required=True)        # outermost of the smorest decorators' group: it sees the final Response
        @bp.arguments(BatchCreate)
        @bp.response(202, BatchSchema)
        def post(self, data): ...          # flushes, never commits: the decorator commits change + key together

- The key (1-128 printable ASCII characters) is per token. The first request inserts the key row BEFORE running the
  view, in the same transaction as the change, and stores status and body after; then commits once.
- A retry with the same key and the same request (method, path, canonical JSON body) replays the stored status and
  body with `Idempotent-Replayed: true`; the same key with another request → 422 problem.
- Two concurrent requests with one key: the second's insert hits the unique constraint (token_id, key) and gets
  409 (retry it to receive the first one's answer); nothing of it is written. A clash of the change itself at the
  final commit is a 409 too, saying so: nothing was saved, the key included.
- The answer's Location header is stored with it and replayed.
- Only successes are stored: a failed request rolls back (key included), so the client can fix it and retry.
- Required (400 problem without it) on voucher batch generation and payments; optional elsewhere.
- Keys live RETENTION (24 h): a token's expired keys are deleted when it next sends one; `purge()` deletes all
  expired keys (for a maintenance schedule, optional).
"""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, g, request
from flask_smorest import Blueprint
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, OperationalError

from isp.api.errors import ApiError
from isp.extensions import db
from isp.models.base import utcnow
from isp.models.security import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY = 128
RETENTION = timedelta(hours=24)
IN_PROGRESS = 0


def fingerprint() -> str:
    """SHA-256 of method, path and the canonical JSON body (key order and whitespace do not matter)."""
    body = request.get_json(silent=True)
    if body is not None:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    else:
        canonical = request.get_data().decode("latin-1")
    return hashlib.sha256(f"{request.method}\n{request.path}\n{canonical}".encode()).hexdigest()


def _key(required: bool) -> str | None:
    """The request's key, checked; None when absent and optional."""
    key = request.headers.get(HEADER)
    if key is None or key == "":
        if required:
            raise ApiError(400, f"Send an {HEADER} header (e.g. a UUID) so a retry cannot act twice.",
                           errors={HEADER: ["Missing header."]})
        return None
    if len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
        raise ApiError(400, f"{HEADER} must be 1 to {MAX_KEY} printable ASCII characters.",
                       errors={HEADER: ["Invalid value."]})
    return key


def _replay(row: IdempotencyKey, print_: str):
    """The stored answer, or a 422 when the key came with another request."""
    if row.fingerprint != print_:
        raise ApiError(422, f"This {HEADER} was used for a different request; use a new key.",
                       errors={HEADER: ["Already used with another request body."]})
    response = current_app.response_class(row.response_body, status=row.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    if row.location:
        response.headers["Location"] = row.location
    return response


def _conflict() -> ApiError:
    db.session.rollback()
    return ApiError(409, f"A request with this {HEADER} is being processed or has just finished; retry to get its answer.")


def idempotent(required: bool = False) -> Callable:
    """Decorate a POST view (outside @bp.arguments/@bp.response) to make it idempotent by key; the decorator commits."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            key = _key(required)
            if key is None:
                result = view(*args, **kwargs)
                db.session.commit()
                return result
            token_id = g.api_token.id
            print_ = fingerprint()
            now = utcnow()
            row = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.token_id == token_id,
                                                                 IdempotencyKey.key == key))
            if row is not None and row.created_at >= now - RETENTION:
                return _replay(row, print_)
            # This token's expired keys (this one included) go now, in the change's transaction: no schedule needed.
            db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.token_id == token_id,
                                                            IdempotencyKey.created_at < now - RETENTION))
            row = IdempotencyKey(token_id=token_id, key=key, fingerprint=print_, status_code=IN_PROGRESS,
                                 response_body="", created_at=now)
            db.session.add(row)
            try:
                db.session.flush()  # takes the unique key now: a concurrent twin waits here, then fails
            except IntegrityError:
                raise _conflict() from None
            except OperationalError as err:  # SQLite: the twin's write lock timed out; the advice is the same
                if "locked" not in str(err):
                    raise
                raise _conflict() from None
            try:
                response = current_app.make_response(view(*args, **kwargs))
            except BaseException:
                db.session.rollback()
                raise
            if response.status_code >= 400:
                db.session.rollback()
                return response
            row.status_code = response.status_code
            row.response_body = response.get_data(as_text=True)
            row.location = (response.headers.get("Location") or "")[:512]
            try:
                db.session.commit()
            except IntegrityError:
                # The key was taken at the first flush: what clashed now is the change itself, with a write that
                # committed meanwhile. Nothing was saved, the key included, so the same request may simply be sent again.
                db.session.rollback()
                raise ApiError(409, "This request clashed with a change saved at the same moment and nothing was saved; "
                                    f"send it again (the same {HEADER} is fine).") from None
            return response

        params = [{"in": "header", "name": HEADER, "required": required, "schema": {"type": "string", "minLength": 1,
                   "maxLength": MAX_KEY, "pattern": "^[ -~]+$"},
                   "description": "A unique value per intended action (e.g. a UUID); a retry with it replays the answer"}]
        return Blueprint.doc(parameters=params)(wrapped)

    return decorator


def purge(now: datetime | None = None) -> int:
    """Delete keys older than RETENTION; returns how many (the caller commits)."""
    cutoff = (now or utcnow()) - RETENTION
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return result.rowcount or 0
