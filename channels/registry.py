"""One explicit registry of channels, built by the app factory from config and the environment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from bot.clock import Clock, SystemClock
from bot.config import Config, Settings
from bot.errors import KeeppostedError
from bot.links import WebchatLinks
from channels.base import Channel
from channels.slack import SlackChannel
from channels.sms import SmsChannel
from channels.webchat import WebchatChannel

CHANNEL_NAMES = ("sms", "slack", "webchat")


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
) -> ChannelRegistry:
    """SMS and Slack run for real when their credentials are set, else in dry-run; web chat
    needs none (its links need SECRET_KEY). Each channel registers here in one line."""
    clock = clock or SystemClock()
    channels: dict[str, Channel] = {
        "sms": SmsChannel(config, settings, clock=clock),
        "slack": SlackChannel(settings, clock, posts_per_second=config.channels.slack.mps),
        "webchat": WebchatChannel(links, config, clock),
    }
    assert set(channels) == set(CHANNEL_NAMES)
    return ChannelRegistry(channels)
