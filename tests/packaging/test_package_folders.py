"""Every folder of data files is named in pyproject.toml's packages: setuptools warns about one
that is not, and says a later release will leave it out of the wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_data_folder_is_a_listed_package() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    folders = {
        "bot.templates." + path.name for path in (ROOT / "templates").iterdir() if path.is_dir()
    }
    folders |= {
        "bot.web.static." + path.name
        for path in (ROOT / "bot" / "web" / "static").iterdir()
        if path.is_dir()
    }
    folders.add("bot.starter")
    folders.discard("bot.templates.__pycache__")
    assert folders - listed == set()
