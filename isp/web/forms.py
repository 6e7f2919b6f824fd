"""The one path a form takes in a view: validate, run the service as one unit of work, show a refusal."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash
from flask_wtf import FlaskForm

from isp.services.errors import ServiceError
from isp.transaction import atomic

T = TypeVar("T")


def submit(form: FlaskForm | None, work: Callable[[], T], field: str | None = None) -> T | bool | None:
    """Validate `form`, run work() committed once (re-run on a deadlock), and return its result (True if it returns None).

    None means "show the form again": the form did not validate, or the service refused. A refusal is
    rolled back and its message goes on form[err.field] (form[field] when the form has no such field);
    with no field (a button form, which redirects) it is flashed. Pass form=None when the view has already checked its form.
    """
    if form is not None and not form.validate_on_submit():
        return None
    try:
        result = atomic(work)
    except ServiceError as err:
        if form is None or field is None:
            flash(err.message, "error")
        else:
            form[err.field if err.field in form else field].errors.append(err.message)
        return None
    return True if result is None else result
