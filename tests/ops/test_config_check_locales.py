"""`keepposted config check` in every language: each locale with a translation is rendered, its
SMS counted, and what it still lacks listed. German is used so the packaged translations (es, fr,
pt) cannot interfere."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.config import parse_config
from bot.ops.config_check import missing_translations
from bot.render import Templates


def config_with(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "templates"
    for name, text in files.items():
        (folder / Path(name).parent).mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text + "\n", encoding="utf-8")
    path = tmp_path / "config.yaml"
    path.write_text(f"templates_dir: {folder}\n")
    return path


def test_each_translated_locale_is_rendered_counted_and_its_gaps_listed(tmp_path: Path) -> None:
    path = config_with(
        tmp_path,
        {
            "sms/interim.de.txt.j2": "Fall {{ case.label }}: wir sind dran. Bis {{ case.eta }}.",
            "sms/csat_thanks.de.txt.j2": "Danke – für Ihre Rückmeldung.",
        },
    )
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "templates in de (sample data):" in out
    # The date follows the locale; GSM-7 and UCS-2 are told apart per translation.
    assert "sms/interim [de] (1 segment, GSM-7," in out
    assert "Fall #1042: wir sind dran. Bis Di., 24. Nov., 15:00 UTC." in out
    assert "sms/csat_thanks [de] (1 segment, UCS-2 (because of – U+2013)" in out
    missing = out.split("missing in de (", 1)[1].split("\n", 2)[1]
    assert "sms/csat_ask.txt.j2" in missing and "webchat/status_text.txt.j2" in missing
    assert "sms/interim.txt.j2" not in missing
    assert "config is valid." in out  # a missing translation is a finding, not a failure


def test_a_broken_translation_fails_the_check(tmp_path: Path) -> None:
    path = config_with(tmp_path, {"sms/interim.de.txt.j2": "Fall {{ case.nope.deeper }}"})
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 1
    assert "sms/interim [de]: FAILED" in result.output


def test_a_regional_locale_counts_its_languages_translations(tmp_path: Path) -> None:
    config_with(
        tmp_path,
        {"sms/interim.de.txt.j2": "x", "sms/csat_ask.de-AT.txt.j2": "y"},
    )
    config = parse_config({"templates_dir": str(tmp_path / "templates")})
    templates = Templates(config)
    assert "sms/interim.txt.j2" not in missing_translations(config, templates, "de-AT")
    assert "sms/csat_ask.txt.j2" not in missing_translations(config, templates, "de-AT")
    assert "sms/csat_ask.txt.j2" in missing_translations(config, templates, "de")
