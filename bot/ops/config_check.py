"""`keepposted config check`: the effective cadence of every priority and category, and every
template rendered with sample data, so ops see what customers will read before they read it:
in English (or `program.locale`), then again in every locale that has any translation, with the
templates that locale still lacks (those customers read the default wording)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jinja2 import TemplateError

from bot.config import Config, locale_tags
from bot.domain import PRIORITIES
from bot.durations import format_duration
from bot.render import (
    BLOCKS,
    SLACK_USER_ID,
    TEXT,
    UNSUFFIXED_LOCALE,
    Templates,
    customer_templates,
    format_span,
    format_when,
    template_key,
)
from channels.catalog import ChannelName
from channels.segments import Segments, count_segments, describe, transliterate
from channels.webchat import (
    LINK_REASONS,
    PROBLEM_SAMPLES,
    link_problem,
    problem_text,
    script_wording,
)

SAMPLE_AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
# Templates whose wording depends on the case are shown once per variant they serve: a label,
# and what the variant changes in the sample (the case's fields under "case", else the
# template's own values). "open" is the sample as it is.
Variant = tuple[str, dict[str, Any]]
_LATE: Variant = ("late", {"case": {"eta": "", "eta_missed": True}})  # the ETA passed


def _statuses(*names: str) -> tuple[Variant, ...]:
    return tuple((name, {"case": {"status": name}}) for name in names)


VARIANTS: dict[str, tuple[Variant, ...]] = {
    "interim": (*_statuses("open", "waiting"), _LATE),
    "status": (*_statuses("open", "waiting", "resolved", "closed"), _LATE),
    "clarify": _statuses("open", "resolved"),
    "media_received": _statuses("open", "resolved"),
    "status_text": _statuses("open", "waiting", "resolved", "closed"),  # the chat page's line
    "case_closed": (("open", {}), ("agent", {"close_reason": "agent"})),
}


def variants(name: str, context: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The sample context for each variant of template `name`, with the variant's label."""
    for label, change in VARIANTS.get(name, (("open", {}),)):
        values = {key: value for key, value in change.items() if key != "case"}
        yield label, {**context, **values, "case": {**context["case"], **change.get("case", {})}}


# The customer-facing wording a translation should cover, besides customer_templates: the chat
# page's own lines and the words of Slack's answer buttons.
WEBCHAT_EXTRAS = ("status_text", "case_title")
SLACK_EXTRAS = ("answer", "answered")


def sample_context(config: Config, locale: str | None = None) -> dict[str, Any]:
    return {
        "program": config.program.for_locale(locale),
        "contact": {"name": "Maria Gomez", "first_name": "Maria"},
        "case": {
            "id": 1042,
            "label": "#1042",
            "ref": "ZD-1042",
            "subject": "Home internet down",
            "status": "open",
            "priority": "P2",
            "waiting_reason": "a partner company",
            "eta": format_when(SAMPLE_AT, config.timezone, locale),
            "eta_missed": False,
            "resolution": "We replaced the faulty line card at your exchange.",
            "latest_update": "An engineer is on site at your street cabinet.",
            "next_update": format_when(SAMPLE_AT - timedelta(hours=20), config.timezone, locale),
            # As long as a real link (about 45 characters after /c/), for the segment count.
            "webchat_url": f"{config.public_url.rstrip('/')}/c/{'x' * 45}",
        },
        "text": "The engineer is on site and expects to finish by 5pm.",
        "reason": "third_party",
        # What a case closed without the customer's YES says (sms/case_closed.txt.j2).
        "close_reason": "auto_closed",
        "reopen_within": format_span(config.confirmation.reopen_window, locale),
        # What a refused web chat post is told (webchat/problem.txt.j2).
        "problem": "too_long",
        "length": 2001,
        "max_chars": 2000,
        "score": 5,
        "answer": "YES",
        "cases": [
            {"id": 1042, "label": "#1042", "subject": "Home internet down"},
            {"id": 1043, "label": "#1043", "subject": "Bill shows a double charge"},
        ],
    }


