"""The engine loads no web framework and no provider SDK (`lint-imports` checks the import
graph; this checks what a fresh interpreter really loads)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE = [
    "bot.engine.inbound",
    "bot.engine.actions",
    "bot.engine.messages",
    "channels.catalog",
    "bot.outbox.queue",
    "bot.outbox.sender",
    "bot.outbox.delivery",
    "bot.ledger.export",
    "bot.store.models",
    "bot.render",
    "flows.confirmation",
]
FORBIDDEN = {"flask", "werkzeug", "twilio", "slack_sdk", "slack_bolt"}


def loaded_by(modules: list[str]) -> set[str]:
    script = (
        "import json, sys\n"
        + "".join(f"import {name}\n" for name in modules)
        + "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def test_importing_the_engine_loads_no_web_framework_or_provider_sdk() -> None:
    assert loaded_by(ENGINE) & FORBIDDEN == set()


def test_the_check_sees_them_where_they_belong() -> None:
    """A control: the web layer and the channels do load them."""
    assert {"flask", "twilio", "slack_sdk"} <= loaded_by(["bot.app"])
