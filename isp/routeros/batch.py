"""Pipelined bulk "ensure": one query for the chunk, then tagged writes kept in flight.

librouteros waits for `!done` after every command, so a chunk of N users costs
2N round trips. Here the chunk costs one query plus about N/window round trips:
writes carry `.tag` and up to `window` are in flight on the one connection.
"""
from __future__ import annotations

from collections import deque

from librouteros.api import Api
from librouteros.exceptions import ProtocolError, TrapError

from isp.routeros.operations import READ_ONLY, _norm, unseal


def query_words(key: str, values: list[str]) -> list[str]:
    """RouterOS query for key IN values: ?=k=a ?=k=b ?#|."""
    words = [f"?={key}={v}" for v in values]
    if len(values) > 1:
        words.append("?#" + "|" * (len(values) - 1))
    return words


def parse_words(words: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    """A raw reply sentence's tag and attributes (`.tag=x`, `=name=value`)."""
    tag, data = None, {}
    for word in words:
        if word.startswith(".tag="):
            tag = word[5:]
        elif word.startswith("="):
            name, _, value = word[1:].partition("=")
            data[name] = value
    return tag, data


def ensure_many(api: Api, menu: str, attrs_list: list[dict], key: str = "name", window: int = 64) -> list:
    """Ensure every item; returns per item a result dict or a TrapError (the connection stays usable)."""
    wanted = [{k: _norm(v) for k, v in unseal(attrs).items() if k not in READ_ONLY} for attrs in attrs_list]
    existing = {}
    for row in api.rawCmd(f"{menu}/print", *query_words(key, [w[key] for w in wanted])):
        existing.setdefault(_norm(row.get(key, "")), row)
    results: list = [None] * len(wanted)
    todo: deque = deque()
    for index, attrs in enumerate(wanted):
        row = existing.get(attrs[key])
        if row is None:
            todo.append((index, f"{menu}/add", attrs, "added"))
            continue
        diff = {k: v for k, v in attrs.items() if _norm(row.get(k, "")) != v}
        if diff:
            todo.append((index, f"{menu}/set", {".id": row[".id"], **diff}, "updated"))
        else:
            results[index] = {"action": "unchanged", "id": row[".id"]}
    protocol = api.protocol
    inflight: dict[str, list] = {}
    while todo or inflight:
        while todo and len(inflight) < window:
            index, command, attrs, action = todo.popleft()
            protocol.writeSentence(command, *(f"={k}={v}" for k, v in attrs.items()), f".tag={index}")
            inflight[str(index)] = [index, action, None]
        reply, words = protocol.readSentence()
        tag, data = parse_words(words)
        if tag not in inflight:
            raise ProtocolError(f"reply for unknown tag {tag!r}")
        entry = inflight[tag]
        if reply == "!trap":
            entry[2] = TrapError(message=data.get("message", ""), category=data.get("category"))
        elif reply == "!done":
            del inflight[tag]
            index, action, trap = entry
            results[index] = trap or {"action": action, "id": data.get("ret")}
    return results
