"""A private FreeRADIUS 3.2 (Debian's `freeradius`) reading our radius database: config tree and runner.

`build(directory, db_url, ...)` writes a minimal raddb (radiusd.conf, clients.conf, dictionary, the modules
and one site), `FreeRadius(conf).start()` runs it in the foreground as the current user (no setuid, no
system service) on loopback ports of our choosing and waits until it answers a Status-Server.
The tests, the demo and the P10 benchmark use it; a production operator runs their own FreeRADIUS with
the stock `sql` module pointed at the same tables.

Facts verified against the real server (tests/radius_server):
- The server runs with TZ=UTC, so `Expiration` values are UTC, written as `EXPIRATION_FORMAT`
  (e.g. "23 Sep 2026 12:00:00"), and `radacct` / `radpostauth` times are UTC on both dialects
  (SQLite: `datetime(epoch, 'unixepoch')` text; MariaDB: `open_query` sets the session to +00:00).
- SQLite: the stock sqlite queries store radacct times as Unix integers (unreadable as DateTime by the
  app) and their `simul_verify_query` matches `username` against the group attribute, which lets a
  second login through; our queries write text datetimes and count open sessions only (no checkrad).
- `radpostauth.pass` stays empty: the stock query stores the cleartext password there.
- Clients: `read_clients = yes` loads the `nas` table once at start; a HUP does not reload it (rlm_sql is
  not HUP-safe and HUP re-reads only changed files). Addresses in `dynamic_clients` (CIDRs) are looked up
  in `nas` when a packet comes from an unknown one, so a router onboarded later works without a restart;
  an edited secret or a deleted row of a client already known applies after a restart (or `lifetime`).
- A `nas` row needs `shortname` set, or rlm_sql skips it when loading clients.
- Usernames outside rlm_sql's safe characters (`[A-Za-z0-9@.:_ /-]`) are escaped to `=XX` in the
  queries and never match their rows.
"""
# ruff: noqa: E501  (the SQL and unlang templates keep FreeRADIUS's one-statement-per-line layout)
from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary
from sqlalchemy.engine import URL, make_url

from isp.radius import DICTIONARY

BINARY = "freeradius"
DICTDIR = "/usr/share/freeradius"
LIBDIR = "/usr/lib/freeradius"
EXPIRATION_FORMAT = "%d %b %Y %H:%M:%S"  # `Expiration := "23 Sep 2026 12:00:00"`, read in the server's TZ (UTC)
INSTALL_HINT = "apt-get install freeradius freeradius-mysql freeradius-utils"


def installed() -> str | None:
    """Why a private FreeRADIUS cannot run here, or None when the binary and both SQL drivers are present."""
    binary = shutil.which(BINARY) or (f"/usr/sbin/{BINARY}" if os.access(f"/usr/sbin/{BINARY}", os.X_OK) else None)
    if not binary:
        return f"FreeRADIUS not installed: {INSTALL_HINT}"
    for driver in ("rlm_sql_sqlite", "rlm_sql_mysql"):
        if not os.path.exists(f"{LIBDIR}/{driver}.so"):
            return f"FreeRADIUS {driver} missing: {INSTALL_HINT}"
    return None


