"""Customer- and agent-facing sentences live in templates/, not in code: a guard for the
modules whose words moved there, and for the chat page's script."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Modules that only pass values to templates/ (bot/render.py says which folder holds what).
WORDLESS = [
    "bot/agents/commands.py",
    "bot/web/slack.py",
    "bot/engine/alerts.py",
    "bot/engine/summary.py",
    "bot/web/webchat.py",
    "channels/webchat.py",
]
SENTENCE = re.compile(r"[A-Za-z']+(?: [A-Za-z',;:]+){3,}")
# Not wording: a header's value, and /case help's one-line descriptions (kept by each
# subcommand's definition, like its usage line).
NOT_WORDING = ("-src ", "customers never see notes.")


def _spoken(path: Path) -> list[str]:
    """f-strings that read like a sentence: wording in code (log lines here use %-style)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            if SENTENCE.search(text) and not any(part in text for part in NOT_WORDING):
                found.append(f"{path.name}:{node.lineno}: {text!r}")
    return found


def test_wordless_modules_write_no_sentences() -> None:
    assert [line for name in WORDLESS for line in _spoken(ROOT / name)] == []


def test_the_chat_script_writes_no_sentences() -> None:
    script = (ROOT / "bot/web/static/webchat/chat.js").read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", script, flags=re.S)  # comments may speak
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"|`((?:[^`\\]|\\.)*)`', code)
    spoken = [a or b for a, b in literals if SENTENCE.search(a or b)]
    assert spoken == []
