"""One explicit registry of channels, built by the app factory from config and the environment.

Each channel registers in one line of BUILDERS: its module's `build`, which makes its two
halves (see channels/base.py). Its name and traits are in channels/catalog.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from sqlalchemy import Engine

from bot.clock import Clock, SystemClock
from bot.config import Config, Settings
from bot.engine.links import WebchatLinks
from bot.errors import KeeppostedError
from channels import slack, sms, webchat
from channels.base import ChannelParts, ChannelSetup, InboundAdapter, Sender
from channels.catalog import ChannelName, channel_names

Adapter = TypeVar("Adapter", bound=InboundAdapter)
Build = Callable[[ChannelSetup], ChannelParts]

BUILDERS: dict[str, Build] = {
    ChannelName.SMS: sms.build,
    ChannelName.SLACK: slack.build,
    ChannelName.WEBCHAT: webchat.build,
}


def register_builder(name: str, build: Build) -> None:
    """Add a channel's builder (its traits must be registered in channels/catalog.py)."""
    if name not in channel_names():
        raise KeeppostedError(f"register the traits of channel {name!r} first")
    BUILDERS[name] = build


def forget_builder(name: str) -> None:
    BUILDERS.pop(name, None)


class ChannelRegistry(Mapping[str, Sender]):
    """Every channel's sender by name (what the outbox uses), and the inbound adapters the web
    routes ask for with `inbound`."""

    def __init__(
        self, senders: dict[str, Sender], inbound: dict[str, InboundAdapter] | None = None
    ) -> None:
        self._senders = senders
        self._inbound = inbound or {}

    def __getitem__(self, name: str) -> Sender:
        try:
            return self._senders[name]
        except KeyError:
            raise KeeppostedError(f"no channel named {name!r} is registered") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._senders)

    def __len__(self) -> int:
        return len(self._senders)

    def inbound(self, name: str, kind: type[Adapter]) -> Adapter | None:
        """The channel's inbound adapter when it is a `kind`; None when the channel is not set
        up that way (a test's fake, say), which its route answers as a refused request."""
        adapter = self._inbound.get(name)
        return adapter if isinstance(adapter, kind) else None


def build_registry(
    config: Config,
    settings: Settings,
    clock: Clock | None = None,
    links: WebchatLinks | None = None,
    engine: Engine | None = None,
) -> ChannelRegistry:
    """Every registered channel. SMS and Slack run for real when their credentials are set,
    else in dry-run; web chat needs none (its links need SECRET_KEY)."""
    setup = ChannelSetup(config, settings, clock or SystemClock(), links, engine)
    missing = set(channel_names()) - set(BUILDERS)
    if missing:
        raise KeeppostedError(f"no builder registered for channel(s) {', '.join(sorted(missing))}")
    parts = {name: BUILDERS[name](setup) for name in channel_names()}
    return ChannelRegistry(
        {name: built.sender for name, built in parts.items()},
        {name: built.inbound for name, built in parts.items()},
    )