def cadence_lines(config: Config) -> list[str]:
    cadences = config.cadences
    later = f"; each case up to {cadences.jitter:.0%} later as it starts" if cadences.jitter else ""
    lines = [f"cadence (first update after / then every{later}):"]

    def row(name: str, priority: str, category: str | None) -> str:
        c = cadences.for_case(priority, category)
        return f"  {name:<28} {format_duration(c.first):>8} / {format_duration(c.every)}"

    lines += [row(f"priority {p}", p, None) for p in PRIORITIES]
    lines += [row(f"category {c} (any priority)", "P3", c) for c in cadences.category]
    return lines


@dataclass
class Report:
    """What `config check` prints, and the problems among it: templates that do not render
    (which stop serve, worker and dev, and fail /healthz) and SMS over the segment limit."""

    echo: Callable[[str], None]
    broken: list[str] = field(default_factory=list)
    too_long: list[str] = field(default_factory=list)

    def failed(self, where: str, problem: object) -> None:
        self.broken.append(f"{where}: {problem}")
        self.echo(f"  {where}: FAILED: {problem}")


def render_problems(config: Config, templates: Templates) -> list[str]:
    """Every template the config uses, rendered with sample data: what fails to render."""
    report = Report(echo=lambda _line: None)
    _check_templates(config, templates, report)
    return report.broken


def check(
    config: Config,
    echo: Callable[[str], None],
    sections: Callable[[Templates], list[str]] | None = None,
) -> bool:
    """Print the report; False when any template fails to render or is too long for SMS.
    `sections` adds lines before the verdict (the capacity, which warns but never fails)."""
    echo(f"config parsed: public_url {config.public_url}, time zone {config.timezone}")
    for line in cadence_lines(config):
        echo(line)
    q = config.quiet_hours
    spread = (
        f", the updates that waited spread over {format_duration(q.spread)}" if q.spread else ""
    )
    echo(f"quiet hours (SMS, contact's local time): {q.shown}{spread if q.enabled else ''}")
    c = config.confirmation
    echo(
        f"confirmation: reminder after {format_duration(c.reminder_after)}, auto-close after "
        f"{format_duration(c.auto_close_after)}, reopen window {format_duration(c.reopen_window)}"
        f", CSAT {'on' if c.csat.enabled else 'off'}"
    )
    report = Report(echo)
    templates = Templates(config)
    _check_templates(config, templates, report)
    for line in sections(templates) if sections else ():
        echo(line)
    problems = len(report.broken) + len(report.too_long)
    if problems:
        echo(f"config is NOT valid: {problems} template problem(s) above.")
        return False
    echo("config is valid.")
    return True


def _check_templates(config: Config, templates: Templates, report: Report) -> None:
    context = sample_context(config)
    report.echo("templates (sample data):")
    _check_sms(config, templates, context, report)
    _check_slack(config, templates, context, report)
    _check_webchat(config, templates, context, report)
    for locale in sorted(templates.translations()):
        _check_locale(config, templates, locale, report)


def _check_sms(
    config: Config,
    templates: Templates,
    context: dict[str, Any],
    report: Report,
    locale: str | None = None,
) -> None:
    """Each SMS template as sent, with its encoding and segment count (`[es]` after the name
    of a translated one). With channels.sms.transliterate on, that is the transliterated text;
    with it off, a text only UCS-2 for what transliteration would fix gets a hint."""
    tag = f" [{locale}]" if locale else ""
    for name in customer_templates(config):
        for variant, data in variants(name, context):
            try:
                text = templates.render(ChannelName.SMS, name, data, locale=locale)
            except TemplateError as exc:
                report.failed(f"sms/{name}{tag}", exc)
                continue
            label = f"sms/{name}{tag}" + (f" [{variant}]" if variant != "open" else "")
            _echo_sms(config, label, text, report)


def _echo_sms(config: Config, label: str, text: str, report: Report) -> None:
    """One SMS as it goes out, its count, and what transliteration would change or did not."""
    sms = config.channels.sms
    plain = count_segments(text)
    spelled = transliterate(text)
    fixable = spelled != text and plain.encoding == "UCS-2"
    if sms.transliterate and fixable:
        text, segments = spelled, count_segments(spelled)
        report.echo(f"  {label} ({describe(segments, transliterated=True)}):")
    else:
        segments = plain
        report.echo(f"  {label} ({describe(segments)}):")
    report.echo("    " + text.replace("\n", "\n    "))
    if sms.transliterate:
        if segments.encoding == "UCS-2":
            report.echo(
                f"    not transliterated: GSM-7 has no spelling for {_unspellable(segments)}"
            )
    elif fixable:
        now, then = plain.segments, count_segments(spelled).segments
        compared = f"instead of {now}" if then < now else "as now"
        report.echo(
            f"    hint: with channels.sms.transliterate: true this goes as GSM-7 in "
            f"{plural(then, 'segment')} {compared} ({_spellings(plain)})"
        )
    if segments.segments > sms.max_segments:
        report.too_long.append(label)
        report.echo(
            f"    TOO LONG: {segments.segments} segments, over channels.sms.max_segments"
            f" ({sms.max_segments}); shorten it or raise the limit"
        )