def free_udp_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct UDP ports free on the host right now (the kernel picks them)."""
    sockets, ports = [], []
    try:
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((host, 0))
            sockets.append(sock)
            ports.append(sock.getsockname()[1])
    finally:
        for sock in sockets:
            sock.close()
    return ports


def _quote(value: str | int) -> str:
    """A FreeRADIUS single-quoted string (no expansion); refuses what it cannot carry safely."""
    text = str(value)
    if any(ch in text for ch in "'\\\n\r\0"):
        raise ValueError("a FreeRADIUS config value may not contain quotes, backslashes or newlines")
    return f"'{text}'"


@dataclass
class RadiusConf:
    """A generated raddb: where it is and how to reach the server it configures."""

    directory: Path
    db_url: str
    dialect: str
    host: str = "127.0.0.1"
    auth_port: int = 0
    acct_port: int = 0
    secret: str = ""
    client_address: str = "127.0.0.1"
    dynamic_clients: tuple[str, ...] = ()
    log_file: Path = field(init=False)
    pid_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_file = self.directory / "log" / "radius.log"
        self.pid_file = self.directory / "run" / "radiusd.pid"

    def __repr__(self) -> str:  # the secret never reaches a log line through a repr
        return f"RadiusConf({self.directory}, {self.dialect}, {self.host}:{self.auth_port}/{self.acct_port})"


def build(directory: str | os.PathLike, db_url: str, *, auth_port: int, acct_port: int, secret: str,
          host: str = "127.0.0.1", client_address: str = "127.0.0.1", dynamic_clients: tuple[str, ...] = (),
          read_clients: bool = True, reject_delay: int = 0, dynamic_lifetime: int = 60) -> RadiusConf:
    """Write a private raddb under `directory` for the radius database at `db_url` (SQLAlchemy URL).

    `client_address` gets a static client with `secret` (so radclient works from loopback); `nas` rows are
    loaded at start (`read_clients`) and, for sources inside `dynamic_clients`, looked up when first seen.
    """
    root = Path(directory)
    url = make_url(db_url)
    dialect = "sqlite" if url.drivername.startswith("sqlite") else "mysql"
    if dialect == "mysql" and not url.drivername.startswith(("mysql", "mariadb")):
        raise ValueError(f"unsupported radius database for FreeRADIUS: {url.drivername}")
    conf = RadiusConf(root, db_url, dialect, host, auth_port, acct_port, secret, client_address, tuple(dynamic_clients))
    for sub in ("log", "run", "mods-config/preprocess"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    values = {"raddb": _quote(root), "logdir": _quote(root / "log"), "rundir": _quote(root / "run"),
              "host": _quote(host), "auth_port": int(auth_port), "acct_port": int(acct_port),
              "reject_delay": int(reject_delay)}
    _write(root / "radiusd.conf", _fill(RADIUSD, **values))
    clients = _fill(CLIENT, name="loopback", address=_quote(client_address), secret=_quote(secret))
    for n, cidr in enumerate(dynamic_clients):
        clients += _fill(DYNAMIC_CLIENT, name=f"dynamic{n}", address=_quote(cidr), lifetime=int(dynamic_lifetime))
    _write(root / "clients.conf", clients)
    _write(root / "dictionary", "# local additions: none (the stock dictionaries, MikroTik's included, load first)\n")
    _write(root / "mods-config/preprocess/hints", "")
    _write(root / "mods-config/preprocess/huntgroups", "")
    _write(root / "modules.conf", MODULES + _sql_module(url, dialect, read_clients) + COUNTER)
    _write(root / "site.conf", _fill(SITE, **values) + (DYNAMIC_SITE if dynamic_clients else ""))
    return conf


def _sql_module(url: URL, dialect: str, read_clients: bool) -> str:
    """The `sql` module: driver settings from the URL, our queries for the dialect."""
    if dialect == "sqlite":
        path = os.path.abspath(url.database or "")
        driver = _fill(SQLITE_DRIVER, filename=_quote(path))
    else:
        driver = _fill(MYSQL_DRIVER, server=_quote(url.host or "127.0.0.1"), port=int(url.port or 3306),
                                       login=_quote(url.username or ""), password=_quote(url.password or ""),
                                       db=_quote(url.database or "radius"))
    queries = QUERIES_COMMON + (QUERIES_SQLITE if dialect == "sqlite" else QUERIES_MYSQL)
    return _fill(SQL, driver=driver, dialect=dialect, read_clients="yes" if read_clients else "no", queries=queries)


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)  # secrets inside (client secret, DB password)


class FreeRadius:
    """A running private FreeRADIUS: `start()` waits until it answers, `stop()` ends it, `log()` tells why not."""

    def __init__(self, conf: RadiusConf) -> None:
        self.conf = conf
        self.process: subprocess.Popen | None = None

    def check(self) -> None:
        """Parse the config (`freeradius -C`); raises RuntimeError with the server's words on a mistake."""
        out = subprocess.run(self._command("-C"), capture_output=True, text=True, env=self._env(), timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"FreeRADIUS config check failed:\n{out.stdout}{out.stderr}")

    def start(self, timeout: float = 20.0) -> FreeRadius:
        """Start in the foreground (own process group) and wait until a Status-Server is answered."""
        self.conf.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.conf.log_file, "ab")
        self.process = subprocess.Popen(self._command("-f"), stdout=log, stderr=subprocess.STDOUT, env=self._env(),
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"FreeRADIUS exited with {self.process.returncode}:\n{self.log()}")
            if self.alive(timeout=0.5):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"FreeRADIUS did not answer within {timeout:.0f} s:\n{self.log()}")

    def alive(self, timeout: float = 1.0) -> bool:
        """Whether the server answers a Status-Server on its auth port."""
        client = make_client(self.conf, timeout)
        probe = client.CreateAuthPacket(code=packet.StatusServer)
        probe.add_message_authenticator()
        try:
            client.SendPacket(probe)
        except (Timeout, OSError):
            return False
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server (its own process group), SIGKILL if it lingers."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)

    def restart(self) -> None:
        """Stop and start again (a changed `nas` row of a known client needs it)."""
        self.stop()
        self.start()

    def log(self, tail: int = 200) -> str:
        """The last lines of the server's log (for a failure message)."""
        try:
            return "\n".join(self.conf.log_file.read_text(errors="replace").splitlines()[-tail:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> FreeRadius:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _command(self, mode: str) -> list[str]:
        binary = shutil.which(BINARY) or f"/usr/sbin/{BINARY}"
        return [binary, mode, "-n", "radiusd", "-d", str(self.conf.directory), "-D", DICTDIR, "-l", "stdout"]

    @staticmethod
    def _env() -> dict:
        # Expiration and %S are read in local time: the server lives in UTC, as our columns do.
        return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "TZ": "UTC", "LANG": "C"}


def serve(directory: str, db_url: str, auth_port: int, acct_port: int, dynamic: tuple[str, ...]) -> None:
    """Run a private FreeRADIUS in the foreground until SIGTERM/SIGINT (the demo's `radius` process)."""
    conf = build(directory, db_url, auth_port=auth_port, acct_port=acct_port, secret=secrets.token_hex(12),
                 dynamic_clients=dynamic, reject_delay=1)
    server = FreeRadius(conf)
    stop = {"now": False}

    def ask_stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, ask_stop)
    signal.signal(signal.SIGINT, ask_stop)
    server.start()
    print(f"FreeRADIUS on {conf.host}:{auth_port}/{acct_port} ({conf.dialect}; nas clients from {', '.join(dynamic)}); "
          f"log {conf.log_file}", flush=True)
    try:
        while not stop["now"] and server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
        if server.process is not None and server.process.poll() is not None:
            print(f"FreeRADIUS exited:\n{server.log(40)}", flush=True)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """`python -m isp.radius.freeradius_conf --dir DIR [--auth-port N --acct-port N]`: serve the app's radius DB."""
    import argparse

    from isp.config import load_config

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--dir", required=True, help="where the private raddb, log and pid go")
    parser.add_argument("--auth-port", type=int, default=18120)
    parser.add_argument("--acct-port", type=int, default=18121)
    parser.add_argument("--clients", default="127.0.0.0/8", help="CIDRs whose sources are looked up in nas")
    args = parser.parse_args(argv)
    reason = installed()
    if reason:
        print(reason, flush=True)
        return 1
    config = load_config()
    url = config["SQLALCHEMY_BINDS"]["radius"]
    serve(os.path.abspath(args.dir), url, args.auth_port, args.acct_port, tuple(c for c in args.clients.split(",") if c))
    return 0


