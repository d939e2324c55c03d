"""The `keepposted` command line (README, Command line): `main`, the top-level group, with one
module per command or command group below it and what they share in `state.py`."""

from __future__ import annotations

from typing import Any

import click

from bot.cli.cases import case
from bot.cli.config import config_group
from bot.cli.db import db
from bot.cli.demo import demo
from bot.cli.dev import dev
from bot.cli.init import init
from bot.cli.log import log_group
from bot.cli.report import report
from bot.cli.serve import serve, status, worker
from bot.cli.simulate import simulate
from bot.cli.state import State
from bot.errors import KeeppostedError

__all__ = ["main"]


class KeeppostedGroup(click.Group):
    """Turns our own errors into a clear message and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeeppostedError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            ctx.exit(2)


@click.group(cls=KeeppostedGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="config file (default $KEEPPOSTED_CONFIG or ./config.yaml)",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """keepposted: keep support customers posted, and get their word when a case is closed."""
    ctx.obj = State(config_path)


for command in (
    dev,
    simulate,
    serve,
    worker,
    status,
    demo,
    init,
    db,
    config_group,
    case,
    log_group,
    report,
):
    main.add_command(command)
