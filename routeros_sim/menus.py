"""Generic RouterOS menus: typed fields, .id allocation and the print/add/set/remove verbs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .query import Query
from .values import format_duration, norm_bool, parse_duration, parse_pair, parse_size

Item = dict[str, object]


class Trap(Exception):
    """A command failure answered with !trap (category is optional on RouterOS too)."""

    def __init__(self, message: str, category: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.category = category


def no_such_item() -> Trap:
    """The trap RouterOS sends for an unknown .id."""
    return Trap("no such item (4)", 0)


@dataclass
class Field:
    """One property of a menu item and how its input is validated."""

    kind: str = "str"  # str, bool, int, duration, size, pair, choice, set, ref
    default: str | None = None  # None: absent from the row until set
    readonly: bool = False
    required: bool = False
    choices: tuple[str, ...] = ()
    ref: str | None = None  # menu path whose item names are the valid values
    extra: tuple[str, ...] = ()  # literal values accepted besides ref names


@dataclass
class Menu:
    """A list menu such as /ip/hotspot/user, holding items keyed by numeric id."""

    path: str
    fields: dict[str, Field]
    verbs: frozenset[str] = frozenset({"print", "getall", "get", "add", "set", "remove",
                                       "enable", "disable", "listen"})
    unique: Callable[[Item], object] | None = None
    dup_message: str = "failure: item with such name already exists"
    on_change: Callable[[str, Item], None] | None = None  # hook for cross-menu effects
    prepare: Callable[[Item], None] | None = None  # fills derived values before an add is checked
    items: dict[int, Item] = field(default_factory=dict)
    listeners: list[Callable[[dict[str, str]], None]] = field(default_factory=list)
    resolve_ref: Callable[[str, str], bool] | None = None
    next_id: int = 1
    persistent: bool = True

    def __post_init__(self) -> None:
        if "disabled" not in self.fields:
            # Profiles and active entries cannot be disabled on RouterOS either.
            self.verbs = self.verbs - {"enable", "disable"}

    # -- reading -------------------------------------------------------------
    def row(self, item: Item) -> dict[str, str]:
        """The item as RouterOS prints it: .id first, private keys hidden."""
        return {k: str(v) for k, v in item.items() if not k.startswith("_")}

    def rows(self, query: Query | None = None) -> list[dict[str, str]]:
        """All rows matching query, in creation order."""
        out = [self.row(i) for i in self.items.values()]
        return [r for r in out if query.matches(r)] if query else out

    def find(self, ref: str) -> Item:
        """Resolve '*1A' or an item name to the item, or trap."""
        if ref.startswith("*"):
            try:
                item = self.items.get(int(ref[1:], 16))
            except ValueError:
                item = None
        else:
            item = next((i for i in self.items.values() if i.get("name") == ref), None)
        if item is None:
            raise no_such_item()
        return item

    def find_many(self, refs: str) -> list[Item]:
        """Resolve a comma list of ids, trapping on the first unknown one."""
        return [self.find(r.strip()) for r in refs.split(",") if r.strip()]

    def by_name(self, name: str) -> Item | None:
        """The item called name, if any."""
        return next((i for i in self.items.values() if i.get("name") == name), None)

    # -- validation ----------------------------------------------------------
    def clean(self, name: str, value: str, internal: bool = False) -> str:
        """Validate one input value and return it in RouterOS print format."""
        spec = self.fields.get(name)
        if spec is None or (spec.readonly and not internal):
            raise Trap("unknown parameter %s" % name)
        if spec.kind == "bool":
            out = norm_bool(value)
        elif spec.kind == "int":
            out = value if value.strip().isdigit() else None
        elif spec.kind == "duration":
            if value in ("none", "") or value in spec.extra:
                out = value or "none"
            else:
                secs = parse_duration(value)
                out = None if secs is None else format_duration(secs)
        elif spec.kind == "size":
            size = parse_size(value)
            out = None if size is None else str(size)
        elif spec.kind == "pair":
            pair = parse_pair(value)
            out = None if pair is None else "%d/%d" % pair
        elif spec.kind == "choice":
            out = value if value in spec.choices else None
        elif spec.kind == "set":
            parts = [p for p in value.split(",") if p]
            out = value if all(p in spec.choices for p in parts) else None
        elif spec.kind == "ref":
            ok = value in spec.extra or (self.resolve_ref and self.resolve_ref(spec.ref or "", value))
            if not ok:
                raise Trap("input does not match any value of %s" % name, 1)
            out = value
        else:
            out = value
        if out is None:
            raise Trap("invalid value for argument %s" % name, 1)
        return out

    # -- writing -------------------------------------------------------------
    def add(self, args: dict[str, str], internal: bool = False) -> Item:
        """Create an item from API arguments; returns it with its new .id."""
        values = {k: self.clean(k, v, internal) for k, v in args.items()}
        missing = [n for n, f in self.fields.items() if f.required and not values.get(n)]
        if missing:
            raise Trap("missing value(s) of argument(s) %s" % " ".join(missing))
        item: Item = {".id": "*%X" % self.next_id}
        for name, spec in self.fields.items():
            if name in values:
                item[name] = values[name]
            elif spec.default is not None:
                item[name] = spec.default
        if self.prepare is not None:
            self.prepare(item)
        self._check_unique(item, None)
        self.items[self.next_id] = item
        self.next_id += 1
        self._reindex(item)
        self._changed("add", item)
        return item

    def update(self, item: Item, args: dict[str, str], internal: bool = False) -> None:
        """Apply set arguments to one item."""
        values = {k: self.clean(k, v, internal) for k, v in args.items()}
        merged = dict(item, **values)
        self._check_unique(merged, item)
        old_key = self.unique(item) if self.unique is not None else None
        item.update(values)
        self._reindex(item, old_key)
        self._changed("set", item)

    def delete(self, item: Item) -> None:
        """Remove one item, telling listeners it is dead."""
        if item.get("_builtin"):
            raise Trap("failure: can not remove built-in item")
        self.items.pop(int(str(item[".id"])[1:], 16), None)
        self._reindex(item, self.unique(item) if self.unique is not None else None, removed=True)
        self._changed("remove", item)

    def renumber(self, start: int) -> None:
        """Give every item a fresh .id, as a reboot does."""
        self.next_id = start
        old, self.items = self.items, {}
        for item in old.values():
            item[".id"] = "*%X" % self.next_id
            self.items[self.next_id] = item
            self.next_id += 1
        self.touch()

    def _unique_index(self) -> dict:
        """unique key -> item, rebuilt whenever the item table was replaced, grew or shrank behind our back."""
        signature = (id(self.items), len(self.items), self.next_id)
        if getattr(self, "_uidx_sig", None) != signature:
            self._uidx = {self.unique(i): i for i in self.items.values()}
            self._uidx_sig = signature
        return self._uidx

    def touch(self) -> None:
        """Say an item's unique key was changed in place (the index is rebuilt on next use)."""
        self._uidx_sig = None

    def _check_unique(self, item: Item, current: Item | None) -> None:
        """Trap on a duplicate key: one dictionary lookup, so 10,000 adds stay linear."""
        if self.unique is None:
            return
        key = self.unique(item)
        other = self._unique_index().get(key)
        if other is not None and other is not current and self.unique(other) == key \
                and self.items.get(int(str(other[".id"])[1:], 16)) is other:
            raise Trap(self.dup_message)

    def _reindex(self, item: Item, old_key: object = None, removed: bool = False) -> None:
        if self.unique is None or getattr(self, "_uidx_sig", None) is None:
            return
        index = self._uidx
        if old_key is not None and index.get(old_key) is item:
            del index[old_key]
        if not removed:
            index[self.unique(item)] = item
        self._uidx_sig = (id(self.items), len(self.items), self.next_id)

    def _changed(self, what: str, item: Item) -> None:
        if self.on_change is not None:
            self.on_change(what, item)
        event = {".id": str(item[".id"]), ".dead": "true"} if what == "remove" else self.row(item)
        for listener in list(self.listeners):
            listener(event)


class Settings:
    """A settings menu with one unnamed item, such as /ppp/aaa: print, get and set, no .id."""

    def __init__(self, path: str, fields: dict[str, Field]) -> None:
        self.path = path
        self.fields = fields
        self._checker = Menu(path, fields)  # borrows Menu's validation of typed values
        self.values: dict[str, str] = {n: f.default for n, f in fields.items() if f.default is not None}

    def row(self) -> dict[str, str]:
        """The settings as RouterOS prints them."""
        return dict(self.values)

    def update(self, args: dict[str, str]) -> None:
        """Validate and apply set arguments (all or none)."""
        values = {k: self._checker.clean(k, v) for k, v in args.items()}
        self.values.update(values)

    def get(self, name: str) -> str:
        """One setting's printed value."""
        return self.values.get(name, "")