CODE_NAMES = {2: "Access-Accept", 3: "Access-Reject", 5: "Accounting-Response", 11: "Access-Challenge"}


def chap_attributes(password: str, ident: int = 1) -> dict:
    """`CHAP-Password` and `CHAP-Challenge` for a password (RFC 1994: MD5 over id, secret, challenge)."""
    challenge = os.urandom(16)
    digest = hashlib.md5(bytes([ident]) + password.encode() + challenge).digest()  # MD5 is what CHAP is
    return {"CHAP-Password": bytes([ident]) + digest, "CHAP-Challenge": challenge}


def request(conf: RadiusConf, attrs: dict, kind: str = "auth", timeout: float = 3.0,
            client: Client | None = None) -> tuple[str, dict]:
    """Send one Access-Request ("auth") or Accounting-Request ("acct") with pyrad; returns (code name, reply).

    `User-Password` is hidden with the shared secret as RFC 2865 says; the reply maps each attribute name to
    its value, or to a list when it came more than once. Raises pyrad's Timeout when nothing answers.
    """
    client = client or make_client(conf, timeout)
    attrs = dict(attrs)
    password = attrs.pop("User-Password", None)
    if kind == "auth":
        packet_ = client.CreateAuthPacket(code=packet.AccessRequest)
    elif kind == "acct":
        packet_ = client.CreateAcctPacket(code=packet.AccountingRequest)
    else:
        raise ValueError(f"kind must be auth or acct, not {kind!r}")
    for name, value in attrs.items():
        packet_[name] = value
    if password is not None:
        packet_["User-Password"] = packet_.PwCrypt(password)
    reply = client.SendPacket(packet_)
    values = {}
    for key in reply.keys():
        got = reply[key]
        values[key] = got[0] if len(got) == 1 else list(got)
    return CODE_NAMES.get(reply.code, str(reply.code)), values


