"""`keepposted init`: the files a new installation starts from, copied out of the package."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.errors import KeeppostedError
from bot.resources import starter_file, templates_root


class AlreadyThere(KeeppostedError):
    """init never overwrites: the files it would write exist already."""

    code = "already_there"

    def __init__(self, existing: list[Path]) -> None:
        names = ", ".join(str(path) for path in existing[:5])
        if len(existing) > 5:
            names += f" and {len(existing) - 5} more"
        super().__init__(f"not overwriting {names}; move them away or pick another folder")


@dataclass(frozen=True)
class StarterFile:
    source: Path
    target: Path


def starter_files(folder: Path, *, with_templates: bool) -> list[StarterFile]:
    """What init copies where: config.yaml, .env.example, and with_templates every template."""
    files = [
        StarterFile(starter_file("config.yaml"), folder / "config.yaml"),
        StarterFile(starter_file("env.example"), folder / ".env.example"),
    ]
    if with_templates:
        root = templates_root()
        files += [
            StarterFile(path, folder / "templates" / path.relative_to(root))
            for path in sorted(root.glob("*/*.j2"))
        ]
    return files


def write_starter_files(folder: Path, *, with_templates: bool) -> list[Path]:
    """Copy the starter files into `folder`, all or none: nothing is written if any exists."""
    files = starter_files(folder, with_templates=with_templates)
    existing = [file.target for file in files if file.target.exists()]
    if existing:
        raise AlreadyThere(existing)
    for file in files:
        file.target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file.source, file.target)
    if with_templates:
        _point_config_at_templates(folder / "config.yaml")
    return [file.target for file in files]


def _point_config_at_templates(config: Path) -> None:
    """Uncomment `templates_dir: templates`, so the copied templates are the ones used."""
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("# templates_dir: templates", "templates_dir: templates"))
