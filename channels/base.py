"""The Channel protocol: a name, verify, parse_inbound, send. Adding a channel touches channels/
and one registration line in channels/registry.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# Every channel keepposted has; channels/registry.py builds one of each.
CHANNEL_NAMES = ("sms", "slack", "webchat")


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message as every channel hands it to the engine."""

    channel: str
    sender: str  # E.164 phone, Slack user id, or web chat contact address
    body: str
    provider_id: str  # Twilio MessageSid, Slack ts, web chat id: unique per channel
    received_at: datetime
    media_count: int = 0
    case_id: int | None = None  # set when the channel already knows the case (web chat link)
    media_urls: tuple[str, ...] = ()  # pictures and files sent with the message (MMS)


@dataclass(frozen=True)
class OutboundMessage:
    """What the engine hands to a channel's send()."""

    channel: str
    to: str
    body: str
    message_id: int  # our Message row, for status callbacks and logs
    kind: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    provider_id: str
    simulated: bool = False


@dataclass(frozen=True)
class DeliveryReport:
    """A provider telling us what became of a message we sent (a Twilio status callback)."""

    channel: str
    provider_id: str
    status: str  # a MessageStatus value
    message_id: int | None = None  # ours, when the callback URL carried it
    error_code: str | None = None
    problem: str | None = None  # an AddressProblem value when the error says the address is dead


class Channel(Protocol):
    """A way to reach customers. `verify` and `parse_inbound` take the web framework's request."""

    name: str

    def verify(self, request: Any) -> bool:
        """True when the request really comes from the provider (signature checked)."""
        ...

    def parse_inbound(self, request: Any) -> InboundMessage:
        """Turn a verified provider request into an InboundMessage."""
        ...

    def wait_turn(self, message: OutboundMessage) -> None:
        """Block until the provider's rate allows this message (SMS: the sender's mps); the
        outbox calls it before it marks the message handed over and sends it."""
        ...

    def send(self, message: OutboundMessage) -> SendResult:
        """Hand one message to the provider; raise ChannelError when it cannot be sent."""
        ...
