"""What passes between the engine and a channel, and the two halves of a channel.

A channel is one module in channels/ with two parts: a `Sender`, which the outbox hands each
message to, and an inbound adapter (`InboundAdapter`), which its web route calls to check a
provider's request and read the customer's message out of it. Its name and traits are in
channels/catalog.py; channels/registry.py builds both parts. See the README, "Adding a channel".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.clock import Clock
    from bot.config import Config, Settings
    from bot.engine.links import WebchatLinks


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


class Sender(Protocol):
    """The outbound half of a channel: what the outbox uses to send one message."""

    @property
    def name(self) -> str: ...

    def wait_turn(self, message: OutboundMessage) -> None:
        """Block until the provider's rate allows this message (SMS: the sender's mps). The
        outbox calls it, on a channel whose traits say `paced`, before it marks the message
        handed over and sends it."""
        ...

    def line_of(self, message: OutboundMessage) -> str:
        """Which of the channel's paced lines the message leaves on (SMS: the pool's number
        for its recipient). The outbox runs one paced queue per line, so a pool's numbers
        each send at their own rate at the same time."""
        ...

    def line_rate(self) -> float | None:
        """Messages a second one line sends (SMS: a number's `mps`), so a send run claims
        about what it can send; None when the outbox cannot know (no limit, or one kept
        inside `send`)."""
        ...

    def send(self, message: OutboundMessage) -> SendResult:
        """Hand one message to the provider; raise ChannelError when it cannot be sent."""
        ...


class InboundAdapter(Protocol):
    """The inbound half of a channel: what its web route calls with the web framework's
    request. A channel's adapter may offer more (SMS reads status callbacks too)."""

    @property
    def name(self) -> str: ...

    def verify(self, request: Any) -> bool:
        """True when the request really comes from the provider (signature or link checked)."""
        ...

    def parse_inbound(self, request: Any) -> InboundMessage:
        """Turn a verified provider request into an InboundMessage."""
        ...


@dataclass(frozen=True)
class ChannelSetup:
    """What a channel's `build` may use to make its two halves."""

    config: Config
    settings: Settings
    clock: Clock
    links: WebchatLinks | None = None  # signed web chat links; None without SECRET_KEY
    engine: Engine | None = None  # the shared database, for pacing across workers


class ChannelParts(NamedTuple):
    """A built channel: the outbox's half and its web route's half."""

    sender: Sender
    inbound: InboundAdapter
