"""L1: the panel under load. Logged-in sessions (admins, operators, resellers) for a while over the main pages,
htmx search fragments, a keyset Next page, a few writes and the API, against gunicorn run as the Procfile runs it.

    python bench/load.py            # 50 sessions for 60 s, 100,000 vouchers and 100,000 customers with services

The database (a fresh SQLite file, or BENCH_DATABASE_URL: a throwaway MariaDB database whose tables are dropped
first) is seeded set-based by the benchmarks' own seeders: bench/_scale.py's vouchers (and outbox rows) and
bench/_billing_scale.py's customers, one service each and ten ledger entries each. Redis is REDIS_URL or an
embedded one. gunicorn runs `wsgi:app` with gunicorn.conf.py (WEB_CONCURRENCY workers x WEB_THREADS threads,
gthread) bound to 127.0.0.1 on a free port; the app's rate limits are raised so that nothing is refused for
being many sessions behind one IP. Locust (headless, bench/load_users.py) first drives one session for a
baseline (L1-idle), then the full run. Any answer outside 2xx/3xx, or a page that is the login form (a lost
session), counts as an error. Sessions start ten a second, and each waits one think time before its first page once
every session has logged in. The window opens once every session has logged in through the form (each login is
a deliberately slow password hash; 50 at once would fill the first seconds with logins and the pages queued
behind them) and lasts LOAD_SECONDS; the p95 and the request count are of the pages in it, the errors of every
request, logins included (BENCH_VERBOSE shows the logins' times apart). Every process started here is stopped on exit (Ctrl-C and errors included) and
the temp dirs are removed.

Environment: LOAD_SESSIONS (50), LOAD_SECONDS (60), LOAD_IDLE_SECONDS (15), LOAD_VOUCHERS (100000),
LOAD_CUSTOMERS (100000), LOAD_WAIT ("1,3": think time between one session's actions, seconds), LOAD_STRESS_WAIT
("0.2,1.0": the same sessions again, five times as fast; "" leaves that run out), BENCH_VERBOSE=1 (p95 per page,
failures by kind, what gunicorn raised behind a 5xx). Prints exactly:
    L1-idle: p95 <n> ms (1 session, <s> s, <requests> requests)
    L1: p95 <n> ms, <e> errors (<sessions> sessions, <s> s, <requests> requests, <a>-<b> s between actions)
    L1-stress: p95 <n> ms, <e> errors (<sessions> sessions, <s> s, <requests> requests, <a>-<b> s between actions)

Think time: one to three seconds between a person's clicks is already brisk (a page is read, a form filled in, and
a search is typed, which is an action of its own); 50 such sessions ask for about 30 pages a second, many times what
50 staff of a real ISP send. The stress run keeps the earlier pace, 0.2 to 1 s, to show where the 2 cores saturate.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import _billing_scale
import _scale
from _harness import ROOT, Harness, stop_process

PASSWORD = "Quiet-Harbour-7-Lantern"  # the seeders' admin password; the load's own users get it too
RESELLER_PASSWORD = "Amber-Ferry-42-Meadow"
# Sessions start ten a second, as staff arrive, not in one instant: fifty connections opened at once are all
# taken by whichever gunicorn process wakes first, which then serves most of the run from one core.
SPAWN_RATE = 10
LOGIN = ("login form", "login")  # each session's own login (a deliberately slow password hash): timed apart


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"{name} must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def _pace(name: str, default: str) -> str:
    """A think time "low,high" in seconds (0 <= low <= high), normalised; "" (allowed for the stress run) is none."""
    raw = os.environ.get(name, default).replace(" ", "")
    if not raw and name == "LOAD_STRESS_WAIT":
        return ""
    try:
        low, high = (float(x) for x in raw.split(","))
    except ValueError:
        raise SystemExit(f"{name} must be two numbers of seconds, low,high (such as 1,3), not {raw!r}") from None
    if not 0 <= low <= high:
        raise SystemExit(f"{name}: the low end must be at least 0 and at most the high end, not {raw!r}")
    return f"{low:g},{high:g}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(h: Harness, vouchers: int, customers: int, plan_path: str) -> None:
    """Vouchers, customers with services and ledgers, staff and resellers; writes the sessions' plan (JSON)."""
    from sqlalchemy import select, update

    from isp.extensions import db
    from isp.models import Customer, Role, User
    from isp.services import resellers as reseller_service
    from isp.services import users

    fleet = _scale.Fleetless(h)
    fleet.grow(vouchers)
    subscribers = _billing_scale.Subscribers(h)
    subscribers.grow(customers)
    with h.app.app_context():
        operators = [users.create_user(f"load-operator-{i}", PASSWORD, Role.operator).username for i in range(3)]
        resellers = list(db.session.scalars(select(User).where(User.role == Role.reseller).order_by(User.id)))
        admin = db.session.scalar(select(User).where(User.username == fleet.admin_name))
        for n, reseller in enumerate(resellers):
            reseller.can_sell_services = True
            # A reseller's wallet pays the operator for each payment they take: fill it for the whole run.
            reseller_service.post_manual(reseller, "topup", "100000.00", "load test float", admin)
            # One customer in ten belongs to each reseller (ids ending 3 and 7): their list, page and payments.
            db.session.execute(update(Customer).where(Customer.id % 10 == (3, 7)[n % 2]).values(reseller_id=reseller.id))
        db.session.commit()
        token = _api_token(admin)
        db.session.commit()
        ids = list(range(1, customers + 1))
        rng = random.Random(7)
        plan = {
            # Sessions take these in turn: 2 admins, 2 operators, 1 reseller in every 5.
            "accounts": [{"username": fleet.admin_name, "password": PASSWORD, "role": "admin"},
                         {"username": operators[0], "password": PASSWORD, "role": "operator"},
                         {"username": resellers[0].username, "password": RESELLER_PASSWORD, "role": "reseller"},
                         {"username": _billing_scale.ADMIN[0], "password": _billing_scale.ADMIN[1], "role": "admin"},
                         {"username": operators[1], "password": PASSWORD, "role": "operator"},
                         {"username": operators[2], "password": PASSWORD, "role": "operator"},
                         {"username": resellers[1].username, "password": RESELLER_PASSWORD, "role": "reseller"}],
            "customer_ids": rng.sample(ids, min(500, len(ids))),
            "reseller_customer_ids": {r.username: [i for i in ids if i % 10 == (3, 7)[n % 2]][:300]
                                      for n, r in enumerate(resellers)},
            "service_plan_ids": [p[0] for p in subscribers.plans],
            "voucher_plan_ids": fleet.plan_ids,
            "voucher_router_ids": fleet.router_ids,
            "router_ids": fleet.router_ids + subscribers.router_ids,
            "search_words": [*_billing_scale.FIRST, *(n.lower() for n in _billing_scale.LAST), "+25470", "ISP-00",
                             "amina.", "brian.k"],
            "api_token": token,
        }
    with open(plan_path, "w", encoding="utf-8") as f:
        json.dump(plan, f)


