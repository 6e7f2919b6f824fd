"""`flask demo` (seed, credentials file, start-up banner) and the embedded Redis controls used by `make demo`."""
from __future__ import annotations

import json
import os
import secrets
import socket
import time
import urllib.error
import urllib.request

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from isp.extensions import db
from isp.models import Role, Router, User
from isp.services import users

embedded_redis_cli = AppGroup("embedded-redis", help="Start or stop the embedded Redis of the default profile.")
CREDENTIALS_FILE = "demo-credentials.txt"
MAX_CUSTOMERS = 700  # distinct demo names (isp/services/demo_specs.py)


def demo_url() -> str:
    """Where `make demo` serves the panel (bin/demo sets HOST and PORT for gunicorn)."""
    return f"http://{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or '5000'}/"


def credentials_path() -> str:
    """instance/demo-credentials.txt."""
    return os.path.join(current_app.instance_path, CREDENTIALS_FILE)


def write_credentials(url: str, logins: list[tuple[str, str, str]], notes: list[str] | None = None) -> str:
    """Write the URL, the (role, username, password) logins and a few notes to the credentials file (owner-only)."""
    path = credentials_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file already existed with a wider mode
    with os.fdopen(fd, "w") as handle:
        handle.write("# isp demo logins, written by `flask demo` (make demo). Delete this file when done.\n")
        handle.write(f"URL: {url}\n")
        for role, username, password in logins:
            handle.write(f"{role}: {username} / {password}\n")
        for note in notes or []:
            handle.write(f"{note}\n")
    return path


def banner_lines(path: str, title: str = "isp demo is up") -> list[str]:
    """The credentials file as a short framed banner."""
    with open(path, encoding="utf-8") as handle:
        body = [line.rstrip("\n") for line in handle if line.strip() and not line.startswith("#")]
    body += [f"(also in {os.path.relpath(path)})"]
    width = max(len(line) for line in [title, *body]) + 4
    rule = "=" * width
    return ["", rule, f"  {title}", *(f"  {line}" for line in body), rule, ""]


def _demo_password() -> str:
    """ISP_DEMO_PASSWORD, or a new random one."""
    return os.environ.get("ISP_DEMO_PASSWORD") or secrets.token_urlsafe(12)


@click.group("demo", invoke_without_command=True)
@click.option("--customers", type=click.IntRange(0, MAX_CUSTOMERS), default=200, show_default=True,
              help="Demo customers with services (seeded once; 0 for none).")
@with_appcontext
def demo_command(customers: int) -> None:
    """Prepare demo data: the admin and reseller logins (new passwords each run, or ISP_DEMO_PASSWORD), vouchers, subscribers."""
    if click.get_current_context().invoked_subcommand is not None:
        return
    password = _demo_password()
    user = users.find_by_username("admin")
    if user is None:
        user = users.create_user("admin", password, Role.admin, "Demo admin")
    else:
        users.reset_password(user, password)
        users.set_active(user, True)
        users.change_role(user, Role.admin)
    _register_demo_routers()
    db.session.flush()
    _seed_vouchers(user)
    db.session.commit()
    notes = _seed_subscribers(user, customers)
    logins = [("admin", "admin", password)]
    shop = users.find_by_username("shop")
    if shop is not None and shop.role == Role.reseller:
        # A new password each run too, so the file and the banner are always right.
        shop_password = _demo_password()
        users.reset_password(shop, shop_password)
        logins.append(("reseller", "shop", shop_password))
    db.session.commit()
    path = write_credentials(demo_url(), logins, notes)
    for line in banner_lines(path, "isp demo is seeded; this banner repeats once all runs"):
        click.echo(line)


@demo_command.command("banner")
@click.option("--since", type=float, default=None, help="Unix time the processes started (default: now).")
@click.option("--timeout", type=click.IntRange(1, 3600), default=180, show_default=True, help="Seconds to wait.")
@with_appcontext
def banner_command(since: float | None, timeout: int) -> None:
    """Wait until web, worker and clock are up, then print the URL and logins again."""
    since = time.time() if since is None else since
    deadline = time.monotonic() + timeout
    waiting = _waiting_for(since)
    while waiting and time.monotonic() < deadline:
        time.sleep(2)
        # Once web answered it is not asked again: every probe is a line in its access log.
        waiting = _waiting_for(since, web="web" in waiting)
    for line in banner_lines(credentials_path()):
        click.echo(line)
    if waiting:
        click.echo(f"  Still waiting for: {', '.join(waiting)} (after {timeout} s); check the log above.")


