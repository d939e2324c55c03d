"""`keepposted dev`: web and worker in one process, and the banner it prints."""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from urllib.parse import urlsplit

import click
from sqlalchemy import select

from bot.cli.state import State, make_core, pass_state
from bot.config import Settings
from bot.core import Core
from bot.domain import CaseStatus
from bot.ops.readiness import require_templates
from bot.store.migrate import upgrade
from bot.store.models import Case
from channels.catalog import ChannelName

LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0", "::1"}  # noqa: S104 - names, not a bind


@click.command()
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
    core = make_core(config, settings)
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
    simulate = f"{program} simulate {ChannelName.SMS.value} --url {base}"
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