def make_client(conf: RadiusConf, timeout: float = 3.0) -> Client:
    """A pyrad client for the server's loopback client (its static secret)."""
    client = Client(server=conf.host, authport=conf.auth_port, acctport=conf.acct_port,
                    secret=conf.secret.encode(), dict=dictionary())
    client.timeout, client.retries = timeout, 1
    return client


@lru_cache(maxsize=1)
def dictionary() -> Dictionary:
    """pyrad's dictionary of the attributes we speak (read once, on first use)."""
    return Dictionary(str(DICTIONARY))


def _fill(template: str, **values: object) -> str:
    """Put values into a config template (`@@name@@`: FreeRADIUS itself uses braces and `${}`)."""
    for key, value in values.items():
        template = template.replace(f"@@{key}@@", str(value))
    return template


RADIUSD = """# Generated by isp.radius.freeradius_conf: a private FreeRADIUS, never the system service.
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = @@logdir@@
raddbdir = @@raddb@@
radacctdir = ${logdir}/radacct
name = radiusd
confdir = ${raddbdir}
modconfdir = ${confdir}/mods-config
certdir = ${confdir}/certs
cadir = ${confdir}/certs
run_dir = @@rundir@@
db_dir = ${raddbdir}
libdir = /usr/lib/freeradius
pidfile = ${run_dir}/${name}.pid
correct_escapes = true
max_request_time = 30
cleanup_delay = 5
max_requests = 16384
hostname_lookups = no

log {
	destination = files
	colourise = no
	file = ${logdir}/radius.log
	syslog_facility = daemon
	stripped_names = no
	auth = yes
	auth_badpass = no
	auth_goodpass = no
	msg_denied = "You are already logged in - access denied"
}

checkrad = ${sbindir}/checkrad

security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = @@reject_delay@@
	status_server = yes
}

proxy_requests = no

$INCLUDE clients.conf

thread pool {
	start_servers = 5
	max_servers = 32
	min_spare_servers = 3
	max_spare_servers = 10
	max_requests_per_server = 0
	auto_limit_acct = no
}

modules {
	$INCLUDE modules.conf
}

instantiate {
}

policy {
	# policy.d/accounting's acct_unique, the branch for NASes that send no Class of ours
	acct_unique {
		update request {
			&Acct-Unique-Session-Id := "%{md5:%{User-Name},%{Acct-Session-ID},%{%{NAS-IPv6-Address}:-%{NAS-IP-Address}},%{NAS-Identifier},%{NAS-Port-ID},%{NAS-Port}}"
		}
	}
}

$INCLUDE site.conf
"""

