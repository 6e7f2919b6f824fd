"""Bad arguments to the `flask` commands: a clear line on stderr/stdout, a non-zero exit, no traceback, no write."""
from __future__ import annotations

import pytest

from tests.bad_input.conftest import changed, snapshot


def run_cli(world, args: list[str], message: str, code: int | tuple = (1, 2)) -> None:
    """Invoke the command in-process; assert exit code, message, no traceback and no write."""
    app = world.bad.app
    before = snapshot(app)
    result = app.test_cli_runner().invoke(args=args)
    after = snapshot(app)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"crashed: {result.exception!r}\n{output}")
    assert "Traceback" not in output
    codes = code if isinstance(code, tuple) else (code,)
    assert result.exit_code in codes and result.exit_code != 0, (result.exit_code, output)
    assert message.lower() in output.lower(), output
    assert changed(before, after) == {}, f"partial write: {changed(before, after)}"


USERS = [
    ("short password", ["users", "create-admin", "root.admin", "--password", "short"], "at least 10 characters"),
    ("common password", ["users", "create-admin", "root.admin", "--password", "1234567890"], "most common"),
    ("password is username", ["users", "create-admin", "root.admin", "--password", "root.admin"],
     "must not be the username"),
    ("password 10k", ["users", "create-admin", "root.admin", "--password", "y" * 10_000], "at most 128 characters"),
    ("duplicate", ["users", "create-admin", "admin1", "--password", "a-fine-long-secret"], "already taken"),
    ("username with spaces", ["users", "create-admin", "root admin", "--password", "a-fine-long-secret"], "Username must be 3-64 characters"),
    ("username script", ["users", "create-admin", "<script>", "--password", "a-fine-long-secret"], "Username must be 3-64 characters"),
    ("no username", ["users", "create-admin"], "Missing argument"),
    ("unknown option", ["users", "create-admin", "x", "--role", "root"], "No such option"),
    ("no such command", ["users", "create", "eve", "--role", "root"], "No such command"),
    ("reset 2fa unknown", ["users", "reset-2fa", "nobody"], "No account named 'nobody'"),
]


@pytest.mark.parametrize("args,message", [c[1:] for c in USERS], ids=[c[0] for c in USERS])
def test_users(world, args, message):
    """`flask users …` refuses bad accounts with the web's own messages."""
    run_cli(world, args, message)


GEN = ["vouchers", "generate", "--plan", "Day pass"]
VOUCHERS = [
    ("count 0", GEN + ["--count", "0"], "0 is not in the range 1<=x<=10000"),
    ("count 10001", GEN + ["--count", "10001"], "10001 is not in the range"),
    ("count negative", GEN + ["--count", "-5"], "is not in the range"),
    ("count text", GEN + ["--count", "ten"], "'ten' is not a valid integer"),
    ("count huge", GEN + ["--count", "9" * 40], "is not in the range"),
    ("count missing", GEN, "Missing option '--count'"),
    ("unknown plan", ["vouchers", "generate", "--plan", "Gold", "--count", "5"], "no plan named 'Gold'"),
    ("unknown router", GEN + ["--count", "5", "--router", "mars-1"], "no router named 'mars-1'"),
    ("router not the plan's", GEN + ["--count", "5", "--router", "edge-2"], "is not sold on that router"),
    ("prefix symbols", GEN + ["--count", "5", "--prefix", "A-B!"], "Prefix: up to 8 letters or digits"),
    ("length 3", GEN + ["--count", "5", "--length", "3"], "Code length must be from"),
    ("length text", GEN + ["--count", "5", "--length", "long"], "is not a valid integer"),
    ("bad mode", GEN + ["--count", "5", "--mode", "qr"], "'qr' is not one of 'code', 'userpass'"),
    ("unknown actor", GEN + ["--count", "5", "--as", "nobody"], "no active user 'nobody'"),
    ("reseller not allowed the plan", GEN + ["--count", "5", "--as", "seller1"],
     "Choose an active plan you are allowed to sell"),
]


@pytest.mark.parametrize("args,message", [c[1:] for c in VOUCHERS], ids=[c[0] for c in VOUCHERS])
def test_vouchers(world, args, message):
    """`flask vouchers generate` refuses a bad batch: no batch, no voucher, no ledger entry, no router command."""
    run_cli(world, args, message)


