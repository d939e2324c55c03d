"""`keepposted log`: export the resolution-confirmation log and verify it or an export."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.state import CLI_ACTOR, State, open_output, pass_state
from bot.ledger.chain import count_entries, verify


@click.group("log")
def log_group() -> None:
    """The resolution-confirmation log."""


@log_group.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True
)
@click.option("--case", "case_id", type=int, help="only this case")
@click.option(
    "--since",
    metavar="DATE",
    help="only entries from this time on (UTC): 2026-11-01 or 2026-11-01T09:30",
)
@click.option(
    "--until",
    metavar="DATE",
    help="only entries before this time (UTC); a date alone includes that whole day",
)
@click.option(
    "--event",
    "events",
    multiple=True,
    metavar="EVENT",
    help="only this event, e.g. confirmed; repeat it for more",
)
@click.option(
    "--redact", is_flag=True, help="mask phone numbers and contact names, to share outside the team"
)
@click.option("--output", type=click.Path(dir_okay=False), help="file to write (default stdout)")
@pass_state
def log_export(
    state: State,
    fmt: str,
    case_id: int | None,
    since: str | None,
    until: str | None,
    events: tuple[str, ...],
    redact: bool,
    output: str | None,
) -> None:
    """Export the log, or part of it, with what `log verify FILE` needs to check it.

    JSONL: a header line (filters, chain heads at export time, the digest `log verify` prints),
    then one entry a line. CSV: one row per entry for a spreadsheet; each row also holds its
    chain's head, and the first row the header. With --redact, entries whose detail had a phone
    number or name carry the masked paths and are checked by linkage only. Every export is
    recorded in the audit trail.
    """
    from bot.ledger.export import ExportFilter, count_export, export_log, parse_time_bound

    filters = ExportFilter(
        case_id=case_id,
        since=parse_time_bound(since) if since else None,
        until=parse_time_bound(until, end=True) if until else None,
        events=events,
    )
    core = state.core
    try:
        with core.sessions() as session, open_output(output) as out:
            total = count_export(session, filters)
            with click.progressbar(length=total, label="exporting", file=sys.stderr) as bar:
                written = export_log(
                    session,
                    out,
                    fmt=fmt,
                    filters=filters,
                    redact=redact,
                    actor=CLI_ACTOR,
                    now=core.clock.now(),
                    progress=bar.update,
                )
            session.commit()
    except BaseException:
        if output:  # a half-written export must not pass for a whole one
            Path(output).unlink(missing_ok=True)
        raise
    if output:
        masked = " (phone numbers and names masked)" if redact else ""
        click.echo(f"wrote {written} entries to {output}{masked}", err=True)


@log_group.command("verify")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, allow_dash=True)
)
@pass_state
def log_verify(state: State, file: str | None) -> None:
    """Check the whole log, or an export FILE; exit 1 naming the first bad entry or line.

    FILE is checked offline, with no database or config: each entry's hash against its
    content (redacted entries by linkage only), the links between consecutive entries, and the
    last entry of each chain against the chain head in the export's header.
    """
    if file is not None:
        _verify_export_file(file)
        return
    with state.core.sessions() as session:
        total = count_entries(session)
        with click.progressbar(length=total, label="verifying", file=sys.stderr) as bar:
            result = verify(session, progress=bar.update)
    if result.ok:
        click.echo(f"ok: {result.entries} entries in {result.chains} chains are intact.")
        click.echo(
            f"digest of all chain heads: {result.digest} (record it to detect a "
            "rewrite of the whole log later)"
        )
        return
    first = result.first_problem
    assert first is not None
    click.secho(
        f"FAILED: the log was altered. First bad entry: {first.describe()}", fg="red", err=True
    )
    _more_problems([p.describe() for p in result.problems if p is not first])
    sys.exit(1)


def _more_problems(described: list[str], shown: int = 20) -> None:
    if described:
        click.echo(f"{len(described)} more problem(s):", err=True)
        for line in described[:shown]:
            click.echo(f"  - {line}", err=True)
        if len(described) > shown:
            click.echo(f"  ... and {len(described) - shown} more", err=True)


def _verify_export_file(file: str) -> None:
    from bot.ledger.verify_file import NotAnExport, verify_export

    try:
        if file == "-":
            result = verify_export(sys.stdin)
        else:
            with Path(file).open(encoding="utf-8", newline="") as handle:
                result = verify_export(handle)
    except UnicodeDecodeError:
        raise NotAnExport(f"{file} is not UTF-8 text, so not a keepposted log export") from None
    checked = (
        f"{result.entries} entries in {result.chains} chains ({result.format} export of "
        f"{result.exported_at or 'an unknown time'}; filters: {result.filters.describe()})"
    )
    first = result.first_problem
    if first is not None:
        label = "First bad line" if first.line is not None else "First problem"
        click.secho(
            f"FAILED: the export was altered. {label}: {first.describe()}", fg="red", err=True
        )
        _more_problems([p.describe() for p in result.problems if p is not first])
        click.echo(f"checked {checked}", err=True)
        sys.exit(1)
    click.echo(f"ok: {checked} are intact.")
    recomputed = result.entries - result.redacted
    click.echo(f"  {recomputed} entries' hashes recomputed from their content")
    if result.redacted:
        unbound = (
            f"; {result.redacted_unbound} of them are bound by nothing in this export"
            if result.redacted_unbound
            else ""
        )
        click.echo(
            f"  {result.redacted} redacted entries checked by linkage only (the next entry or "
            f"the chain head binds their hash){unbound}"
        )
    heads = f"  chain heads: {result.heads_matched} of {result.chains} chains end in the head"
    heads += " hash the header records"
    if result.heads_checked < result.chains:
        heads += (
            f"; {result.chains - result.heads_checked} end before their head (filtered by time"
            " or event), so only their linkage is checked"
        )
    click.echo(heads)
    if not result.contiguous:
        click.echo(
            "  not contiguous (filtered by time or event): linkage checked only where consecutive"
        )
    if result.digest_matches:
        click.echo(
            f"  digest of all chain heads at export: {result.digest} (matches the heads in the "
            "export; compare it with one `log verify` printed)"
        )
    elif result.digest:
        click.echo(
            f"  digest of all chain heads at export: {result.digest} (a filtered export cannot "
            "recompute it; compare it with one `log verify` printed at that time)"
        )