CLIENT = """
client @@name@@ {
	ipaddr = @@address@@
	secret = @@secret@@
	shortname = @@name@@
	nas_type = other
	require_message_authenticator = no
}
"""

# A range whose unknown sources are looked up in `nas` (server dynamic_clients below) when first seen.
DYNAMIC_CLIENT = """
client @@name@@ {
	ipaddr = @@address@@
	dynamic_clients = dynamic_clients
	lifetime = @@lifetime@@
}
"""

MODULES = """
preprocess {
	moddir = ${modconfdir}/${.:instance}
	huntgroups = ${moddir}/huntgroups
	hints = ${moddir}/hints
	with_ascend_hack = no
	ascend_channels_per_line = 23
	with_ntdomain_hack = no
	with_specialix_jetstream_hack = no
	with_cisco_vsa_hack = no
}
pap {
}
chap {
}
expiration {
}
logintime {
	minimum_timeout = 60
}
# `ok` in a section is this module (mods-enabled/always)
always ok {
	rcode = ok
}
# xlats the queries use: tolower, md5, integer
expr {
	safe_characters = "@abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_: /"
}
"""

# mods-available/sqlcounter's noresetcounter (Max-All-Session: seconds summed over radacct, never reset).
COUNTER = """
sqlcounter noresetcounter {
	sql_module_instance = sql
	dialect = ${modules.sql.dialect}
	counter_name = Max-All-Session-Time
	check_name = Max-All-Session
	key = User-Name
	reset = never
	query = "SELECT IFNULL(SUM(acctsessiontime),0) FROM radacct WHERE username = '%{${key}}'"
}
"""

SQLITE_DRIVER = """
	driver = "rlm_sql_sqlite"
	sqlite {
		filename = @@filename@@
		busy_timeout = 5000
	}
"""

MYSQL_DRIVER = """
	driver = "rlm_sql_mysql"
	server = @@server@@
	port = @@port@@
	login = @@login@@
	password = @@password@@
	radius_db = @@db@@
	# FROM_UNIXTIME and TIMESTAMP columns in UTC, like the rest of our data
	open_query = "SET time_zone = '+00:00'"
	mysql {
		warnings = auto
	}
"""

SQL = """
sql {
	dialect = "@@dialect@@"
@@driver@@
	acct_table1 = "radacct"
	acct_table2 = "radacct"
	postauth_table = "radpostauth"
	authcheck_table = "radcheck"
	groupcheck_table = "radgroupcheck"
	authreply_table = "radreply"
	groupreply_table = "radgroupreply"
	usergroup_table = "radusergroup"
	delete_stale_sessions = yes
	pool {
		start = 2
		min = 2
		max = 32
		spare = 8
		uses = 0
		retry_delay = 1
		lifetime = 0
		idle_timeout = 60
	}
	read_clients = @@read_clients@@
	client_table = "nas"
	group_attribute = "SQL-Group"
@@queries@@
}
"""

