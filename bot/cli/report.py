"""`keepposted report`: confirmation, reopen and on-time figures, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import json
from datetime import datetime

import click

from bot.cli.state import State, open_output, pass_state


@click.command()
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE", help="first day [the log's first]"
)
@click.option(
    "--until", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE", help="last day, included [today]"
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option("--output", type=click.Path(dir_okay=False), help="write to FILE, not the terminal")
@pass_state
def report(
    state: State, since: datetime | None, until: datetime | None, fmt: str, output: str | None
) -> None:
    """Confirmation, reopen and auto-close rates, time to confirm, updates sent and on time.

    Days are calendar days in the config's `timezone`. An interim update is on time when it was
    sent within `reports.on_time_within` of its due time. The table shows the totals, then one
    line per day. CSV is one table for a spreadsheet: a row per day, then a `total` row for the
    whole window; rates are fractions (0.75), times are in seconds, and an empty cell means
    there was nothing to measure. JSON holds the same figures: {"totals": {...}, "daily":
    [{"date": ...}, ...]}. At most the last 400 days are listed one by one.
    """
    from bot.ops.report import CSV_FIELDS, MAX_DAYS, build_report, day_window

    if since and until and since > until:
        raise click.BadParameter("the first day comes after the last", param_hint="--since")
    core, zone = state.core, state.config.timezone
    start, end = day_window(since and since.date(), until and until.date(), zone)
    try:
        with core.sessions() as session:
            figures = build_report(
                session,
                since=start,
                until=end,
                now=core.clock.now(),
                zone=zone,
                on_time_within=state.config.reports.on_time_within,
            )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    with open_output(output) as out:
        if fmt == "json":
            out.write(json.dumps(figures.as_dict(), indent=2) + "\n")
        elif fmt == "csv":
            table = csv.DictWriter(out, fieldnames=CSV_FIELDS)
            table.writeheader()
            table.writerows(figures.csv_rows())
        else:
            click.echo(f"keepposted report {figures.period}", file=out)
            for name, value in figures.rows():
                click.echo(f"  {name:<26} {value}", file=out)
            click.echo(file=out)
            for line in figures.daily_table():
                click.echo(f"  {line}", file=out)
    if figures.days_left_out:
        click.echo(
            f"note: {figures.days_left_out} earlier days are in the totals only: "
            f"at most {MAX_DAYS} days are listed one by one",
            err=True,
        )
    if output:
        click.echo(f"wrote the report to {output}", err=True)
