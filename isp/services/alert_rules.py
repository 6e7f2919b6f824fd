"""Alert rules as data: create, edit, enable/disable and delete them, each kind with its own knobs, validated here
with the message on the field, audited with the changed fields before and after. Admins only (the views check).

Where a kind keeps its knobs (what the engine reads):
- metric: `metric`, `below`, `warning`/`critical`, `hysteresis`, `for_seconds`
- offline: params {"seconds": N} (not seen for N s)
- interface_down: `for_seconds`
- link_flap: `warning` = the count of link downs, params {"window": seconds}
- traffic_spike: `warning`/`critical` = factors over the baseline, `hysteresis`, `for_seconds`, params {"min_bps": N}
- dead_letters, backlog (seconds), radius_failures (per minute), suspensions (per hour): `warning`/`critical`
- reseller_stock: `below` always, `warning`/`critical` in vouchers
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select

from isp.extensions import db
from isp.models import AlertKind, AlertRule, AlertScope, Router, User
from isp.services import audit, routers
from isp.services.errors import ServiceError

METRICS = {"cpu": ("CPU", "%", 0, 100), "memory": ("Memory used", "%", 0, 100),
           "temperature": ("Temperature", "°C", -40, 150), "voltage": ("Voltage", "V", 0, 100)}
ROUTER_KINDS = {AlertKind.metric, AlertKind.offline, AlertKind.interface_down, AlertKind.link_flap,
                AlertKind.traffic_spike}
AUDITED = ("name", "metric", "below", "warning", "critical", "hysteresis", "for_seconds", "scope", "site", "router_id",
           "params_json", "channels", "recipients_json", "escalate_after_minutes", "escalate_channels",
           "notify_recovery", "enabled")
# Channels with an address of their own in the channel settings (the webhook's URL, Telegram's default chat):
# a rule may leave their recipient blank. Email takes a comma-separated list (as the alert notifier reads it).
DEFAULT_ADDRESS = {"webhook", "telegram"}
MANY_RECIPIENTS = {"email"}
_RATE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([kKmMgG]?)(?:bps|b/s)?$")


@dataclass(frozen=True)
class KindSpec:
    """What a kind asks for on the form and how its thresholds read."""

    label: str
    fields: tuple[str, ...]
    unit: str = ""          # what warning/critical count
    help: str = ""


SPECS: dict[AlertKind, KindSpec] = {
    AlertKind.metric: KindSpec("Router metric", ("metric", "below", "warning", "critical", "hysteresis", "for_seconds"),
                               "", "A gauge (CPU, memory, temperature, voltage) past a threshold."),
    AlertKind.offline: KindSpec("Router offline", ("seconds",), "", "Not seen by the poll for N seconds, or its circuit open."),
    AlertKind.interface_down: KindSpec("Interface down", ("for_seconds",), "",
                                       "An interface not running (and not disabled by us)."),
    AlertKind.link_flap: KindSpec("Link flapping", ("count", "window"), "", "N link downs within a window."),
    AlertKind.traffic_spike: KindSpec("Traffic spike", ("warning", "critical", "hysteresis", "for_seconds", "min_bps"),
                                      "× baseline", "Rate against the same hour's baseline of the last 7 days."),
    AlertKind.dead_letters: KindSpec("Dead letters", ("warning", "critical", "for_seconds"), "commands",
                                     "Router commands that ran out of retries."),
    AlertKind.backlog: KindSpec("Outbox backlog", ("warning", "critical", "for_seconds"), "seconds old",
                                "Age of the oldest unfinished router command."),
    AlertKind.reseller_stock: KindSpec("Reseller stock", ("warning", "critical"), "vouchers",
                                       "A reseller's unsold vouchers below N."),
    AlertKind.radius_failures: KindSpec("RADIUS failures", ("warning", "critical", "for_seconds"), "per minute",
                                        "RADIUS authentication failures per minute."),
    AlertKind.suspensions: KindSpec("Suspensions", ("warning", "critical"), "per hour", "Services suspended per hour."),
}


def channel_names() -> list[str]:
    """The notification channels a rule can use (the channel registry, whatever it holds now)."""
    from isp.services.channels import CHANNELS

    return list(CHANNELS)


def channel_labels() -> dict[str, str]:
    """Channel names with their labels, for the form."""
    from isp.services.channels import CHANNELS

    return {name: getattr(c, "label", name) or name for name, c in CHANNELS.items()}


def list_rules() -> list[AlertRule]:
    """Every rule, by kind then name (a small table)."""
    return list(db.session.scalars(select(AlertRule).order_by(AlertRule.kind, AlertRule.name)))


# -- parsing ------------------------------------------------------------------------------------------------------


def _number(values: dict, field: str, label: str, low: float | None = None, high: float | None = None,
            required: bool = False) -> float | None:
    raw = values.get(field)
    text = "" if raw is None else str(raw).strip()
    if not text:
        if required:
            raise ServiceError(f"{label}: required.", field=field)
        return None
    try:
        number = float(text)
    except ValueError:
        raise ServiceError(f"{label}: '{text[:20]}' is not a number.", field=field) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ServiceError(f"{label}: not a number.", field=field)
    if low is not None and number < low:
        raise ServiceError(f"{label}: at least {low:g}.", field=field)
    if high is not None and number > high:
        raise ServiceError(f"{label}: at most {high:g}.", field=field)
    return number


def _whole(values: dict, field: str, label: str, low: int, high: int, default: int | None = None) -> int:
    number = _number(values, field, label, low, high, required=default is None)
    if number is None:
        return default  # type: ignore[return-value]
    if number != int(number):
        raise ServiceError(f"{label}: a whole number.", field=field)
    return int(number)


def parse_rate(text: str) -> int:
    """'1M', '500k', '2.5G', '1000000' (bits per second, SI units) as an int; ValueError otherwise."""
    match = _RATE.match((text or "").strip())
    if not match:
        raise ValueError(text)
    return int(float(match.group(1)) * {"": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9}[match.group(2).lower()])


def _thresholds(rule: AlertRule, values: dict, spec: KindSpec, kind: AlertKind) -> None:
    low, high = 0.0, 1e12
    if kind is AlertKind.metric:
        _label, _unit, low, high = METRICS[rule.metric]
    if kind is AlertKind.traffic_spike:
        low = 1.0
    warning = _number(values, "warning", "Warning", low, high)
    critical = _number(values, "critical", "Critical", low, high)
    if warning is None and critical is None:
        raise ServiceError("Give a warning or a critical threshold (or both).", field="warning")
    if kind is AlertKind.traffic_spike and any(v is not None and v <= 1 for v in (warning, critical)):
        raise ServiceError("A spike factor must be above 1 (1 is the baseline itself).", field="warning")
    if warning is not None and critical is not None:
        if rule.below and critical > warning:
            raise ServiceError("Critical must be at or below the warning threshold (the rule fires below them).",
                               field="critical")
        if not rule.below and critical < warning:
            raise ServiceError("Critical must be at or above the warning threshold.", field="critical")
    rule.warning, rule.critical = warning, critical


def _knobs(rule: AlertRule, values: dict) -> None:
    """The kind's own fields; the others go back to their defaults so a rule never carries stale knobs."""
    kind, spec = rule.kind, SPECS[rule.kind]
    rule.metric, params = "", dict(values.get("_params") or {})  # knobs the form does not show are kept
    rule.below = kind is AlertKind.reseller_stock
    rule.hysteresis, rule.for_seconds = 0.0, 0
    if "metric" in spec.fields:
        metric = (values.get("metric") or "").strip()
        if metric not in METRICS:
            raise ServiceError("Choose the metric to watch.", field="metric")
        rule.metric, rule.below = metric, bool(values.get("below"))
    if "warning" in spec.fields:
        _thresholds(rule, values, spec, kind)
    else:
        rule.warning = rule.critical = None
    if "hysteresis" in spec.fields:
        rule.hysteresis = _number(values, "hysteresis", "Hysteresis", 0, 1e12) or 0.0
        for threshold in (rule.warning, rule.critical):
            if threshold is not None and rule.hysteresis and kind is AlertKind.metric and rule.hysteresis >= abs(threshold):
                raise ServiceError("Hysteresis must be smaller than the thresholds.", field="hysteresis")
    if "for_seconds" in spec.fields:
        rule.for_seconds = _whole(values, "for_seconds", "For", 0, 86400, default=0)
    if kind is AlertKind.offline:
        params["seconds"] = _whole(values, "seconds", "Offline after", 10, 86400)
    if kind is AlertKind.link_flap:
        rule.warning = float(_whole(values, "count", "Link downs", 2, 1000))
        params["window"] = _whole(values, "window", "Within", 60, 86400)
    if kind is AlertKind.traffic_spike:
        raw = str(values.get("min_bps") or "").strip() or "0"
        try:
            params["min_bps"] = parse_rate(raw)
        except ValueError:
            raise ServiceError(f"Minimum rate: '{raw[:20]}' is not a rate such as 1M or 500k.", field="min_bps") from None
    rule.params = params