# mods-config/sql/main/<dialect>/queries.conf (3.2.1), trimmed to what we use; differences are commented.
QUERIES_COMMON = r"""
	sql_user_name = "%{User-Name}"
	client_query = "SELECT id, nasname, shortname, type, secret, server FROM ${client_table}"
	authorize_check_query = "SELECT id, username, attribute, value, op FROM ${authcheck_table} WHERE username = '%{SQL-User-Name}' ORDER BY id"
	authorize_reply_query = "SELECT id, username, attribute, value, op FROM ${authreply_table} WHERE username = '%{SQL-User-Name}' ORDER BY id"
	group_membership_query = "SELECT groupname FROM ${usergroup_table} WHERE username = '%{SQL-User-Name}' ORDER BY priority"
	authorize_group_check_query = "SELECT id, groupname, attribute, value, op FROM ${groupcheck_table} WHERE groupname = '%{${group_attribute}}' ORDER BY id"
	authorize_group_reply_query = "SELECT id, groupname, attribute, value, op FROM ${groupreply_table} WHERE groupname = '%{${group_attribute}}' ORDER BY id"
	# Open sessions count; no simul_verify_query (its checkrad would probe the router; the stock sqlite one
	# even compares username with the group). Stale rows are closed by our session cleanup instead.
	simul_count_query = "SELECT COUNT(*) FROM ${acct_table1} a LEFT OUTER JOIN nasreload n USING (nasipaddress) WHERE username = '%{SQL-User-Name}' AND acctstoptime IS NULL AND (a.acctstarttime > n.reloadtime OR n.reloadtime IS NULL)"
	# The stock query stores the cleartext password in radpostauth.pass: we store nothing there.
	post-auth {
		query = "INSERT INTO ${..postauth_table} (username, pass, reply, authdate) VALUES ('%{SQL-User-Name}', '', '%{reply:Packet-Type}', '%S.%M')"
	}
"""

_ACCT_COLUMNS = ("acctsessionid, acctuniqueid, username, realm, nasipaddress, nasportid, nasporttype, acctstarttime, "
                 "acctupdatetime, acctstoptime, acctsessiontime, acctauthentic, connectinfo_start, connectinfo_stop, "
                 "acctinputoctets, acctoutputoctets, calledstationid, callingstationid, acctterminatecause, "
                 "servicetype, framedprotocol, framedipaddress, framedipv6address, framedipv6prefix, "
                 "framedinterfaceid, delegatedipv6prefix")

