"""Every command of ours records its audit rows as via=cli (the actor: the user it acts as, else none)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from isp.services import audit


def _wrap(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        with audit.source("cli"):
            return callback(*args, **kwargs)

    run.audited_cli = True  # type: ignore[attr-defined]  # create_app runs once per app; wrap a command once
    return run


def audited(command: click.Command) -> click.Command:
    """Wrap the command's callback, and its subcommands' (a group), in audit.source("cli"); returns the command."""
    if command.callback is not None and not getattr(command.callback, "audited_cli", False):
        command.callback = _wrap(command.callback)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            audited(sub)
    return command
