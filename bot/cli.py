"""The `keepposted` command line (README, Command line)."""

from __future__ import annotations

import csv
import json
import os
import secrets
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import click
from sqlalchemy import select

from bot.config import Config, Settings, load_config
from bot.core import Core, create_core
from bot.domain import CaseStatus, agent
from bot.durations import format_duration, parse_when
from bot.engine import actions
from bot.errors import KeeppostedError
from bot.ledger.chain import count_entries, verify
from bot.ops.readiness import require_schema, require_templates
from bot.store.db import make_engine, shown_url
from bot.store.migrate import upgrade
from bot.store.models import Case, LogEntry, Message
from bot.store.records import case_record

CLI_ACTOR = agent("cli")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0", "::1"}  # noqa: S104 - names, not a bind


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
            core = create_core(self.config, Settings.from_env())
            require_schema(core.engine)
            self._core = core
        return self._core


pass_state = click.make_pass_decorator(State)


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


# -- running -------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@pass_state
def dev(state: State, host: str, port: int) -> None:
    """Web and worker in one process, SQLite, channels without credentials in dry-run."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from bot.app import create_app
    from bot.process_logging import configure_logging
    from bot.worker import WorkerLock, schedule_jobs

    configure_logging(default_format="text")  # LOG_FORMAT=json to see what production logs
    settings = Settings.from_env()
    # Dev only: make up the tokens that are not set, so the API and `simulate sms` work at once.
    made_up = {
        name: secrets.token_urlsafe(16)
        for name in ("api_token", "twilio_auth_token", "secret_key", "admin_token")
        if not getattr(settings, name)
    }
    settings = Settings(**{**settings.__dict__, **made_up})
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    config = state.config
    if urlsplit(config.public_url).hostname in LOCAL_HOSTS:
        # A local address in config follows --port, so links and signatures match the server.
        config = config.model_copy(update={"public_url": base})
    upgrade(settings.database_url)
    core = create_core(config, settings)
    require_templates(core.config, core.templates)
    lock = WorkerLock(settings.database_url)
    lock.acquire()
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_jobs(scheduler, core)
    click.echo(_dev_banner(base, core, made_up, state.config_path))
    click.echo(_webchat_banner(core, base))
    scheduler.start()
    try:
        create_app(core=core).run(host=host, port=port, use_reloader=False, threaded=True)
    finally:
        scheduler.shutdown(wait=False)
        lock.release()


def _dev_banner(base: str, core: Core, made_up: dict[str, str], config_path: str | None) -> str:
    settings = core.settings
    auth = f'-H "Authorization: Bearer {settings.api_token}"'
    config = config_path or os.environ.get("KEEPPOSTED_CONFIG")
    # Everything a second terminal needs to talk to this server, made-up secrets included.
    variables = {
        "DATABASE_URL": settings.database_url,
        **({"KEEPPOSTED_CONFIG": config} if config else {}),
        "KEEPPOSTED_PUBLIC_URL": core.config.public_url,
        **{name.upper(): value for name, value in made_up.items()},
    }
    env = "export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in variables.items())
    shown = ", ".join(f"{name.upper()}={value}" for name, value in made_up.items())
    made = f"Made up for this run (set them to keep them): {shown}\n" if made_up else ""
    program = sys.argv[0] if sys.argv[0].endswith("keepposted") else "keepposted"
    simulate = f"{program} simulate sms --url {base}"
    if settings.slack_bot_token and settings.slack_signing_secret:
        slack = (
            f"Slack is on: its request URLs go to {core.config.public_url}/slack/events"
            " (README, Slack)."
        )
    else:
        slack = (
            "Slack is in dry-run (alerts print as [simulated slack ...]); set SLACK_BOT_TOKEN and\n"
            "SLACK_SIGNING_SECRET and create the app from slack-app-manifest.yaml (README, Slack)."
        )
    return f"""
keepposted dev is running on {settings.database_url}; channels without credentials are in
dry-run: what would be sent is printed below as [simulated ...] and stored as `simulated`.
{made}
  ops view    {base}/admin  (any name, admin token {settings.admin_token})
  charts      {base}/admin/charts   metrics {base}/metrics   health {base}/healthz
  cases       curl {auth} {base}/api/v1/cases
  one case    curl {auth} {base}/api/v1/cases/1/messages
  its log     curl {auth} {base}/api/v1/cases/1/log
  new case    curl {auth} -H "Content-Type: application/json" \\
                -d '{{"subject": "Router keeps rebooting", "priority": "P2",
                     "contact": {{"name": "Sam", "phone": "+14155550123"}}}}' {base}/api/v1/cases
  resolve     curl {auth} -H "Content-Type: application/json" \\
                -d '{{"resolution": "Replaced the router"}}' {base}/api/v1/cases/1/resolve