def plural(count: int, word: str) -> str:
    """ "1 segment", "2 segments", "1,200 numbers"."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _spellings(segments: Segments) -> str:
    """What transliteration writes for the characters that made a text UCS-2: "á as a"."""
    return ", ".join(
        f"{_shown(char)} as {transliterate(char) or 'nothing'}" for char in segments.non_gsm
    )


def _unspellable(segments: Segments) -> str:
    """The characters that keep a text UCS-2 even transliterated."""
    return ", ".join(_shown(c) for c in segments.non_gsm if transliterate(c) == c)


def _shown(char: str) -> str:
    """A character as describe() names it: "á" for a letter, its code point for an invisible
    one (a zero-width space would print as nothing)."""
    return char if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


def missing_translations(config: Config, templates: Templates, locale: str) -> list[str]:
    """Customer wording that has English of its own but nothing in `locale` (nor, for
    `pt-BR`, in `pt`): those customers read the default language there."""
    wanted = [(ChannelName.SMS, name, TEXT) for name in customer_templates(config)] + [
        (channel, name, kind)
        for channel, names in (
            (ChannelName.WEBCHAT, [*customer_templates(config), *WEBCHAT_EXTRAS]),
            (ChannelName.SLACK, [*customer_templates(config), *SLACK_EXTRAS]),
        )
        for name in names
        for kind in (TEXT, BLOCKS)
    ]
    tags = [t for t in locale_tags(locale) if t != UNSUFFIXED_LOCALE]
    return [
        template_key(channel, name, "", kind)
        for channel, name, kind in wanted
        if templates.exists(template_key(channel, name, "", kind))
        and not any(templates.exists(template_key(channel, name, t, kind)) for t in tags)
    ]


def _check_locale(config: Config, templates: Templates, locale: str, report: Report) -> None:
    """The same templates in a translated locale: the SMS with their segments (accents may
    turn GSM-7 into UCS-2), the chat page's lines and the Slack layouts must render too."""
    echo = report.echo
    context = sample_context(config, locale)
    echo(f"templates in {locale} (sample data):")
    _check_sms(config, templates, context, report, locale)
    for name in [*customer_templates(config), *WEBCHAT_EXTRAS]:
        try:
            _echo_webchat_wording(templates, context, name, echo, locale)
        except TemplateError as exc:
            report.failed(f"webchat/{name} [{locale}]", exc)
    _render_slack_layouts(templates, context, customer_templates(config), report, locale)
    missing = missing_translations(config, templates, locale)
    if missing:
        echo(f"  missing in {locale} ({len(missing)}, these use the default wording):")
        echo("    " + ", ".join(missing))
    else:
        echo(f"  every customer template has a {locale} translation")


def _check_slack(
    config: Config, templates: Templates, context: dict[str, Any], report: Report
) -> None:
    """Every Block Kit layout must render to valid JSON blocks; say who may use /case."""
    echo = report.echo
    slack = config.channels.slack
    alerts_to = slack.alerts_channel or "each case's assignee"
    echo(f"slack: alerts to {alerts_to}")
    if not (slack.agents or slack.supervisors):
        echo("  nobody may use /case yet: add Slack user ids to channels.slack.agents")
    for role, ids in (("agents", slack.agents), ("supervisors", slack.supervisors)):
        odd = [i for i in ids if not SLACK_USER_ID.match(i)]
        if odd:
            echo(
                f"  channels.slack.{role}: {', '.join(odd)} do not look like Slack user ids (U...)"
            )
    names = [*customer_templates(config), "alert"]
    for name, blocks in _render_slack_layouts(templates, context, names, report):
        if blocks is not None:
            buttons = [
                e["text"]["text"]
                for b in blocks
                if b.get("type") == "actions"
                for e in b["elements"]
            ]
            shown = f", buttons: {' | '.join(buttons)}" if buttons else ""
            echo(f"  slack/{name}.json.j2: {len(blocks)} blocks{shown}")


