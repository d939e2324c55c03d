"""One explicit registry of channels, built by the app factory from config and the environment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sqlalchemy import Engine

from bot.clock import Clock, SystemClock
from bot.config import Config, Settings
from bot.engine.links import WebchatLinks
from bot.errors import KeeppostedError
from bot.store.db import is_sqlite
from channels.base import CHANNEL_NAMES, Channel
from channels.pacing import SharedPacer
from channels.slack import SlackChannel
from channels.sms import SmsChannel
from channels.webchat import WebchatChannel


class ChannelRegistry(Mapping[str, Channel]):
    def __init__(self, channels: dict[str, Channel]) -> None:
        self._channels = channels

    def __getitem__(self, name: str) -> Channel:
        try:
            return self._channels[name]
        except KeyError:
            raise KeeppostedError(f"no channel named {name!r} is registered") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._channels)

    def __len__(self) -> int:
        return len(self._channels)


def build_registry(
    config: Config,
    settings: Settings,
    clock: Clock | None = None,
    links: WebchatLinks | None = None,
    engine: Engine | None = None,
) -> ChannelRegistry:
    """SMS and Slack run for real when their credentials are set, else in dry-run; web chat
    needs none (its links need SECRET_KEY). Each channel registers here in one line.

    With a shared database (`engine`, not SQLite) SMS is paced through it, so several workers
    together keep each sender to `channels.sms.mps`; SQLite runs one worker, paced in memory.
    """
    clock = clock or SystemClock()
    sms_pacer = None
    if engine is not None and not is_sqlite(engine.url.drivername):
        sms_pacer = SharedPacer(engine, config.channels.sms.mps)
    channels: dict[str, Channel] = {
        "sms": SmsChannel(config, settings, clock=clock, pacer=sms_pacer),
        "slack": SlackChannel(settings, clock, posts_per_second=config.channels.slack.mps),
        "webchat": WebchatChannel(links, config, clock),
    }
    assert set(channels) == set(CHANNEL_NAMES)
    return ChannelRegistry(channels)