def _scope(rule: AlertRule, values: dict) -> None:
    scope = (values.get("scope") or "all").strip()
    if rule.kind not in ROUTER_KINDS or scope == "all":
        rule.scope, rule.site, rule.router_id = AlertScope.all, "", None
        return
    if scope == "site":
        site = (values.get("site") or "").strip()
        if site not in routers.sites():
            raise ServiceError("Choose one of the routers' sites.", field="site")
        rule.scope, rule.site, rule.router_id = AlertScope.site, site, None
        return
    if scope != "router":
        raise ServiceError("Scope: all routers, a site or one router.", field="scope")
    router_id = values.get("router_id")
    router = db.session.get(Router, int(router_id)) if str(router_id or "").isdigit() else None
    if router is None:
        raise ServiceError("Choose the router.", field="router_id")
    rule.scope, rule.site, rule.router_id = AlertScope.router, "", router.id


def _channels(rule: AlertRule, values: dict) -> None:
    from isp.services.channels import CHANNELS

    def picked(key: str) -> list[str]:
        chosen = [c for c in (values.get(key) or []) if c]
        unknown = [c for c in chosen if c not in CHANNELS]
        if unknown:
            raise ServiceError(f"Unknown channel {unknown[0][:20]!r}.", field=key)
        return [c for c in CHANNELS if c in chosen]  # registry order, no duplicates

    channels, escalate = picked("channels"), picked("escalate_channels")
    recipients = {}
    for name in [*channels, *[c for c in escalate if c not in channels]]:
        typed = str((values.get("recipients") or {}).get(name) or "").strip()
        field = f"recipient_{name}"
        if not typed and name in DEFAULT_ADDRESS:
            continue
        if not typed:
            raise ServiceError(f"Where should {CHANNELS[name].label} messages go?", field=field)
        parts = [p.strip() for p in typed.split(",") if p.strip()] if name in MANY_RECIPIENTS else [typed]
        try:
            checked = ", ".join(CHANNELS[name].check_recipient(p) for p in parts)
        except ServiceError as err:
            raise ServiceError(err.message, field=field) from None
        if len(checked) > 254:
            raise ServiceError("At most 254 characters.", field=field)
        if checked:
            recipients[name] = checked
    minutes = _number(values, "escalate_after_minutes", "Escalate after", 1, 10080)
    if minutes is not None and minutes != int(minutes):
        raise ServiceError("Escalate after: whole minutes.", field="escalate_after_minutes")
    if escalate and minutes is None:
        raise ServiceError("Say after how many minutes unacknowledged to escalate.", field="escalate_after_minutes")
    if minutes is not None and not escalate:
        raise ServiceError("Choose the channels to escalate to.", field="escalate_channels")
    if escalate and set(escalate) <= set(channels):
        raise ServiceError("Escalate to at least one channel the rule does not already notify.", field="escalate_channels")
    rule.channels, rule.escalate_channels = ",".join(channels), ",".join(escalate)
    rule.recipients = recipients
    rule.escalate_after_minutes = int(minutes) if minutes is not None else None


