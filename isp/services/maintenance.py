"""Maintenance windows: a router or a site silenced for a period. Typed in the operator's timezone, stored in UTC;
the alert engine reads the table (its alerts still open, nothing is sent). Staff create, end and delete; audited."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from isp.extensions import db
from isp.models import MaintenanceWindow, Router, User
from isp.services import audit, paging, routers
from isp.services.errors import ServiceError

TABS = ("current", "upcoming", "past")
MAX_LENGTH = timedelta(days=31)
LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")


def windows_page(tab: str, now: datetime, per_page: int) -> paging.IdPagination:
    """A page of the current, upcoming or past windows, newest first."""
    stmt = select(MaintenanceWindow)
    if tab == "upcoming":
        stmt = stmt.where(MaintenanceWindow.starts_at > now, MaintenanceWindow.ends_at > now)
    elif tab == "past":
        stmt = stmt.where(MaintenanceWindow.ends_at <= now)
    else:
        stmt = stmt.where(MaintenanceWindow.starts_at <= now, MaintenanceWindow.ends_at > now)
    return paging.paginate(stmt.order_by(MaintenanceWindow.id.desc()), MaintenanceWindow.id, per_page)


def local_to_utc(text: str, tz: str, field: str, label: str) -> datetime:
    """A wall-clock time typed in the operator's zone ('2026-12-02T14:30') as an aware UTC datetime.

    A time the clocks skip over (spring forward) is refused rather than silently moved by an hour.
    """
    raw = (text or "").strip()
    for fmt in LOCAL_FORMATS:
        try:
            naive = datetime.strptime(raw, fmt)
            break
        except ValueError:
            continue
    else:
        raise ServiceError(f"{label}: a date and time such as 2026-12-02 14:30.", field=field)
    if not 1970 <= naive.year <= 9998:  # converting year 1 or 9999 to UTC can overflow
        raise ServiceError(f"{label}: a year between 1970 and 9998.", field=field)
    zone = ZoneInfo(tz)
    moment = naive.replace(tzinfo=zone).astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != naive:
        raise ServiceError(f"{label}: {raw} does not exist in {tz} (the clocks change then).", field=field)
    return moment


def create_window(actor: User, values: dict, tz: str, now: datetime) -> MaintenanceWindow:
    """Silence a router or a site from `starts` (blank: now) to `ends`, both typed in the operator's zone."""
    target = (values.get("target") or "router").strip()
    router_id, site = None, ""
    if target == "router":
        raw = str(values.get("router_id") or "")
        router = db.session.get(Router, int(raw)) if raw.isdigit() else None
        if router is None:
            raise ServiceError("Choose the router.", field="router_id")
        router_id, what = router.id, f"router {router.name}"
    elif target == "site":
        site = (values.get("site") or "").strip()
        if site not in routers.sites():
            raise ServiceError("Choose one of the routers' sites.", field="site")
        what = f"site {site}"
    else:
        raise ServiceError("A window silences a router or a site.", field="target")
    starts = local_to_utc(values["starts"], tz, "starts", "Starts") if (values.get("starts") or "").strip() else now
    ends = local_to_utc(values.get("ends") or "", tz, "ends", "Ends")
    if ends <= now:
        raise ServiceError("Ends is already past: a window must reach into the future.", field="ends")
    if ends <= starts:
        raise ServiceError("Ends must be after it starts.", field="ends")
    if ends - starts > MAX_LENGTH:
        raise ServiceError(f"At most {MAX_LENGTH.days} days; add another window after this one.", field="ends")
    reason = (values.get("reason") or "").strip()
    if not reason:
        raise ServiceError("Say why (the team sees it on the alerts it silences).", field="reason")
    if len(reason) > 255:
        raise ServiceError("Reason: at most 255 characters.", field="reason")
    window = MaintenanceWindow(router_id=router_id, site=site, starts_at=starts, ends_at=ends, reason=reason,
                               created_by_id=actor.id if actor else None)
    db.session.add(window)
    db.session.flush()
    audit.record(actor, "maintenance.create", what, f"{starts.isoformat()} → {ends.isoformat()} UTC: {reason}",
                 obj=window, changes=audit.diff({}, audit.state(window)))
    return window


def _what(window: MaintenanceWindow) -> str:
    if window.router_id:
        router = db.session.get(Router, window.router_id)
        return f"router {router.name if router else window.router_id}"
    return f"site {window.site}"


def end_now(actor: User, window: MaintenanceWindow, now: datetime) -> MaintenanceWindow:
    """End a current window now (an upcoming one is cancelled: it ends before it starts)."""
    if window.ends_at <= now:
        raise ServiceError("This window has already ended.")
    before, fields = window.ends_at, audit.state(window)
    window.ends_at = now
    if window.starts_at > now:
        window.starts_at = now
    db.session.flush()
    audit.record(actor, "maintenance.end", _what(window), f"ends {before.isoformat()} → {now.isoformat()} UTC",
                 obj=window, changes=audit.changed(fields, window))
    return window


def delete_window(actor: User, window: MaintenanceWindow) -> None:
    """Delete a window (its record too: ending it keeps the record)."""
    audit.record(actor, "maintenance.delete", _what(window),
                 f"{window.starts_at.isoformat()} → {window.ends_at.isoformat()} UTC: {window.reason}",
                 obj=window, changes=audit.diff(audit.state(window), {}))
    db.session.delete(window)
    db.session.flush()


def names(windows: list[MaintenanceWindow]) -> tuple[dict[int, str], dict[int, str]]:
    """Router names and creators' usernames of a page of windows (one query each)."""
    router_ids = {w.router_id for w in windows if w.router_id}
    user_ids = {w.created_by_id for w in windows if w.created_by_id}
    router_names = (dict(db.session.execute(select(Router.id, Router.name).where(Router.id.in_(router_ids))).tuples().all())
                    if router_ids else {})
    users = (dict(db.session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).tuples().all())
             if user_ids else {})
    return router_names, users


def as_local(moment: datetime, tz: str) -> str:
    """A UTC moment as the value of a datetime-local input in the operator's zone."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")
