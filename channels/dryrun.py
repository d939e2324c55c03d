"""The dry-run sender: used by any channel without credentials. Messages are stored with status
`simulated` and printed, so keepposted runs end to end without a Twilio or Slack account.

The address is printed masked like every log line (`+*********01`): the console is often kept
(a terminal's scrollback, a CI log). The message itself is what the developer is there to read."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.process_logging import mask_sensitive
from channels.base import OutboundMessage, SendResult


class DryRunSender:
    def __init__(self, name: str, stream: TextIO | None = None) -> None:
        self.name = name
        self.stream = stream

    def line_of(self, message: OutboundMessage) -> str:
        """Nothing leaves: one line."""
        return self.name

    def line_rate(self) -> float | None:
        return None

    def wait_turn(self, message: OutboundMessage) -> None:
        """Nothing leaves, so there is no rate to keep."""

    def send(self, message: OutboundMessage) -> SendResult:
        stream = self.stream or sys.stdout
        body = message.body.replace("\n", "\n    ")
        to = mask_sensitive(message.to)
        print(f"[simulated {self.name} -> {to}] {body}", file=stream, flush=True)
        return SendResult(provider_id=f"sim-{self.name}-{message.message_id}", simulated=True)
