"""Everything a request, a job or a command needs, built once by the app factory or the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, SystemClock
from bot.config import Config, Settings
from bot.engine.links import WebchatLinks, build_links
from bot.render import Templates
from bot.store.db import make_engine, make_readers, make_sessions, read_only
from flows.intents import Keywords

if TYPE_CHECKING:
    from channels.registry import ChannelRegistry


@dataclass
class Core:
    config: Config
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    templates: Templates
    channels: ChannelRegistry
    links: WebchatLinks | None = None  # signed web chat links; None without SECRET_KEY
    keywords: Keywords = field(init=False)
    readers: sessionmaker[Session] = field(init=False)  # read-only requests (bot/store/db.py)
    # Read-only connections, without a session: for a read a worker makes per message sent.
    reading: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.keywords = self.config.keyword_set
        self.readers = make_readers(self.engine)
        self.reading = read_only(self.engine)


def create_core(
    config: Config | None = None,
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    channels: ChannelRegistry | None = None,
    engine: Engine | None = None,
) -> Core:
    # Imported here, not at the top: the registry loads every provider's SDK, and the engine,
    # which imports this module for Core, must not (pyproject.toml's import contract).
    from channels.registry import build_registry

    config = config or Config()
    settings = settings or Settings.from_env()
    engine = engine or make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    clock = clock or SystemClock()
    links = build_links(config, settings, clock)
    return Core(
        config=config,
        settings=settings,
        engine=engine,
        sessions=make_sessions(engine),
        clock=clock,
        templates=Templates(config),
        channels=channels or build_registry(config, settings, clock, links, engine),
        links=links,
    )