# One accounting block for both dialects: @@ts@@ is a datetime from an epoch expression, @@diff@@ the seconds
# between the event and acctstarttime. Accounting-On/Off closes the NAS's open sessions (the stock default; the
# "lightweight" nasreload strategy stays off, so nasreload is only read).
_ACCOUNTING = r"""
	event_timestamp_epoch = "%{%{integer:Event-Timestamp}:-%l}"
	accounting {
		reference = "%{tolower:type.%{%{Acct-Status-Type}:-%{Request-Processing-Stage}}.query}"
		column_list = "@@columns@@"
		type {
			accounting-on {
				query = "UPDATE ${....acct_table1} SET acctstoptime = @@ts_event@@, acctsessiontime = @@diff@@, acctterminatecause = '%{%{Acct-Terminate-Cause}:-NAS-Reboot}' WHERE acctstoptime IS NULL AND nasipaddress = '%{NAS-IP-Address}' AND acctstarttime <= @@ts_event@@"
			}
			accounting-off {
				query = "${..accounting-on.query}"
			}
			start {
				query = "INSERT INTO ${....acct_table1} (${...column_list}) VALUES ('%{Acct-Session-Id}', '%{Acct-Unique-Session-Id}', '%{SQL-User-Name}', '%{Realm}', '%{NAS-IP-Address}', '%{%{NAS-Port-ID}:-%{NAS-Port}}', '%{NAS-Port-Type}', @@ts_event@@, @@ts_event@@, NULL, 0, '%{Acct-Authentic}', '%{Connect-Info}', '', 0, 0, '%{Called-Station-Id}', '%{Calling-Station-Id}', '', '%{Service-Type}', '%{Framed-Protocol}', '%{Framed-IP-Address}', '%{Framed-IPv6-Address}', '%{Framed-IPv6-Prefix}', '%{Framed-Interface-Id}', '%{Delegated-IPv6-Prefix}')"
				query = "UPDATE ${....acct_table1} SET acctstarttime = @@ts_event@@, acctupdatetime = @@ts_event@@, connectinfo_start = '%{Connect-Info}' WHERE acctuniqueid = '%{Acct-Unique-Session-Id}'"
			}
			interim-update {
				query = "UPDATE ${....acct_table1} SET acctupdatetime = @@ts_event@@, acctinterval = @@interval@@, framedipaddress = '%{Framed-IP-Address}', framedipv6address = '%{Framed-IPv6-Address}', framedipv6prefix = '%{Framed-IPv6-Prefix}', framedinterfaceid = '%{Framed-Interface-Id}', delegatedipv6prefix = '%{Delegated-IPv6-Prefix}', acctsessiontime = %{%{Acct-Session-Time}:-NULL}, acctinputoctets = (%{%{Acct-Input-Gigawords}:-0} << 32) | %{%{Acct-Input-Octets}:-0}, acctoutputoctets = (%{%{Acct-Output-Gigawords}:-0} << 32) | %{%{Acct-Output-Octets}:-0} WHERE acctuniqueid = '%{Acct-Unique-Session-Id}'"
				query = "INSERT INTO ${....acct_table1} (${...column_list}) VALUES ('%{Acct-Session-Id}', '%{Acct-Unique-Session-Id}', '%{SQL-User-Name}', '%{Realm}', '%{NAS-IP-Address}', '%{%{NAS-Port-ID}:-%{NAS-Port}}', '%{NAS-Port-Type}', @@ts_start@@, @@ts_event@@, NULL, %{%{Acct-Session-Time}:-NULL}, '%{Acct-Authentic}', '%{Connect-Info}', '', (%{%{Acct-Input-Gigawords}:-0} << 32) | %{%{Acct-Input-Octets}:-0}, (%{%{Acct-Output-Gigawords}:-0} << 32) | %{%{Acct-Output-Octets}:-0}, '%{Called-Station-Id}', '%{Calling-Station-Id}', '', '%{Service-Type}', '%{Framed-Protocol}', '%{Framed-IP-Address}', '%{Framed-IPv6-Address}', '%{Framed-IPv6-Prefix}', '%{Framed-Interface-Id}', '%{Delegated-IPv6-Prefix}')"
			}
			stop {
				query = "UPDATE ${....acct_table2} SET acctstoptime = @@ts_event@@, acctsessiontime = %{%{Acct-Session-Time}:-NULL}, acctinputoctets = (%{%{Acct-Input-Gigawords}:-0} << 32) | %{%{Acct-Input-Octets}:-0}, acctoutputoctets = (%{%{Acct-Output-Gigawords}:-0} << 32) | %{%{Acct-Output-Octets}:-0}, acctterminatecause = '%{Acct-Terminate-Cause}', connectinfo_stop = '%{Connect-Info}' WHERE acctuniqueid = '%{Acct-Unique-Session-Id}'"
				query = "INSERT INTO ${....acct_table2} (${...column_list}) VALUES ('%{Acct-Session-Id}', '%{Acct-Unique-Session-Id}', '%{SQL-User-Name}', '%{Realm}', '%{NAS-IP-Address}', '%{%{NAS-Port-ID}:-%{NAS-Port}}', '%{NAS-Port-Type}', @@ts_start@@, @@ts_event@@, @@ts_event@@, %{%{Acct-Session-Time}:-NULL}, '%{Acct-Authentic}', '', '%{Connect-Info}', (%{%{Acct-Input-Gigawords}:-0} << 32) | %{%{Acct-Input-Octets}:-0}, (%{%{Acct-Output-Gigawords}:-0} << 32) | %{%{Acct-Output-Octets}:-0}, '%{Called-Station-Id}', '%{Calling-Station-Id}', '%{Acct-Terminate-Cause}', '%{Service-Type}', '%{Framed-Protocol}', '%{Framed-IP-Address}', '%{Framed-IPv6-Address}', '%{Framed-IPv6-Prefix}', '%{Framed-Interface-Id}', '%{Delegated-IPv6-Prefix}')"
			}
			accounting {
				query = "SELECT true"
			}
		}
	}
"""

