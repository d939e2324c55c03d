"""Every channel keepposted has, by name, with the traits the engine decides by.

The engine and the flows never compare a channel's name: they ask its traits (does it have quiet
hours, which contact field holds its address, ...). A new channel registers its traits here
with `register_traits` and its builder in channels/registry.py; the README's "Adding a channel"
walks through the rest. This module imports nothing of any provider, so the engine may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.errors import KeeppostedError


class ChannelName(StrEnum):
    """The channels that ship with keepposted."""

    SMS = "sms"
    SLACK = "slack"
    WEBCHAT = "webchat"


@dataclass(frozen=True)
class ChannelTraits:
    """What a channel is, as far as the engine and the outbox care."""

    name: str
    # The Contact column holding the contact's address on this channel; None when the contact
    # is their own address (web chat: `contact:<id>`, always reachable).
    address_field: str | None
    # Messages may wake someone (a phone buzzing): proactive ones wait out quiet hours.
    quiet_hours: bool
    # The provider limits the send rate: the outbox waits the channel's turn before each send.
    paced: bool
    # The provider may answer STOP, START and HELP itself (Twilio's Advanced Opt-Out), when the
    # channel's `advanced_opt_out` setting says it does.
    provider_keywords: bool
    # Messages carry buttons beside the text (Slack's Block Kit, the chat page's Confirm).
    buttons: bool


_CATALOG: dict[str, ChannelTraits] = {}


def register_traits(traits: ChannelTraits) -> ChannelTraits:
    """Add a channel; its name must be new, lower case, and fit `messages.channel`."""
    if traits.name in _CATALOG:
        raise KeeppostedError(f"a channel named {traits.name!r} is already registered")
    if not (traits.name.isascii() and traits.name.isidentifier() and traits.name.islower()):
        raise KeeppostedError(f"a channel name is lower-case letters and _: {traits.name!r}")
    if len(traits.name) > 16:
        raise KeeppostedError(f"a channel name has at most 16 characters: {traits.name!r}")
    _CATALOG[traits.name] = traits
    return traits


def forget_traits(name: str) -> None:
    """Take a registered channel out again (a test's throwaway channel)."""
    _CATALOG.pop(name, None)


def traits(name: str) -> ChannelTraits:
    try:
        return _CATALOG[name]
    except KeyError:
        raise KeeppostedError(f"no channel named {name!r} is registered") from None


def channel_names() -> tuple[str, ...]:
    """Every registered channel, in the order they were registered (the built-in ones first)."""
    return tuple(_CATALOG)


register_traits(
    ChannelTraits(
        ChannelName.SMS,
        address_field="phone",
        quiet_hours=True,
        paced=True,
        provider_keywords=True,
        buttons=False,
    )
)
register_traits(
    ChannelTraits(
        ChannelName.SLACK,
        address_field="slack_user_id",
        quiet_hours=False,
        paced=True,
        provider_keywords=False,
        buttons=True,
    )
)
register_traits(
    ChannelTraits(
        ChannelName.WEBCHAT,
        address_field=None,
        quiet_hours=False,
        paced=False,
        provider_keywords=False,
        buttons=True,
    )
)
