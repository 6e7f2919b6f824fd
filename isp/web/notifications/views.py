"""Notification channels, templates and the delivery log: views."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from isp.extensions import db
from isp.models import NotificationChannel
from isp.services import message_templates, notification_delivery, notification_settings, notifications
from isp.services.channels import CHANNELS, html_to_text, mask
from isp.services.errors import ServiceError
from isp.web.forms import submit
from isp.web.notifications import bp
from isp.web.notifications.forms import SendTestForm, TemplateForm, channel_form
from isp.web.render import render
from isp.web.security import ALL_ROLES, STAFF, role_required


@bp.route("/")
@role_required(*STAFF)
def index():
    """Every message, newest first, filtered by state, channel and event."""
    filters = {k: request.args.get(k, "") for k in notification_delivery.LOG_FILTERS}
    page = notification_delivery.log_page(filters, current_app.config["PAGE_SIZE"])
    return render("notifications/index.html", block="results", page=page, filters=filters, mask=mask,
                  customers=notification_delivery.customers_of(page.items), channels=CHANNELS,
                  events=[*message_templates.ALL_EVENTS, message_templates.TEST_EVENT],
                  states=[s.name for s in notification_delivery.S])


def _settings_page(forms: dict | None = None, test_form: SendTestForm | None = None, status: int = 200):
    rows = notification_settings.channel_rows()
    forms = {name: (forms or {}).get(name) or channel_form(name, row) for name, row in rows.items()}
    return render("notifications/settings.html", forms=forms, rows=rows, channels=CHANNELS,
                  test_form=test_form or SendTestForm(), grid=notification_settings.templates_grid(),
                  recent=notification_delivery.recent_tests(),
                  mask=mask, status=status)


@bp.route("/settings")
@role_required("admin")
def settings():
    """Channels (enable, settings, write-only secret), a test message, and the templates per event."""
    return _settings_page()


@bp.route("/settings/channel", methods=["POST"])
@role_required("admin")
def save_channel():
    """Save one channel's settings; the secret is replaced only when one is typed."""
    name = request.form.get("channel", "")
    if name not in CHANNELS:
        abort(400)
    form = channel_form(name, db.session.get(NotificationChannel, name), submitted=True)
    if submit(form, lambda: notification_settings.save_channel(current_user, name, bool(form.enabled.data), form.values(),
                                                               form.secret.data or "", bool(form.clear_secret.data)),
              field="secret") is not None:
        flash(f"{CHANNELS[name].label} settings saved.", "success")
        return redirect(url_for("notifications.settings", _anchor=f"channel-{name}"))
    return _settings_page(forms={name: form}, status=422)


@bp.route("/settings/test", methods=["POST"])
@role_required("admin")
def send_test():
    """Queue the reminder, filled with sample data, to an address typed in; its result shows on the page."""
    form = SendTestForm()
    if submit(form, lambda: notifications.queue_test(current_user, form.channel.data, form.recipient.data or ""),
              field="recipient") is not None:
        flash("Test message queued: its result shows under Recent tests in a few seconds.", "success")
        return redirect(url_for("notifications.settings", _anchor="test"))
    return _settings_page(test_form=form, status=422)


def _template_args() -> tuple[str, str]:
    event, channel = request.values.get("event", "reminder"), request.values.get("channel", "email")
    if event not in message_templates.ALL_EVENTS or channel not in CHANNELS:
        abort(404)
    if event in message_templates.EVENTS and CHANNELS[channel].staff_only:
        abort(404)
    return event, channel


def _preview(event: str, channel: str, form: TemplateForm) -> dict:
    """The rendered sample message (shown escaped), or the error that stops it."""
    try:
        subject, body = notification_settings.preview(event, channel, form.subject.data or "", form.body.data or "")
    except ServiceError as err:
        return {"error": err.message}
    text = html_to_text(body) if CHANNELS[channel].html else body
    return {"subject": subject, "body": body, "text": text, "html": CHANNELS[channel].html, "length": len(text)}


@bp.route("/templates", methods=["GET", "POST"])
@role_required("admin")
def edit_template():
    """Edit one event's message on one channel, checked by rendering it with sample data."""
    event, channel = _template_args()
    if request.method == "GET":
        subject, body, enabled, custom = notification_settings.template(event, channel)
        form = TemplateForm(data={"event": event, "channel": channel, "subject": subject, "body": body, "enabled": enabled})
    else:
        form = TemplateForm()
        restore = request.form.get("action") == "restore"
        if submit(form, lambda: notification_settings.save_template(current_user, event, channel, form.subject.data or "",
                                                                    form.body.data or "", bool(form.enabled.data), restore),
                  field="body") is not None:
            flash("Template restored to the default." if restore else "Template saved.", "success")
            return redirect(url_for("notifications.settings", _anchor="templates"))
        custom = True
    return render("notifications/template.html", form=form, event=event, channel=channel, custom=custom,
                  event_label=message_templates.ALL_EVENTS[event], channel_label=CHANNELS[channel].label,
                  preview=_preview(event, channel, form),
                  variables=(message_templates.ALERT_VARIABLE_HELP if event in message_templates.ALERT_EVENTS
                             else message_templates.VARIABLE_HELP),
                  status=422 if form.errors else 200)


@bp.route("/templates/preview", methods=["POST"])
@role_required("admin")
def preview_template():
    """The preview panel for the text being typed (htmx)."""
    event, channel = _template_args()
    form = TemplateForm()
    if not form.validate_on_submit():
        abort(400)
    return render("notifications/template.html", block="preview", preview=_preview(event, channel, form))


@bp.route("/customers/<int:customer_id>/log")
@role_required(*ALL_ROLES)
def customer_log(customer_id: int):
    """A customer's delivery log as a fragment for the customer page (a reseller's own customers only)."""
    customer, rows = notification_delivery.customer_log(current_user, customer_id)
    if customer is None:
        abort(404)
    return render("notifications/customer_log.html", customer=customer, rows=rows, mask=mask)