_EPOCH = "${....event_timestamp_epoch}"
_START = "(${....event_timestamp_epoch} - %{%{Acct-Session-Time}:-0})"

# SQLite: text datetimes (the stock file stores Unix integers, which the app's DateTime columns cannot read).
QUERIES_SQLITE = _fill(
    _ACCOUNTING, columns=_ACCT_COLUMNS,
    ts_event=f"datetime({_EPOCH}, 'unixepoch')", ts_start=f"datetime({_START}, 'unixepoch')",
    diff=f"CAST(ROUND((julianday(datetime({_EPOCH}, 'unixepoch')) - julianday(acctstarttime)) * 86400) AS INTEGER)",
    interval=f"CAST(ROUND((julianday(datetime({_EPOCH}, 'unixepoch')) - julianday(COALESCE(acctupdatetime, "
             "acctstarttime))) * 86400) AS INTEGER)")

# MariaDB / MySQL: as the stock mysql queries (FROM_UNIXTIME in a UTC session).
QUERIES_MYSQL = _fill(
    _ACCOUNTING, columns=_ACCT_COLUMNS,
    ts_event=f"FROM_UNIXTIME({_EPOCH})", ts_start=f"FROM_UNIXTIME({_START})",
    diff=f"'{_EPOCH}' - UNIX_TIMESTAMP(acctstarttime)",
    interval=f"({_EPOCH} - UNIX_TIMESTAMP(COALESCE(acctupdatetime, acctstarttime)))")

SITE = """
server default {
	listen {
		type = auth
		ipaddr = @@host@@
		port = @@auth_port@@
	}
	listen {
		type = acct
		ipaddr = @@host@@
		port = @@acct_port@@
	}
	authorize {
		preprocess
		chap
		sql
		expiration
		logintime
		noresetcounter
		pap
		Autz-Type Status-Server {
			ok
		}
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
		Auth-Type CHAP {
			chap
		}
	}
	preacct {
		preprocess
		acct_unique
	}
	accounting {
		sql
	}
	# Simultaneous-Use counts the open radacct rows (ships commented out in the stock site)
	session {
		sql
	}
	post-auth {
		sql
		Post-Auth-Type REJECT {
			sql
		}
	}
}
"""

# sites-available/dynamic-clients, on the nas table: a router onboarded after start is found without a restart.
DYNAMIC_SITE = """
server dynamic_clients {
	authorize {
		if ("%{sql: SELECT COUNT(*) FROM nas WHERE nasname = '%{Packet-Src-IP-Address}'}" > 0) {
			update control {
				&FreeRADIUS-Client-IP-Address = "%{Packet-Src-IP-Address}"
				&FreeRADIUS-Client-Require-MA = no
				&FreeRADIUS-Client-Shortname = "%{sql: SELECT shortname FROM nas WHERE nasname = '%{Packet-Src-IP-Address}'}"
				&FreeRADIUS-Client-Secret = "%{sql: SELECT secret FROM nas WHERE nasname = '%{Packet-Src-IP-Address}'}"
				&FreeRADIUS-Client-NAS-Type = "other"
			}
		}
		ok
	}
}
"""


if __name__ == "__main__":
    raise SystemExit(main())
