"""`keepposted db`: the database schema (`db upgrade`)."""

from __future__ import annotations

import click

from bot.config import Settings
from bot.store.db import shown_url
from bot.store.migrate import upgrade


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations (the `release` process runs this)."""
    url = Settings.from_env().database_url
    upgrade(url)
    click.echo(f"database is up to date: {shown_url(url)}")