# -- operations ---------------------------------------------------------------------------------------------------


def _snapshot(rule: AlertRule) -> dict:
    out = {}
    for key in AUDITED:
        value = getattr(rule, key)
        out[key] = value.value if hasattr(value, "value") else value
    return out


def _changes(before: dict, after: dict) -> str:
    return "; ".join(f"{key}: {before.get(key)!r} → {after[key]!r}" for key in AUDITED if before.get(key) != after[key])


def save_rule(actor: User, rule: AlertRule | None, kind: AlertKind | str, values: dict) -> AlertRule:
    """Create (rule=None) or update a rule from typed values; the kind is fixed once created."""
    name = (values.get("name") or "").strip()
    if not name:
        raise ServiceError("Give the rule a name.", field="name")
    if len(name) > 120:
        raise ServiceError("Name: at most 120 characters.", field="name")
    clash = select(AlertRule.id).where(func.lower(AlertRule.name) == name.lower())
    if rule is not None:
        clash = clash.where(AlertRule.id != rule.id)
    if db.session.scalar(clash) is not None:
        raise ServiceError("Another rule already has this name.", field="name")
    before = _snapshot(rule) if rule is not None else {}
    if rule is None:
        try:
            kind = AlertKind(kind) if not isinstance(kind, AlertKind) else kind
        except ValueError:
            raise ServiceError("Unknown rule kind.", field="name") from None
        rule = AlertRule(kind=kind, name=name)
    # Validate on a detached copy first: a refusal halfway must not leave a half-edited rule in the session.
    draft = AlertRule(kind=rule.kind, name=name)
    _knobs(draft, {**values, "_params": rule.params if rule.id else {}})
    _scope(draft, values)
    _channels(draft, values)
    draft.notify_recovery = bool(values.get("notify_recovery"))
    draft.enabled = bool(values.get("enabled"))
    for key in AUDITED:
        setattr(rule, key, getattr(draft, key))
    if rule.id is None:
        db.session.add(rule)
    db.session.flush()
    after = _snapshot(rule)
    if before:
        detail = _changes(before, after)
        if detail:
            audit.record(actor, "alert_rule.update", rule.name, detail, obj=rule, changes=audit.diff(before, after))
    else:
        audit.record(actor, "alert_rule.create", rule.name, f"kind: {rule.kind.value}; " + _changes({}, after), obj=rule,
                     changes=audit.diff({}, {"kind": rule.kind.value, **after}))
    return rule


def set_enabled(actor: User, rule: AlertRule, enabled: bool) -> AlertRule:
    """Turn a rule on or off (its open alerts resolve on the engine's next pass when off)."""
    if rule.enabled != enabled:
        audit.record(actor, "alert_rule.enable" if enabled else "alert_rule.disable", rule.name,
                     f"enabled: {rule.enabled!r} → {enabled!r}", obj=rule, changes={"enabled": [rule.enabled, enabled]})
        rule.enabled = enabled
        db.session.flush()
    return rule


def delete_rule(actor: User, rule: AlertRule) -> None:
    """Delete a rule and, with it, its alerts' history (CASCADE): disabling keeps the history."""
    audit.record(actor, "alert_rule.delete", rule.name, f"kind: {rule.kind.value}", obj=rule,
                 changes=audit.diff({"kind": rule.kind.value, **_snapshot(rule)}, {}))
    db.session.delete(rule)
    db.session.flush()