def _api_token(admin) -> str | None:
    """A read token for /api/v1/vouchers, if the API and its tokens have landed (the load works without)."""
    try:
        from isp.services import api_tokens

        _token, raw = api_tokens.create(admin, "load test", {"read"}, None)
        return raw
    except Exception as exc:  # noqa: BLE001 - optional part: say why it is left out
        print(f"  (no API token: {exc.__class__.__name__}: {exc}; the load leaves out /api/v1)", file=sys.stderr)
        return None


def start_web(h: Harness, port: int, workdir: str, env_base: dict) -> subprocess.Popen:
    """gunicorn as the Procfile's `web` runs it (gunicorn.conf.py), on 127.0.0.1:port; waits for /health/live."""
    env = {**env_base, "HOST": "127.0.0.1", "PORT": str(port)}
    log = open(os.path.join(workdir, "gunicorn.log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", os.path.join(ROOT, "gunicorn.conf.py"), "wsgi:app"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    deadline = time.time() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({proc.returncode}): {_tail(workdir)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        if time.time() > deadline:
            raise RuntimeError(f"gunicorn did not answer /health/live in 60 s: {_tail(workdir)}")
        time.sleep(0.3)


def _tail(workdir: str, lines: int = 15) -> str:
    try:
        with open(os.path.join(workdir, "gunicorn.log"), encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank); 0 for none."""
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)] if ordered else 0.0


def run_locust(port: int, sessions: int, seconds: int, workdir: str, prefix: str, plan_path: str,
               running: list, wait: str) -> dict:
    """One headless locust run; returns {"times": {page: [ms, ...]}, "errors": {page and error: count}}."""
    result = os.path.join(workdir, prefix + ".json")
    env = {**os.environ, "LOAD_PLAN": plan_path, "LOAD_RESULT": result, "PYTHONPATH": os.path.join(ROOT, "bench"),
           "LOAD_SESSIONS": str(sessions), "LOAD_SECONDS": str(seconds), "LOAD_WAIT": wait}
    # The locustfile ends the run `seconds` after the last session logged in; -t only guards against a hang.
    cmd = [sys.executable, "-m", "locust", "-f", os.path.join(ROOT, "bench", "load_users.py"), "--headless",
           "--host", f"http://127.0.0.1:{port}", "-u", str(sessions), "-r", str(SPAWN_RATE),
           "-t", f"{seconds + 300}s", "--stop-timeout", "10", "--only-summary", "--loglevel", "WARNING",
           "--exit-code-on-error", "0"]
    log_path = os.path.join(workdir, prefix + ".log")
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    running.append(proc)
    try:
        proc.wait(seconds + 360)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"locust ran past {seconds + 360} s") from None
    finally:
        stop_process(proc)
        running.remove(proc)
    try:
        with open(result, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        with open(log_path, encoding="utf-8", errors="replace") as f:
            raise RuntimeError("locust wrote no results:\n" + f.read()[-2000:]) from None


def summary(result: dict) -> tuple[float, int, int]:
    """(p95 ms of the logged-in pages, errors of every request logins included, logged-in requests)."""
    pages = [t for name, times in result["times"].items() if name not in LOGIN for t in times]
    return p95(pages), sum(result["errors"].values()), len(pages)


def _verbose(label: str, result: dict) -> None:
    if not os.environ.get("BENCH_VERBOSE"):
        return
    errors_by_page: dict[str, int] = {}
    for key, n in result["errors"].items():
        page = key.split(":")[0]
        errors_by_page[page] = errors_by_page.get(page, 0) + n
    rows = sorted(result["times"].items(), key=lambda kv: -p95(kv[1]))
    for name, times in rows:
        print(f"  {label} {p95(times):7.0f} ms p95  {len(times):6d} requests  {errors_by_page.get(name, 0):4d} errors  "
              f"{name}{'  (not in the L1 p95)' if name in LOGIN else ''}")
    for key, n in sorted(result["errors"].items(), key=lambda kv: -kv[1])[:20]:
        print(f"  {label} error x{n}: {key}")


def _server_errors(workdir: str) -> None:
    """With BENCH_VERBOSE, the exceptions gunicorn logged (what a 5xx was), each once with its count."""
    if not os.environ.get("BENCH_VERBOSE"):
        return
    try:
        with open(os.path.join(workdir, "gunicorn.log"), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    seen: dict[str, int] = {}
    for n, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = next((i for i in range(n + 1, len(lines)) if lines[i] and not lines[i].startswith(" ")), n)
            seen[lines[end][:300]] = seen.get(lines[end][:300], 0) + 1
    for error, count in sorted(seen.items(), key=lambda kv: -kv[1]):
        print(f"  server error x{count}: {error}")


def main() -> None:
    sessions = _env_int("LOAD_SESSIONS", 50)
    seconds = _env_int("LOAD_SECONDS", 60)
    idle_seconds = _env_int("LOAD_IDLE_SECONDS", 15)
    vouchers, customers = _env_int("LOAD_VOUCHERS", 100_000), _env_int("LOAD_CUSTOMERS", 100_000)
    wait, stress_wait = _pace("LOAD_WAIT", "1,3"), _pace("LOAD_STRESS_WAIT", "0.2,1.0")
    # SIGTERM ends the run like Ctrl-C: the finally blocks stop gunicorn, locust and Redis and remove the temp dirs.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    workdir = tempfile.mkdtemp(prefix="isp-load-")
    instance = os.path.join(workdir, "instance")
    os.makedirs(instance)
    os.environ["ISP_INSTANCE_PATH"] = instance  # nothing touches the real instance/
    h = web = None
    running: list[subprocess.Popen] = []
    try:
        url = os.environ.get("BENCH_DATABASE_URL")
        if url:
            url = _scale.empty_database(url)
        h = Harness(**({"SQLALCHEMY_DATABASE_URI": url} if url else {}))
        plan_path = os.path.join(workdir, "plan.json")
        started = time.time()
        seed(h, vouchers, customers, plan_path)
        if os.environ.get("BENCH_VERBOSE"):
            print(f"  seeded {vouchers:,} vouchers and {customers:,} customers in {time.time() - started:.0f} s")
        raised = "1000000 per minute"
        env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": h.db_url, "RADIUS_DATABASE_URL": h.db_url,
               "REDIS_URL": h.redis_url, "LOG_LEVEL": "WARNING", "ISP_INSTANCE_PATH": instance,
               "LOGIN_RATE_LIMIT": "1000000", "LOGIN_RATE_LIMIT_IP": "1000000", "API_RATE_LIMIT": raised,
               "EXPORT_RATE_LIMIT": raised}
        port = _free_port()
        web = start_web(h, port, workdir, env)
        # The baseline: one session alone, at the brisker pace for more samples (alone, the pace changes no timing).
        idle = run_locust(port, 1, idle_seconds, workdir, "idle", plan_path, running, stress_wait or wait)
        _verbose("idle", idle)
        full = run_locust(port, sessions, seconds, workdir, "full", plan_path, running, wait)
        _verbose("load", full)
        stress = None
        if stress_wait:
            stress = run_locust(port, sessions, seconds, workdir, "stress", plan_path, running, stress_wait)
            _verbose("stress", stress)
        _server_errors(workdir)
        i_p95, _i_failed, i_count = summary(idle)
        print(f"L1-idle: p95 {i_p95:.0f} ms (1 session, {idle_seconds} s, {i_count:,} requests)")
        for label, result, pace in (("L1", full, wait), ("L1-stress", stress, stress_wait)):
            if result is not None:
                l_p95, failed, count = summary(result)
                low, high = pace.split(",")
                print(f"{label}: p95 {l_p95:.0f} ms, {failed} errors ({sessions} sessions, {seconds} s, {count:,} requests, "
                      f"{low}-{high} s between actions)")
    except KeyboardInterrupt:
        print("interrupted: stopping", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        for proc in list(running):
            stop_process(proc)
        stop_process(web)
        if h is not None:
            h.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
