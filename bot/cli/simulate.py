"""`keepposted simulate`: play a customer against a running server (`simulate sms`)."""

from __future__ import annotations

import sys

import click

from bot.cli.state import State, pass_state
from bot.config import Settings
from bot.errors import KeeppostedError
from bot.store.db import make_engine
from channels.catalog import ChannelName


@click.group()
def simulate() -> None:
    """Play a customer against a running server."""


@simulate.command(ChannelName.SMS.value)
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
