"""Sentence parsing and command dispatch for the stateful menus."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .menus import Menu, Trap
from .query import Query, QueryError

if TYPE_CHECKING:
    from .state import RouterState

PRINT_VERBS = ("print", "getall")
PRINT_OPTS = {".proplist", "count-only", "detail", "without-paging", "terse", "stats", "brief",
              "as-value", "from", "where", "interval", "follow", "follow-only", "stats-detail",
              "show-ids", "append"}
SINGLETONS = {"/system/resource": "print getall get", "/system/health": "print getall get",
              "/system/identity": "print getall get set",
              "/interface": "monitor-traffic", "/system": "reboot"}
SETTINGS_VERBS = ("print", "getall", "get", "set")


@dataclass
class Command:
    """One parsed request sentence."""

    word: str
    args: dict[str, str] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    tag: str | None = None

    @property
    def path(self) -> str:
        """The menu part of the command word."""
        return self.word.rpartition("/")[0] or "/"

    @property
    def verb(self) -> str:
        """The last part of the command word."""
        return self.word.rpartition("/")[2]


@dataclass
class Result:
    """What a command produced: rows for !re and an optional =ret= for !done."""

    rows: list[dict[str, str]] = field(default_factory=list)
    ret: str | None = None
    is_print: bool = False


def parse(words: list[str]) -> Command:
    """Split a sentence into command word, attributes, queries and tag."""
    word = words[0] if words[0].startswith("/") else "/" + words[0]
    cmd = Command(word.rstrip("/") or "/")
    for w in words[1:]:
        if w.startswith("="):
            # '=name' without a second '=' is a flag with an empty value (routeros_api style).
            name, _, value = w[1:].partition("=")
            cmd.args[name] = value
        elif w.startswith(".tag="):
            cmd.tag = w[5:]
        elif w.startswith(".proplist="):
            cmd.args[".proplist"] = w[10:]
        elif w.startswith("?"):
            cmd.queries.append(w[1:])
    return cmd


def no_such_command(name: str) -> Trap:
    """The trap for an unknown menu or verb."""
    return Trap("no such command or directory (%s)" % name, 0)


def check_known(state: RouterState, cmd: Command) -> None:
    """Trap unless the command names a served menu and one of its verbs."""
    path, verb = cmd.path, cmd.verb
    menu = state.menus.get(path)
    if menu is not None and verb in menu.verbs:
        return
    if verb in SINGLETONS.get(path, "").split():
        return
    if path in state.settings and verb in SETTINGS_VERBS:
        return
    known = set(state.menus) | set(SINGLETONS) | set(state.settings)
    dirs = {p.rsplit("/", i)[0] for p in known for i in range(p.count("/"))}
    parts = cmd.word.strip("/").split("/")
    for i, part in enumerate(parts):
        if "/" + "/".join(parts[: i + 1]) not in known | dirs:
            raise no_such_command(part)
    raise no_such_command(verb)


def _name_lookup(cmd: Command) -> tuple[str, set[str]] | None:
    """(key, values) for a print whose query is `name=a OR name=b ...` (no =from=)."""
    if not cmd.queries or cmd.args.get("from"):
        return None
    try:
        lookup = Query(cmd.queries).equality_set(cmd.queries)
    except QueryError:
        return None
    return lookup if lookup and lookup[0] in ("name", "user") else None


def shape(rows: list[dict[str, str]], cmd: Command) -> Result:
    """Apply print options: from, queries, count-only and .proplist."""
    unknown = set(cmd.args) - PRINT_OPTS
    if unknown:
        raise Trap("unknown parameter %s" % sorted(unknown)[0])
    if cmd.args.get("from"):
        wanted = {r.strip() for r in cmd.args["from"].split(",")}
        rows = [r for r in rows if r.get(".id") in wanted or r.get("name") in wanted]
    try:
        query = Query(cmd.queries)
    except QueryError as exc:
        raise Trap(str(exc), 1) from None
    if query:
        # Fast path for "name = a OR name = b ...": a set lookup before the stack machine (a real
        # router indexes this natively; without it the benchmarks would measure the simulator).
        lookup = query.equality_set(cmd.queries)
        if lookup and lookup[0] in ("name", "user"):
            rows = [r for r in rows if r.get(lookup[0]) in lookup[1]]
        rows = [r for r in rows if query.matches(r)]
    if "count-only" in cmd.args:
        return Result(ret=str(len(rows)), is_print=True)
    if cmd.args.get(".proplist"):
        names = [n for n in cmd.args[".proplist"].split(",") if n]
        rows = [{n: r[n] for n in names if n in r} for r in rows]
    return Result(rows=rows, is_print=True)


def targets(menu: Menu, cmd: Command) -> list:
    """Items named by =.id= or =numbers= (comma lists)."""
    refs = cmd.args.pop(".id", None) or cmd.args.pop("numbers", None) or cmd.args.pop("number", None)
    if not refs:
        raise Trap("missing value(s) of argument(s) .id")
    return menu.find_many(refs)


def get_value(row: dict[str, str], cmd: Command) -> Result:
    """The 'get' verb: =ret= carries one property."""
    name = cmd.args.get("value-name")
    if not name:
        raise Trap("missing value(s) of argument(s) value-name")
    if name not in row:
        raise Trap("no such property (%s)" % name, 1)
    return Result(ret=row[name])


def _after_id(cmd: Command) -> int | None:
    """X for a print whose first query word is `>.id=*X` (a log tail), else None."""
    first = cmd.queries[0] if cmd.queries else ""
    if not first.startswith(">.id=*") or cmd.args.get("from"):
        return None
    try:
        return int(first[6:], 16)
    except ValueError:
        return None


def run_menu(menu: Menu, cmd: Command) -> Result:
    """Run a verb on a list menu."""
    verb = cmd.verb
    if verb in PRINT_VERBS:
        lookup = _name_lookup(cmd)
        if lookup:  # format only the candidate items; shape() still applies the full query
            key, values = lookup
            return shape([menu.row(i) for i in menu.items.values() if str(i.get(key, "")) in values], cmd)
        after = _after_id(cmd)
        if after is not None:  # "what came after *X": format only the newer items (the full query still runs)
            return shape([menu.row(i) for k, i in menu.items.items() if k > after], cmd)
        return shape(menu.rows(), cmd)
    if verb == "get":
        return get_value(menu.row(targets(menu, cmd)[0]), cmd)
    if verb == "add":
        return Result(ret=str(menu.add(cmd.args)[".id"]))
    items = targets(menu, cmd)
    if verb == "set":
        for item in items:
            menu.update(item, cmd.args)
    elif verb == "remove":
        for item in items:
            menu.delete(item)
    elif verb in ("enable", "disable"):
        for item in items:
            menu.update(item, {"disabled": "yes" if verb == "disable" else "no"})
    return Result()


def run_system(state: RouterState, cmd: Command) -> Result:
    """/system/resource, /system/health and /system/identity."""
    if cmd.path == "/system/identity" and cmd.verb == "set":
        unknown = set(cmd.args) - {"name"}
        if unknown:
            raise Trap("unknown parameter %s" % sorted(unknown)[0])
        if not cmd.args.get("name"):
            raise Trap("missing value(s) of argument(s) name")
        state.identity = cmd.args["name"]
        return Result()
    if cmd.path == "/system/identity":
        rows = [{"name": state.identity}]
    elif cmd.path == "/system/resource":
        rows = [state.living.resource(state.last_sync)]
    else:
        rows = state.living.health()
    if cmd.verb == "get":
        return get_value(rows[0] if rows else {}, cmd)
    return shape(rows, cmd)


def run_settings(state: RouterState, cmd: Command) -> Result:
    """print/get/set on a one-item settings menu such as /ppp/aaa or /radius/incoming."""
    settings = state.settings[cmd.path]
    if cmd.verb == "set":
        settings.update(cmd.args)
        state.settings_changed(cmd.path)
        return Result()
    if cmd.verb == "get":
        return get_value(settings.row(), cmd)
    return shape([settings.row()], cmd)


def monitor_rows(state: RouterState, cmd: Command) -> list[dict[str, str]]:
    """Rows for /interface/monitor-traffic =interface=a,b."""
    names = [n for n in cmd.args.get("interface", "").split(",") if n]
    if not names:
        raise Trap("missing value(s) of argument(s) interface")
    menu = state.menus["/interface"]
    rows = []
    for name in names:
        iface = menu.by_name(name)
        if iface is None:
            raise Trap("input does not match any value of interface", 1)
        rows.append(state.living.monitor(iface))
    return rows


def execute(state: RouterState, cmd: Command) -> Result:
    """Run one non-streaming command; the caller holds state.lock and has synced."""
    check_known(state, cmd)
    if cmd.path in state.settings:
        return run_settings(state, cmd)
    if cmd.path in state.menus and cmd.verb != "monitor-traffic":
        return run_menu(state.menus[cmd.path], cmd)
    if cmd.verb == "monitor-traffic":
        rows = monitor_rows(state, cmd)
        if cmd.args.get(".proplist"):
            names = [n for n in cmd.args[".proplist"].split(",") if n]
            rows = [{n: r[n] for n in names if n in r} for r in rows]
        return Result(rows=rows)
    return run_system(state, cmd)
