"""`keepposted config check` in every language: each locale with a translation is rendered, its
SMS counted (transliterated when channels.sms.transliterate is on), and what it still lacks
listed. German is used so the packaged translations (es, fr, pt) cannot interfere."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.config import parse_config
from bot.ops.config_check import missing_translations
from bot.render import Templates


def config_with(tmp_path: Path, files: dict[str, str], settings: str = "") -> Path:
    folder = tmp_path / "templates"
    for name, text in files.items():
        (folder / Path(name).parent).mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text + "\n", encoding="utf-8")
    path = tmp_path / "config.yaml"
    path.write_text(f"templates_dir: {folder}\n{settings}", encoding="utf-8")
    return path


def check(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    return result.exit_code, result.output


def entry(out: str, label: str) -> list[str]:
    """The lines config check prints for one template: its heading and what is indented under it."""
    lines = out.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {label} ("))
    rest = lines[start + 1 :]
    end = next(i for i, line in enumerate(rest) if not line.startswith("    "))
    return [lines[start], *rest[:end]]


TRANSLITERATE = "channels:\n  sms:\n    transliterate: true\n"


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


def test_a_broken_chat_wording_or_slack_layout_in_a_locale_fails_the_check(
    tmp_path: Path,
) -> None:
    path = config_with(
        tmp_path,
        {
            "webchat/status_text.de.txt.j2": "{{ case.nope.deeper }}",
            "slack/csat_ask.de.json.j2": "not json",
        },
    )
    code, out = check(path)
    assert code == 1
    assert "webchat/status_text [de]: FAILED" in out
    assert "slack/csat_ask.json.j2 [de]: FAILED" in out


def test_a_locales_chat_wording_is_shown_per_status(tmp_path: Path) -> None:
    status = (
        '{% if case.status == "waiting" %}Wir warten auf {{ case.waiting_reason }}'
        "{% else %}Wir sind dran{% endif %}"
    )
    code, out = check(config_with(tmp_path, {"webchat/status_text.de.txt.j2": status}))
    assert code == 0, out
    assert "webchat/status_text [de] [waiting]: Wir warten auf a partner company" in out
    assert "webchat/status_text [de] [open]: Wir sind dran" in out
    assert "webchat/status_text [waiting]: Waiting on a partner company" in out  # English too


DE_UCS2 = {"sms/csat_thanks.de.txt.j2": "Danke – für Ihre Rückmeldung. Bis bald, à bientôt."}


def test_transliteration_off_hints_at_it_for_a_text_it_would_make_gsm7(tmp_path: Path) -> None:
    code, out = check(config_with(tmp_path, DE_UCS2))
    assert code == 0, out
    assert entry(out, "sms/csat_thanks [de]") == [
        "  sms/csat_thanks [de] (1 segment, UCS-2 (because of – U+2013, ô U+00F4), 50 units):",
        "    Danke – für Ihre Rückmeldung. Bis bald, à bientôt.",
        "    hint: with channels.sms.transliterate: true this goes as GSM-7 in 1 segment as now"
        " (– as -, ô as o)",
    ]
    # A GSM-7 text gets no hint.
    assert not any("hint:" in line for line in entry(out, "sms/confirm_request"))


def test_transliteration_on_counts_and_shows_the_text_that_is_sent(tmp_path: Path) -> None:
    code, out = check(config_with(tmp_path, DE_UCS2, TRANSLITERATE))
    assert code == 0, out
    assert entry(out, "sms/csat_thanks [de]") == [
        "  sms/csat_thanks [de] (1 segment, GSM-7 after transliteration, 50 septets):",
        "    Danke - für Ihre Rückmeldung. Bis bald, à bientot.",  # ü and à are GSM-7
    ]
    assert "hint:" not in out
    assert entry(out, "sms/confirm_request")[0].startswith(
        "  sms/confirm_request (1 segment, GSM-7, "  # GSM-7 already: counted as it was
    )


def test_transliteration_on_names_what_keeps_a_text_ucs2(tmp_path: Path) -> None:
    files = {"sms/csat_thanks.de.txt.j2": "Danke – \U0001f600 à bientôt"}
    code, out = check(config_with(tmp_path, files, TRANSLITERATE))
    assert code == 0, out
    assert entry(out, "sms/csat_thanks [de]") == [
        "  sms/csat_thanks [de] (1 segment, UCS-2 (because of – U+2013, \U0001f600 U+1F600,"
        " ô U+00F4), 20 units):",  # the emoji is two units
        "    Danke – \U0001f600 à bientôt",  # sent as it is
        "    not transliterated: GSM-7 has no spelling for \U0001f600",
    ]


def test_the_segment_limit_applies_to_the_transliterated_text(tmp_path: Path) -> None:
    # 100 characters: 2 UCS-2 segments with its ô, 1 GSM-7 segment without.
    text = "Danke für Ihre Rückmeldung, à bientôt. " + "x" * 61
    files = {"sms/csat_thanks.de.txt.j2": text}
    code, out = check(config_with(tmp_path, files, "channels:\n  sms:\n    max_segments: 1\n"))
    assert code == 1
    off = entry(out, "sms/csat_thanks [de]")
    assert off[0].startswith("  sms/csat_thanks [de] (2 segments, UCS-2")
    assert off[2:] == [
        "    hint: with channels.sms.transliterate: true this goes as GSM-7 in 1 segment"
        " instead of 2 (ô as o)",
        "    TOO LONG: 2 segments, over channels.sms.max_segments (1); shorten it or raise the"
        " limit",
    ]
    on = "channels:\n  sms:\n    max_segments: 1\n    transliterate: true\n"
    code, out = check(config_with(tmp_path, files, on))
    assert entry(out, "sms/csat_thanks [de]") == [
        "  sms/csat_thanks [de] (1 segment, GSM-7 after transliteration, 100 septets):",
        "    " + text.replace("ô", "o"),
    ]
