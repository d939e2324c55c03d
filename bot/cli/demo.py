"""`keepposted demo`: seed example cases and play them through, in dry-run."""

from __future__ import annotations

import click

from bot.cli.state import State, pass_state


@click.command()
@click.option(
    "--history-days",
    default=21,
    show_default=True,
    type=click.IntRange(0, 365),
    help="days of past cases to play first, for the /admin charts and `report`",
)
@pass_state
def demo(state: State, history_days: int) -> None:
    """Seed example contacts and cases and play whole cases through, in dry-run."""
    from bot.demo.seed import seed

    seed(state.core, click.echo, history_days=history_days)
