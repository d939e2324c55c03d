"""`keepposted config`: config.yaml (`config check`)."""

from __future__ import annotations

import sys

import click

from bot.cli.state import State, pass_state


@click.group("config")
def config_group() -> None:
    """config.yaml."""


@config_group.command("check")
@pass_state
def config_check(state: State) -> None:
    """Validate the config, show every effective cadence, and render every template."""
    from bot.ops.config_check import check

    ok = check(state.config, click.echo)
    sys.exit(0 if ok else 1)