def _waiting_for(since: float, web: bool = True) -> list[str]:
    """Which of web (probed only if `web`) and clock+worker are not up yet (empty when all are)."""
    from isp.extensions import redis_store
    from isp.jobs.maintenance import HEARTBEAT_KEY

    waiting = []
    if web and not _web_ready():
        waiting.append("web")
    try:
        # The clock enqueues its heartbeat at start and a worker runs it: a fresh stamp proves both.
        beat = float(redis_store.client.get(HEARTBEAT_KEY) or 0)
    except Exception:  # noqa: BLE001 - Redis not up yet is just "not ready"
        beat = 0.0
    if beat < since:
        waiting.append("worker and clock")
    return waiting


def _web_ready() -> bool:
    """GET /health/ready answers ok (database and Redis reachable from gunicorn)."""
    try:
        with urllib.request.urlopen(demo_url() + "health/ready", timeout=2) as response:
            return response.status == 200 and json.load(response).get("status") == "ok"
    except (OSError, ValueError, urllib.error.URLError):
        return False


def _register_demo_routers() -> None:
    """Register (or refresh) the simulated routers of demo/fleet.toml."""
    from isp.services import demo_fleet, routers

    demo_fleet.ensure_hub()
    registered: dict[str, tuple[Router, dict]] = {}
    for entry in demo_fleet.entries():
        data = {
            "name": entry["name"], "addresses": entry["address"], "api_port": entry["api_port"],
            "username": entry["username"], "password": entry["password"], "mode": "api", "enabled": True,
            "site": "Demo", "notes": "Simulated router (flask sim run --config demo/fleet.toml)", "max_sessions": 20,
        }
        existing = db.session.scalar(db.select(Router).where(Router.name == entry["name"]))
        if existing:
            routers.update_router(existing, data)
        else:
            existing = routers.create_router(data)
        registered[entry["name"]] = (existing, {**data, "parent": entry["parent"]})
    db.session.flush()
    # Dependencies once every demo router exists: demo-flaky hangs off demo-core (its alerts wait while that is down).
    for router, data in registered.values():
        parent = registered.get(data.pop("parent"))
        if parent is not None and router.parent_id != parent[0].id:
            routers.update_router(router, {**data, "parent_id": parent[0].id})


DEMO_PLANS = (
    # name, price, reseller price, validity, time quota, data quota, rate limit
    ("Quick 3 min", "0.50", "0.40", "3m", "", "", "1M/2M"),
    ("Hour pass", "1.00", "0.80", "1d", "20m", "", "2M/4M"),
    ("Day 200 MB", "2.00", "1.60", "1d", "", "200M", "4M/8M 8M/16M 3M/6M 16/16"),
)


def _seed_vouchers(admin: User) -> None:
    """Plans on every demo router, a funded reseller and three batches (once)."""
    from isp.models import EntryKind, HotspotPlan
    from isp.services import branding, ledger, plans, resellers, vouchers

    if db.session.scalar(db.select(HotspotPlan.id).limit(1)) is not None:
        return
    router_ids = list(db.session.scalars(db.select(Router.id).order_by(Router.id)))
    made = []
    for name, price, reseller_price, validity, quota, data, rate in DEMO_PLANS:
        made.append(plans.create_plan({"name": name, "price": price, "reseller_price": reseller_price, "validity": validity,
                                       "time_quota": quota, "data_quota": data, "rate_limit": rate, "shared_users": 1,
                                       "router_ids": router_ids}, admin))
    settings = branding.get()
    settings.business_name, settings.currency = "Demo WiFi Ltd", "$"
    for router in db.session.scalars(db.select(Router)):
        router.hotspot_dns = f"login.{router.name}.wifi"  # printed QR codes open http://<this>/login
    password = os.environ.get("ISP_DEMO_PASSWORD") or secrets.token_urlsafe(9)
    shop = users.find_by_username("shop") or resellers.create_reseller("shop", password, "Corner shop", [], admin)
    users.reset_password(shop, password)
    resellers.set_plans(shop, [p.id for p in made[1:]], admin)
    ledger.post(ledger.account_for(shop), EntryKind.topup, 100, "demo opening balance", admin)
    core = router_ids[0]
    vouchers.generate(admin, made[0].id, 120, core, prefix="Q", length=6, note="demo: expire within minutes")
    vouchers.generate(shop, made[1].id, 40, core, prefix="H", length=6, note="demo: reseller stock")
    vouchers.generate(shop, made[2].id, 30, core, prefix="D", length=6, note="demo: data quota")


