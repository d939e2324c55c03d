"""`keepposted config`: config.yaml (`config check`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from bot.cli.state import State, pass_state
from bot.config import Config, Settings

if TYPE_CHECKING:
    from bot.render import Templates


@click.group("config")
def config_group() -> None:
    """config.yaml."""


@config_group.command("check")
@pass_state
def config_check(state: State) -> None:
    """Validate the config, show every effective cadence, render every template, and say
    whether the SMS senders can carry the cadences."""
    from bot.ops.config_check import check

    config = state.config
    ok = check(config, click.echo, lambda templates: capacity_lines(config, templates))
    sys.exit(0 if ok else 1)


def capacity_lines(config: Config, templates: Templates) -> list[str]:
    """What the pool can carry per cadence, and, when the database is there and migrated, the
    open cases' need against it. A shortfall is a warning, not an invalid config: the file is
    right, today's volume is what outgrew the numbers, and it changes by the hour."""
    from bot.ops.capacity import carrying_lines, measure
    from bot.ops.readiness import head_revision, schema_problem
    from bot.store.db import make_engine, make_readers

    lines = carrying_lines(config, templates)
    engine = make_engine(Settings.from_env().database_url)
    try:
        problem = schema_problem(engine, head_revision())
        if problem:
            return [*lines, f"  open cases not counted: {problem}"]
        with make_readers(engine)() as session:
            return [*lines, *measure(session, config, templates).lines()]
    finally:
        engine.dispose()
