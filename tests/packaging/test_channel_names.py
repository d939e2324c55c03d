"""No channel is named by a string outside channels/: the engine, the flows, the web layer and
the CLI use ChannelName or ask a channel's traits, so adding a channel edits none of them."""

from __future__ import annotations

import ast
from pathlib import Path

from channels.catalog import ChannelName

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("bot", "flows")


def channel_literals(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = {str(name) for name in ChannelName}
    return [
        f"{path.relative_to(root)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in names
    ]


def test_no_channel_name_is_written_as_a_string_outside_channels() -> None:
    found = [
        hit
        for folder in SCANNED
        for path in sorted((ROOT / folder).rglob("*.py"))
        for hit in channel_literals(path)
    ]
    assert found == [], "use ChannelName or the channel's traits:\n" + "\n".join(found)


def test_the_scan_finds_a_channel_name_written_as_a_string(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text('CHANNEL = "webchat"\n')
    assert channel_literals(module, tmp_path) == ["sample.py:1: 'webchat'"]
