"""`keepposted init`: the starter config.yaml, .env.example and (optionally) templates."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("init")
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--templates", "with_templates", is_flag=True, help="also copy every template")
def init(folder: Path, with_templates: bool) -> None:
    """Write a commented config.yaml and an .env.example into FOLDER (and with --templates a
    templates/ folder to edit); never overwrites a file."""
    from bot.ops.scaffold import write_starter_files

    written = write_starter_files(folder, with_templates=with_templates)
    templates = [path for path in written if "templates" in path.relative_to(folder).parts]
    for path in written:
        if path not in templates:
            click.echo(f"wrote {path}")
    if templates:
        click.echo(f"wrote {len(templates)} templates under {folder / 'templates'}")
        click.echo("  config.yaml's templates_dir points there: edit a file and it wins")
    click.echo(
        "next: fill in .env (cp .env.example .env), check the config with"
        " `keepposted config check`, then `keepposted db upgrade` and `keepposted serve`."
    )
