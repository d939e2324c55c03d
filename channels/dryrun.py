"""The dry-run sender: used by any channel without credentials. Messages are stored with status
`simulated` and printed, so keepposted runs end to end without a Twilio or Slack account."""

from __future__ import annotations

import sys
from typing import TextIO

from channels.base import OutboundMessage, SendResult


class DryRunSender:
    def __init__(self, name: str, stream: TextIO | None = None) -> None:
        self.name = name
        self.stream = stream

    def wait_turn(self, message: OutboundMessage) -> None:
        """Nothing leaves, so there is no rate to keep."""

    def send(self, message: OutboundMessage) -> SendResult:
        stream = self.stream or sys.stdout
        body = message.body.replace("\n", "\n    ")
        print(f"[simulated {self.name} -> {message.to}] {body}", file=stream, flush=True)
        return SendResult(provider_id=f"sim-{self.name}-{message.message_id}", simulated=True)