def _check_webchat(
    config: Config, templates: Templates, context: dict[str, Any], report: Report
) -> None:
    """The chat page's own wording (where it differs from SMS) and the page itself must render."""
    echo = report.echo
    web = config.channels.webchat
    framed_by = ", ".join(web.embed_origins) or "keepposted's own pages only"
    echo(
        f"webchat: links live {format_duration(web.link_ttl)}, replies up to {web.max_chars} "
        f"characters, {web.posts_per_minute} posts a minute; framed by {framed_by}"
    )
    try:
        for name in [*customer_templates(config), "status_text"]:
            _echo_webchat_wording(templates, context, name, echo)
        for problem, details in PROBLEM_SAMPLES.items():
            said = problem_text(templates, config, problem, **details)
            echo(f"  webchat/problem [{problem}]: {said}")
        for reason in LINK_REASONS:
            title, explanation = link_problem(templates, config, reason)
            echo(f"  webchat/link_error [{reason}]: {title} / {explanation}")
        templates.page(ChannelName.WEBCHAT, "page", _sample_page(config, context, templates))
    except TemplateError as exc:
        report.failed(ChannelName.WEBCHAT, exc)
        return
    echo("  webchat/page.html.j2: renders")


def _echo_webchat_wording(
    templates: Templates,
    context: dict[str, Any],
    name: str,
    echo: Callable[[str], None],
    locale: str | None = None,
) -> None:
    """The chat page's own wording for `name` (nothing when it has none and uses the SMS
    text), once per status it serves; raises TemplateError when it does not render."""
    if not templates.has(ChannelName.WEBCHAT, name, locale=locale):
        return
    tag = f" [{locale}]" if locale else ""
    for variant, data in variants(name, context):
        text = templates.render(ChannelName.WEBCHAT, name, data, locale=locale)
        echo(f"  webchat/{name}{tag} [{variant}]: {text.replace(chr(10), ' / ')}")


def _render_slack_layouts(
    templates: Templates,
    context: dict[str, Any],
    names: list[str],
    report: Report,
    locale: str | None = None,
) -> list[tuple[str, list[dict[str, Any]] | None]]:
    """Each Block Kit layout rendered with sample data (None for a name with no layout of its
    own); one that fails to render or is not valid blocks is reported and left out."""
    tag = f" [{locale}]" if locale else ""
    data = {**context, "text": "Sample text.", "assignee": "U0123ABCD", "kind": "reopen"}
    rendered = []
    for name in names:
        try:
            blocks = templates.render_blocks(ChannelName.SLACK, name, data, locale=locale)
        except (TemplateError, ValueError) as exc:
            report.failed(f"slack/{name}.json.j2{tag}", exc)
            continue
        rendered.append((name, blocks))
    return rendered


def _sample_page(
    config: Config, context: dict[str, Any], templates: Templates | None = None
) -> dict[str, Any]:
    templates = templates or Templates(config)
    case = context["case"]
    message = {
        "id": 1,
        "from": "team",
        "author": config.program.name,
        "body": "Sample.",
        "at": "2026-11-24T15:00:00Z",
        "at_text": case["eta"],
    }
    return {
        "program": context["program"],
        "case": {
            "label": case["label"],
            "subject": case["subject"],
            "title": templates.render(ChannelName.WEBCHAT, "case_title", context),
            "status": "resolved",
            "status_text": "Fixed? Please confirm",
            "eta_text": case["eta"],
            "next_update_text": "",
            "resolution": case["resolution"],
            "lang": config.program.locale,
        },
        "state": {"awaiting": "confirmation", "can_reopen": False},
        "messages": [message],
        "cursor": 1,
        "urls": {
            "messages": "/c/sample/messages",
            "css": "/static/webchat/chat.css",
            "js": "/static/webchat/chat.js",
        },
        "max_chars": config.channels.webchat.max_chars,
        "wording": script_wording(templates, config),
        "embed": False,
        "form_id": "0" * 32,
        "error": "",
        "draft": "",
    }