In another terminal, paste this line first; it carries this run's address and secrets:
  {env}

Play the customer by SMS: each line posts a text signed the way Twilio signs it to
/sms/inbound and prints the replies (resolve case 1 first, then answer YES):
  {simulate} +14155550101 STATUS
  {simulate} +14155550101 YES
  {simulate} +14155550101 "still broken, please reopen"
  {simulate} +442079460018 HELP

{slack}

Then also: keepposted case list, keepposted case link 1, keepposted log verify.
Press Ctrl-C to stop.
"""


def _webchat_banner(core: Core, base: str) -> str:
    """Web chat links to the open and awaiting cases, signed with this run's SECRET_KEY."""
    if core.links is None:
        return ""
    with core.sessions() as session:
        cases = session.scalars(
            select(Case).where(Case.status != CaseStatus.CLOSED).order_by(Case.id).limit(4)
        ).all()
        rows = [f"  {c.label:<5} {c.status!s:<9} {base}/c/{core.links.token(c)}" for c in cases]
        example = f"{base}/widget/example?kp_chat={core.links.token(cases[0])}" if cases else ""
    if not rows:
        return ""
    return "\n".join(
        [
            "Web chat: open a case's page as its customer would (signed with SECRET_KEY, or with",
            "a key made up for this run; `keepposted case link ID` prints a link):",
            *rows,
            f"  the widget embedded in an example company page: {example}",
            "",
        ]
    )


@main.group()
def simulate() -> None:
    """Play a customer against a running server."""


@simulate.command("sms")
@click.argument("sender", metavar="FROM")
@click.argument("text")
@click.option("--url", "server", help="where the server listens (default: public_url)")
@click.option("--sid", help="the MessageSid to send (repeat one to test idempotency)")
@click.option("--media", multiple=True, help="a picture URL sent with the text (MMS)")
@click.option("--wait", default=10.0, show_default=True, help="seconds to wait for replies")
@pass_state
def simulate_sms_command(
    state: State,
    sender: str,
    text: str,
    server: str | None,
    sid: str | None,
    media: tuple[str],
    wait: float,
) -> None:
    """Post a correctly signed inbound SMS from FROM and print the replies.

    Signs with TWILIO_AUTH_TOKEN, which must match the server's (`keepposted dev` prints it).
    The replies are read from the server's database (DATABASE_URL) once its worker sent them.
    """
    from bot.demo.simulate import already_stored, simulate_sms, wait_for_replies

    settings = Settings.from_env()
    if not settings.twilio_auth_token:
        raise KeeppostedError(
            "set TWILIO_AUTH_TOKEN to the server's token (`keepposted dev` prints one)"
        )
    engine = make_engine(settings.database_url)
    repeat = sid is not None and already_stored(engine, sid)
    result = simulate_sms(
        state.config,
        settings.twilio_auth_token,
        sender,
        text,
        server=server,
        sid=sid,
        media=tuple(media),
    )
    click.echo(f"{sender} -> {text}")
    if result.error is not None:
        engine.dispose()
        click.secho(f"the server answered {result.status}: {result.error}", fg="red", err=True)
        sys.exit(1)
    if repeat:
        engine.dispose()
        click.echo(f"  (the server already had {sid}: it took the repeat and changed nothing)")
        return
    try:
        replies = wait_for_replies(engine, result.sid, result.sender, wait)
    finally:
        engine.dispose()
    for reply in replies.bodies:
        click.echo("  <- " + reply.replace("\n", "\n     "))
    if not replies.handled:
        click.echo(
            f"  (stored by the server, not answered within {wait:g}s: is its worker running, "
            "and DATABASE_URL the server's?)"
        )
    elif not replies.bodies:
        click.echo("  (no reply: the text was kept; see the case's messages and log)")


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - a server's job
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@pass_state
def serve(state: State, host: str, port: int, workers: int) -> None:
    """Serve the web app with gunicorn."""
    from gunicorn.app.base import BaseApplication

    from bot import gunicorn_conf
    from bot.process_logging import configure_logging

    config = state.config  # a bad config stops here, before any worker boots
    require_templates(config, state.core.templates)  # ... and so do broken templates
    state.core.engine.dispose()  # the workers open their own connections after the fork
    configure_logging()

    class Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("logconfig_dict", gunicorn_conf.logconfig_dict)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn 25 and later
                self.cfg.set("control_socket_disable", gunicorn_conf.control_socket_disable)

        def load(self) -> Any:
            from bot.app import create_app

            return create_app(config)

    Gunicorn().run()