@pytest.fixture
def no_serving(monkeypatch):
    """The simulator must refuse before it binds: serving at all fails the case instead of hanging it."""
    from routeros_sim.fleet import Fleet

    def refuse(self):
        raise AssertionError("the simulator accepted bad options and started serving")

    monkeypatch.setattr(Fleet, "run_forever", refuse)


SIM = [
    ("routers 0", ["--routers", "0"], "--routers must be a whole number"),
    ("routers huge", ["--routers", "100000000"], "--routers must be a whole number"),
    ("routers text", ["--routers", "many"], "'many' is not a valid integer"),
    ("speed 0", ["--speed", "0"], "--speed must be a finite number above 0"),
    ("speed nan", ["--speed", "nan"], "--speed must be a finite number above 0"),
    ("speed inf", ["--speed", "inf"], "--speed must be a finite number above 0"),
    ("latency negative", ["--latency-ms", "-1"], "--latency-ms must be a finite number of 0 or more"),
    ("base port 70000", ["--base-port", "70000"], "--base-port must be a port number"),
    ("base port negative", ["--base-port", "-5"], "--base-port must be a port number"),
    ("control port huge", ["--control-port", "99999999"], "--control-port must be a port number"),
    ("clients negative", ["--clients", "-1"], "--clients must be a whole number"),
    ("config missing", ["--config", "/nonexistent/fleet.toml"], "does not exist"),
    ("config bad bytes", ["--config", "{garbage}"], "fleet.toml is not valid TOML"),
    ("config bad syntax", ["--config", "{syntax}"], "syntax.toml is not valid TOML"),
    ("config wrong shape", ["--config", "{shape}"], "must be tables"),
    ("state garbage", ["--state", "{state}"], "cannot be loaded"),
    ("state dir missing", ["--state", "/nonexistent/dir/state.json"], "its directory does not exist"),
    ("log level bad", ["--log-level", "loud"], "'loud' is not one of"),
]


@pytest.mark.parametrize("args,message", [c[1:] for c in SIM], ids=[c[0] for c in SIM])
def test_sim(world, no_serving, tmp_path, args, message):
    """`flask sim run` with a bad option or file exits 2 with one clear line, before it serves anything."""
    garbage = tmp_path / "fleet.toml"
    garbage.write_bytes(b"[fleet\nrouters = = 3\n\xff\xfe")
    (tmp_path / "syntax.toml").write_text("[fleet]\nrouters = = 3\n")
    (tmp_path / "shape.toml").write_text("fleet = 3\n")
    state = tmp_path / "state.json"
    state.write_text("{not json")
    args = [a.replace("{garbage}", str(garbage)).replace("{state}", str(state)).replace("{syntax}", str(tmp_path / "syntax.toml"))
            .replace("{shape}", str(tmp_path / "shape.toml")) for a in args]
    run_cli(world, ["sim", "run", "--base-port", "0", *args] if "--base-port" not in args else ["sim", "run", *args],
            message, code=2)


BACKUP = [
    ("restore missing file", ["backup", "restore", "/nonexistent/backup.tar.gz"], "restore refused: /nonexistent/backup"),
    ("restore garbage file", ["backup", "restore", "{garbage}"], "is damaged or not a backup archive"),
    ("restore empty file", ["backup", "restore", "{empty}"], "restore refused"),
    ("restore a directory", ["backup", "restore", "{dir}"], "directory"),
    ("no such radius command", ["radius", "explode"], "No such command"),
]


@pytest.mark.parametrize("args,message", [c[1:] for c in BACKUP], ids=[c[0] for c in BACKUP])
def test_backup_and_radius(world, tmp_path, args, message):
    """A backup that is missing, empty or not a backup is refused without touching the databases."""
    garbage = tmp_path / "backup.tar.gz"
    garbage.write_bytes(b"\x1f\x8b not really gzip" * 100)
    empty = tmp_path / "empty.tar.gz"
    empty.write_bytes(b"")
    args = [a.replace("{garbage}", str(garbage)).replace("{empty}", str(empty)).replace("{dir}", str(tmp_path))
            for a in args]
    run_cli(world, args, message)
