"""The files the product ships inside its package: templates, static files, migrations and the
starter files of `keepposted init`. Found with importlib.resources, so an installed wheel works
wherever it is installed; nothing is looked up relative to a source checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def packaged(package: str, *parts: str) -> Path:
    """A folder or file shipped in `package`, as a path on disk.

    Wheels install unzipped, so the package's files are real files; Jinja2's and Flask's
    loaders need real paths.
    """
    found = resources.files(package).joinpath(*parts)
    path = Path(str(found))
    if not path.exists():
        raise FileNotFoundError(f"{package}: {'/'.join(parts) or '.'} is missing from the install")
    return path


def templates_root() -> Path:
    """The packaged templates (templates/ in the source tree, bot/templates in the wheel)."""
    return packaged("bot.templates")


def static_root(*parts: str) -> Path:
    return packaged("bot.web", "static", *parts)


def migrations_root() -> Path:
    return packaged("bot.store.migrations")


def starter_file(name: str) -> Path:
    """A file `keepposted init` writes (the commented config.yaml)."""
    return packaged("bot", "starter", name)
