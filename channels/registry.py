"""One explicit registry of channels, built by the app factory from config and the environment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from bot.clock import Clock, SystemClock
from bot.config import Config, Settings
from bot.errors import KeeppostedError
from channels.base import Channel
from channels.dryrun import DryRunChannel
from channels.slack import SlackChannel
from channels.sms import SmsChannel

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
    config: Config, settings: Settings, clock: Clock | None = None
) -> ChannelRegistry:
    """Each channel runs for real when its credentials are set, else in dry-run.

    Web chat is dry-run until its channel lands; each channel registers here in one line.
    """
    clock = clock or SystemClock()
    channels: dict[str, Channel] = {name: DryRunChannel(name) for name in CHANNEL_NAMES}
    channels["sms"] = SmsChannel(config, settings, clock=clock)
    channels["slack"] = SlackChannel(settings, clock, posts_per_second=config.channels.slack.mps)
    return ChannelRegistry(channels)
