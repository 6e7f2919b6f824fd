"""Forms of the billing blueprint: payment, adjustment, refund, credit note, plan change."""
from __future__ import annotations

import secrets

from flask import request
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from isp.models import PaymentMethod

METHOD_CHOICES = [(m.value, m.label) for m in PaymentMethod]
AMOUNT = {"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}


class OnceForm(FlaskForm):
    """A form that moves money: a one-time nonce, made when the page is shown, so a double submit posts once."""

    nonce = HiddenField()

    def __init__(self, *args: object, **kwargs: object) -> None:
        """The form; a fresh nonce on a page shown (a re-shown POST keeps the one it was sent with)."""
        super().__init__(*args, **kwargs)
        if request.method == "GET" or not self.nonce.data:
            self.nonce.data = secrets.token_urlsafe(16)


class PaymentForm(OnceForm):
    """Money received from a customer."""

    amount = StringField("Amount", validators=[InputRequired(message="Give the amount received."), Length(max=20)],
                         render_kw=AMOUNT)
    method = SelectField("Method", choices=METHOD_CHOICES, default="cash")
    reference = StringField("Reference", validators=[Length(max=64, message="At most 64 characters.")],
                            render_kw={"autocomplete": "off", "spellcheck": "false",
                                       "placeholder": "Transaction code on the slip or SMS"})
    note = StringField("Note", validators=[Length(max=200, message="At most 200 characters.")])


class AdjustmentForm(OnceForm):
    """A signed correction of a customer's balance, with its reason."""

    amount = StringField("Amount", validators=[InputRequired(message="Give the amount."), Length(max=20)],
                         render_kw={**AMOUNT, "placeholder": "-150.00 or 500.00"})
    reason = TextAreaField("Reason", validators=[Length(max=200, message="At most 200 characters.")], render_kw={"rows": 2})


class RefundForm(OnceForm):
    """Credit paid back out to a customer."""

    amount = StringField("Amount", validators=[InputRequired(message="Give the amount refunded."), Length(max=20)],
                         render_kw=AMOUNT)
    method = SelectField("Paid back by", choices=METHOD_CHOICES, default="cash")
    reason = TextAreaField("Reason", validators=[Length(max=200, message="At most 200 characters.")], render_kw={"rows": 2})


class CreditNoteForm(FlaskForm):
    """A credit note against one invoice (blank amount: the whole remainder)."""

    amount = StringField("Amount", validators=[Length(max=20)], render_kw={**AMOUNT, "placeholder": "All that is left"})
    reason = TextAreaField("Reason", validators=[Length(max=200, message="At most 200 characters.")], render_kw={"rows": 2})


class ChangePlanForm(FlaskForm):
    """The new plan, and the moment the figures shown were quoted (so the posted figures are the shown ones)."""

    plan_id = SelectField("New plan", coerce=int, validate_choice=False)
    at = HiddenField()
