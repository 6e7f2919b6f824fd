"""The RouterOS API query stack: ?name, ?-name, ?=, ?<, ?>, and ?# operations."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .values import as_number, norm_bool, parse_duration

Row = Mapping[str, str]
Test = Callable[[Row], bool]


class QueryError(ValueError):
    """A query word that cannot be parsed."""


def _canon(value: str) -> str:
    return norm_bool(value) or value


def _order(left: str, right: str) -> int:
    """Compare two RouterOS values as numbers, durations or text (-1, 0, 1)."""
    pairs = ((as_number(left), as_number(right)), (parse_duration(left), parse_duration(right)))
    for a, b in pairs:
        if a is not None and b is not None:
            return (a > b) - (a < b)
    return (left > right) - (left < right)


def _equal(name: str, value: str) -> Test:
    want = _canon(value)
    return lambda row: _canon(row.get(name, "")) == want


def _id_number(value: str) -> int | None:
    """'*1A' -> 26; None for anything that is not an internal id."""
    if value.startswith("*"):
        try:
            return int(value[1:], 16)
        except ValueError:
            return None
    return None


def _compare(name: str, value: str, sign: int) -> Test:
    if name == ".id" and _id_number(value) is not None:
        # Ids compare as the numbers they are (*A < *1F), so "?>.id=*X" reads what came after X (unverified).
        want = _id_number(value)

        def by_id(row: Row) -> bool:
            got = _id_number(row.get(".id", ""))
            return got is not None and (got > want) - (got < want) == sign

        return by_id
    return lambda row: name in row and _order(row[name], value) == sign


def compile_word(word: str) -> Test | str:
    """Compile one query word (without '?') into a test, or return '#ops' unchanged."""
    if word.startswith("#"):
        return word
    if word.startswith("-"):
        name = word[1:]
        return lambda row: name not in row
    op = word[0] if word[:1] in ("=", "<", ">") else ""
    body = word[1:] if op else word
    name, sep, value = body.partition("=")
    if not name:
        raise QueryError("invalid query word ?%s" % word)
    if not sep:
        if op:
            raise QueryError("invalid query word ?%s" % word)
        return lambda row: name in row
    if op == "<":
        return _compare(name, value, -1)
    if op == ">":
        return _compare(name, value, 1)
    return _equal(name, value)


def _run_ops(ops: str, stack: list[bool]) -> None:
    """Apply '?#' operations; popping an empty stack yields true, as an empty query does."""

    def pop() -> bool:
        return stack.pop() if stack else True

    for ch in ops:
        if ch == "!":
            stack.append(not pop())
        elif ch == "&":
            b, a = pop(), pop()
            stack.append(a and b)
        elif ch == "|":
            b, a = pop(), pop()
            stack.append(a or b)
        elif ch == ".":
            stack.append(stack[-1] if stack else True)
        elif ch.isdigit():
            # Index counts from the bottom of the stack (unverified on a real router).
            idx = int(ch)
            stack.append(stack[idx] if idx < len(stack) else True)
        else:
            raise QueryError("invalid query operation %r" % ch)


class Query:
    """A compiled list of query words, evaluated per row."""

    def __init__(self, words: list[str]) -> None:
        self.steps = [compile_word(w) for w in words]

    def __bool__(self) -> bool:
        return bool(self.steps)

    def equality_set(self, words: list[str]) -> tuple[str, set[str]] | None:
        """(key, values) when the query (words without '?') is `key=a OR key=b ...`, else None."""
        key, values = None, set()
        for word in words:
            if word.startswith("#"):
                if set(word[1:]) != {"|"}:
                    return None
                continue
            body = word[1:] if word.startswith("=") else word
            name, sep, value = body.partition("=")
            if not sep or not name or name[0] in "<>-" or key not in (None, name):
                return None
            key = name
            values.add(value)
        return (key, values) if key else None

    def matches(self, row: Row) -> bool:
        """True unless a false is left on the stack after every word has run."""
        stack: list[bool] = []
        for step in self.steps:
            if isinstance(step, str):
                _run_ops(step[1:], stack)
            else:
                stack.append(step(row))
        return all(stack)
