"""A child process with its output in a log file, stopped for sure: used by the scale tests
(tests/support/scale_harness.py) and bench/dispatch.py. Standard library only, so a benchmark's
child process can import it without pytest."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Process:
    """One child process, its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )

    def kill(self) -> None:
        """SIGKILL: no cleanup, no lease released, exactly like a machine dying."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not stopped in 15 s (or Ctrl-C came meanwhile)."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            finally:  # no child outlives its run
                self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return f"--- {self.name} ---\n" + "\n".join(self.read_log().splitlines()[-lines:])


def read_until(stream: IO[str] | None, marker: str) -> list[str]:
    """A child's output lines up to and with the first one containing `marker`; an
    AssertionError carrying what it printed if it ends first (the child exited)."""
    assert stream is not None
    lines: list[str] = []
    for line in stream:
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"exited before printing {marker!r}:\n" + "".join(lines))
