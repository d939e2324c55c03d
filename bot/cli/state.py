"""What every command shares: the lazily built State (config, core), its pass decorator, the
command line's actor, and the output helper for commands that write a file or stdout."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TextIO

import click

from bot.config import Config, Settings, load_config
from bot.core import Core, create_core
from bot.domain import agent
from bot.ops.readiness import require_schema

CLI_ACTOR = agent("cli")


def make_core(config: Config, settings: Settings) -> Core:
    """Every core the command line builds comes from here (tests patch `create_core` in this
    module to put the command line on their clock)."""
    return create_core(config, settings)


class State:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._core: Core | None = None

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    @property
    def core(self) -> Core:
        """The core on a database migrated to the newest schema; else one line says what to
        run (and no empty SQLite file is left behind)."""
        if self._core is None:
            core = make_core(self.config, Settings.from_env())
            require_schema(core.engine)
            self._core = core
        return self._core


pass_state = click.make_pass_decorator(State)


@contextmanager
def open_output(path: str | None) -> Iterator[TextIO]:
    """The file at PATH to write (newlines as written, for CSV), or stdout without one."""
    if path is None:
        yield sys.stdout
        return
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        yield handle