@main.command()
@pass_state
def worker(state: State) -> None:
    """Run the interval jobs: due updates, confirmation timers, ETAs, the outbox."""
    from bot.process_logging import configure_logging
    from bot.worker import run_worker

    require_templates(state.config, state.core.templates)  # refused before logging is set up
    configure_logging()
    click.echo(
        f"keepposted worker on {shown_url(state.core.settings.database_url)}; Ctrl-C to stop."
    )
    run_worker(state.core)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="one JSON object, for a monitoring probe")
@pass_state
def status(state: State, as_json: bool) -> None:
    """How far behind the workers are: due updates, the outbox, leases, failures, lateness."""
    from bot.ops.backlog import measure

    core = state.core
    with core.readers() as session:
        backlog = measure(session, core.clock.now()).as_dict()
    if as_json:
        click.echo(json.dumps(backlog))
        return
    for name, value in backlog.items():
        click.echo(f"{name.replace('_', ' ')}: {'-' if value is None else value}")


@main.command()
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


# -- database and config -------------------------------------------------------------------


@main.command("init")
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--templates", "with_templates", is_flag=True, help="also copy every template")
def init(folder: Path, with_templates: bool) -> None:
    """Write a commented config.yaml and an .env.example into FOLDER (and with --templates a
    templates/ folder to edit); never overwrites a file."""
    from bot.ops.scaffold import write_starter_files

    written = write_starter_files(folder, with_templates=with_templates)
    templates = [path for path in written if "templates" in path.relative_to(folder).parts]
    for path in written:
        if path not in templates:
            click.echo(f"wrote {path}")
    if templates:
        click.echo(f"wrote {len(templates)} templates under {folder / 'templates'}")
        click.echo("  config.yaml's templates_dir points there: edit a file and it wins")
    click.echo(
        "next: fill in .env (cp .env.example .env), check the config with"
        " `keepposted config check`, then `keepposted db upgrade` and `keepposted serve`."
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations (the `release` process runs this)."""
    url = Settings.from_env().database_url
    upgrade(url)
    click.echo(f"database is up to date: {shown_url(url)}")


@main.group("config")
def config_group() -> None:
    """config.yaml."""


@config_group.command("check")
@pass_state
def config_check(state: State) -> None:
    """Validate the config, show every effective cadence, and render every template."""
    from bot.ops.config_check import check

    ok = check(state.config, click.echo)
    sys.exit(0 if ok else 1)


# -- cases ---------------------------------------------------------------------------------


@main.group()
def case() -> None:
    """Create, list, show and resolve cases."""


@case.command("new")
@click.option("--subject", required=True)
@click.option("--phone", help="the customer's phone, any common format")
@click.option("--slack-user", help="the customer's Slack user id")
@click.option("--name")
@click.option(
    "--priority", default="P3", show_default=True, type=click.Choice(["P1", "P2", "P3", "P4"])
)
@click.option("--category")
@click.option("--ref", help="the ticket id in the CRM")
@click.option("--assignee", help="the agent's Slack user id")
@click.option("--eta", help="2026-11-24T15:00 or a duration such as 2h")
@click.option("--channel", type=click.Choice(["sms", "slack", "webchat"]))
@click.option("--timezone", help="the customer's IANA time zone")
@pass_state
def case_new(
    state: State,
    subject: str,
    phone: str | None,
    slack_user: str | None,
    name: str | None,
    priority: str,
    category: str | None,
    ref: str | None,
    assignee: str | None,
    eta: str | None,
    channel: str | None,
    timezone: str | None,
) -> None:
    """Open a case for a customer."""
    core = state.core
    now = core.clock.now()
    contact = {
        k: v
        for k, v in {
            "phone": phone,
            "slack_user_id": slack_user,
            "name": name,
            "channel": channel,
            "timezone": timezone,
        }.items()
        if v
    }
    when = _when(eta, core) if eta else None
    with core.sessions.begin() as session:
        opened = actions.open_case(
            session,
            core,
            subject=subject,
            contact=contact,
            priority=priority,
            category=category,
            ref=ref,
            assignee=assignee,
            eta=when,
            actor=CLI_ACTOR,
            now=now,
        )
        click.echo(_card(opened))


def _when(text: str, core: Core) -> datetime:
    try:
        return parse_when(text, core.clock.now(), core.config.timezone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--eta") from None


@case.command("list")
@click.option("--status", type=click.Choice([s.value for s in CaseStatus]))
@click.option("--limit", default=50, show_default=True, type=int)
@pass_state
def case_list(state: State, status: str | None, limit: int) -> None:
    """List cases, newest first."""
    query = select(Case).order_by(Case.id.desc()).limit(limit)
    if status:
        query = query.where(Case.status == status)
    with state.core.sessions() as session:
        rows = list(session.scalars(query))
        if not rows:
            click.echo("no cases")
        for c in rows:
            due = c.next_update_at.strftime("%Y-%m-%d %H:%M") if c.next_update_at else "-"
            click.echo(
                f"{c.label:>7}  {c.status:<8} {c.priority}  next update {due:<16}  {c.subject}"
            )


@case.command("show")
@click.argument("case_id", type=int)
@pass_state
def case_show(state: State, case_id: int) -> None:
    """A case with its messages and its log."""
    with state.core.sessions() as session:
        found = actions.get_case(session, case_id)
        click.echo(_card(found))
        click.echo("\nmessages:")
        for m in session.scalars(
            select(Message).where(Message.case_id == case_id).order_by(Message.at, Message.id)
        ):
            arrow = "<-" if m.direction == "in" else "->"
            click.echo(f"  {m.at:%Y-%m-%d %H:%M:%S} {arrow} {m.channel:<7} [{m.status}] {m.body}")
        click.echo("\nlog:")
        for e in session.scalars(
            select(LogEntry).where(LogEntry.case_id == case_id).order_by(LogEntry.seq)
        ):
            click.echo(f"  {e.seq:>6} {e.at:%Y-%m-%d %H:%M:%S} {e.event:<24} {e.actor}")


@case.command("resolve")
@click.argument("case_id", type=int)
@click.argument("resolution")
@pass_state
def case_resolve(state: State, case_id: int, resolution: str) -> None:
    """Propose a case as fixed; the customer is asked to confirm."""
    core = state.core
    with core.sessions.begin() as session:
        found = actions.get_case(session, case_id, lock=True)
        actions.resolve(
            session, core, found, resolution=resolution, actor=CLI_ACTOR, now=core.clock.now()
        )
        click.echo(_card(found))
    click.echo("The confirmation request goes out with the worker's next run.")


@case.command("link")
@click.argument("case_id", type=int)
@click.option("--revoke", is_flag=True, help="stop every link given out so far; print a new one")
@pass_state
def case_link(state: State, case_id: int, revoke: bool) -> None:
    """The case's web chat link: the customer's page to read and answer it (needs SECRET_KEY)."""
    core = state.core
    if core.links is None:
        raise click.ClickException("web chat links need SECRET_KEY in the environment")
    with core.sessions.begin() as session:
        found = actions.get_case(session, case_id, lock=True)
        if revoke:
            actions.revoke_webchat_links(session, found, actor=CLI_ACTOR, now=core.clock.now())
        click.echo(core.links.url(found))
    ttl = core.config.channels.webchat.link_ttl
    older = "; older links no longer work." if revoke else "."
    click.echo(f"It works for {format_duration(ttl)}{older}", err=True)


def _card(c: Case) -> str:
    r = case_record(c)
    who = c.contact.name or c.contact.phone or c.contact.slack_user_id
    lines = [
        f"{c.label} {c.subject}",
        f"  status {r['status']}  priority {c.priority}  category {c.category or '-'}  "
        f"ref {c.ref or '-'}",
        f"  contact {who} via {c.contact.channel}  assignee {c.assignee or '-'}",
        f"  next update {r['next_update_at'] or '-'}  eta {r['eta'] or '-'}",
    ]
    return "\n".join(lines)


# -- the log -------------------------------------------------------------------------------


@main.group("log")
def log_group() -> None:
    """The resolution-confirmation log."""


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        yield handle


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
        with core.sessions() as session, _output(output) as out:
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


@main.command()
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
    with _output(output) as out:
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
