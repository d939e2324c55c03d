"""Test doubles for the providers' side only: a channel's sender that records a transcript."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.errors import ChannelError
from channels.base import OutboundMessage, SendResult


@dataclass
class FakeChannel:
    """A Sender that records what it is asked to send; can be told to fail the next sends.
    A registry of these has no inbound adapters, so signed webhooks to it are refused."""

    name: str
    sent: list[OutboundMessage] = field(default_factory=list)
    failures: list[ChannelError] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def line_of(self, message: OutboundMessage) -> str:
        return self.name

    def line_rate(self) -> float | None:
        return None

    def wait_turn(self, message: OutboundMessage) -> None:
        """No rate to keep."""

    def send(self, message: OutboundMessage) -> SendResult:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return SendResult(provider_id=f"FAKE{self.name.upper()}{next(self._ids):05d}")

    def bodies_to(self, address: str) -> list[str]:
        return [m.body for m in self.sent if m.to == address]

    def fail_next(self, count: int = 1, *, retryable: bool = False, code: str = "30003") -> None:
        self.failures += [
            ChannelError(f"provider error {code}", retryable=retryable, error_code=code)
            for _ in range(count)
        ]