def _seed_subscribers(admin: User, count: int) -> list[str]:
    """About 200 customers on the demo routers (once) and the watch customer re-armed; the banner's lines about them."""
    from zoneinfo import ZoneInfo

    from isp.services import demo_fleet, demo_subscribers

    started = time.perf_counter()
    shop = users.find_by_username("shop")
    agent = shop if shop is not None and shop.role == Role.reseller else None
    facts = demo_subscribers.seed(admin, demo_fleet.routers(), commit=db.session.commit, count=count, agent=agent)
    if not facts:
        return []
    states, kinds = facts["states"], facts["kinds"]
    lines = [f"Subscribers: {facts['customers']} demo customers ({facts['created']} new, seeded in "
             f"{time.perf_counter() - started:.1f} s): " + ", ".join(f"{states.get(s, 0)} {s}" for s in
                                                                  ("active", "grace", "suspended", "pending"))
             + f"; {facts['in_debt']} in debt; " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))]
    watch = facts.get("watch")
    if watch and watch["grace_until"] is not None:
        tz = ZoneInfo(current_app.config["ISP_TIMEZONE"])
        lines.append(f"Watch: {watch['account_no']} {watch['name']} (PPPoE {watch['username']} on {watch['router']}) "
                     f"goes from grace to suspended and kicked at {watch['grace_until'].astimezone(tz):%H:%M:%S %Z}: "
                     f"{demo_url()}customers/{watch['customer_id']}")
    return lines


@demo_command.command("dial")
@click.option("--every", type=click.FloatRange(1, 3600), default=10.0, show_default=True,
              help="Seconds between looks for new services.")
@click.option("--once", is_flag=True, help="Dial what exists now and stop.")
@with_appcontext
def dial_command(every: float, once: bool) -> None:
    """Give every PPPoE and hotspot service on the demo routers a simulated CPE that dials in and redials after a drop.

    Talks to the simulator's control port (demo/fleet.toml); a suspended service's CPE is refused by its disabled
    secret and keeps trying, so it comes back by itself once the service is reactivated.
    """
    from isp.services import demo_fleet, demo_subscribers

    port = _control_port()
    names = [entry["name"] for entry in demo_fleet.entries()]
    dialled: set[tuple[str, str, str]] = set()
    while True:
        try:
            rows = demo_subscribers.dial_list(names)
            db.session.rollback()  # no transaction held open between looks
            for router, kind, username, mac in rows:
                if (router, kind, username) in dialled:
                    continue
                command = {"router": router, "login": username, "kind": kind, "redial": True, **({"mac": mac} if mac else {})}
                answer = sim_control(port, command)
                if answer.get("ok"):
                    dialled.add((router, kind, username))
        except OSError:
            pass  # the simulator is not up yet (or is restarting): try again at the next look
        except Exception as exc:  # noqa: BLE001 - a busy database or an odd answer must not end the demo's CPEs
            db.session.rollback()
            click.echo(f"demo dial: {exc}; trying again in {every:g} s", err=True)
        if once:
            click.echo(f"{len(dialled)} simulated CPEs dialling")
            return
        time.sleep(every)


def _control_port() -> int:
    """The simulator's control port from demo/fleet.toml."""
    import tomllib

    from isp.services import demo_fleet

    with open(demo_fleet.fleet_path(), "rb") as handle:
        return int(tomllib.load(handle)["fleet"]["control_port"])


def sim_control(port: int, command: dict, timeout: float = 5.0) -> dict:
    """One JSON line to the simulator's control port and its JSON answer (the protocol of routeros_sim/control.py).

    Spoken over the socket rather than imported: the product package never imports the simulator.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(json.dumps(command).encode() + b"\n")
        with sock.makefile("rb") as answer:
            line = answer.readline()
    if not line:
        raise ConnectionResetError("the simulator closed the control connection")
    return json.loads(line)


@embedded_redis_cli.command("start")
@with_appcontext
def start_redis() -> None:
    """Start the embedded Redis (no-op if REDIS_URL is set or it already runs)."""
    if current_app.config["REDIS_URL"]:
        click.echo("REDIS_URL is set; nothing to start.")
        return
    from isp.embedded_redis import ensure_embedded_redis

    click.echo(f"embedded redis at {ensure_embedded_redis(current_app.instance_path)}")


@embedded_redis_cli.command("stop")
@with_appcontext
def stop_redis() -> None:
    """Stop the embedded Redis, saving its data."""
    from isp.embedded_redis import stop_embedded_redis

    stopped = stop_embedded_redis(current_app.instance_path)
    click.echo("embedded redis stopped" if stopped else "embedded redis was not running")
