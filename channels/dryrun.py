"""The dry-run channel: used for any channel without credentials. Messages are stored with status
`simulated` and printed, so keepposted runs end to end without a Twilio or Slack account."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from bot.errors import KeeppostedError
from channels.base import InboundMessage, OutboundMessage, SendResult


class DryRunChannel:
    def __init__(self, name: str, stream: TextIO | None = None) -> None:
        self.name = name
        self.stream = stream

    def verify(self, request: Any) -> bool:
        return False  # nothing inbound is trusted on a channel that has no credentials

    def parse_inbound(self, request: Any) -> InboundMessage:
        raise KeeppostedError(f"the {self.name} channel runs in dry-run: it takes no webhooks")

    def wait_turn(self, message: OutboundMessage) -> None:
        """Nothing leaves, so there is no rate to keep."""

    def send(self, message: OutboundMessage) -> SendResult:
        stream = self.stream or sys.stdout
        body = message.body.replace("\n", "\n    ")
        print(f"[simulated {self.name} -> {message.to}] {body}", file=stream, flush=True)
        return SendResult(provider_id=f"sim-{self.name}-{message.message_id}", simulated=True)
