"""The HTTP server under the fake provider APIs (tests/support/fake_twilio.py,
tests/support/fake_slack.py): 127.0.0.1 on an ephemeral port, with each request handed to the fake
that owns the server."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Generic, TypeVar

Fake = TypeVar("Fake")


class LoopbackServer(ThreadingHTTPServer, Generic[Fake]):
    """Joins its request threads on close, so no socket outlives the fake's `stop()`."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 256  # socketserver's 5 resets connections under load tests

    def __init__(self, fake: Fake, handler: type[BaseHTTPRequestHandler]) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), handler)

    def serve_in_thread(self, name: str) -> threading.Thread:
        """Serve from a started daemon thread; a short poll keeps shutdown() quick."""
        thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
        )
        thread.start()
        return thread

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on some hosts.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]
