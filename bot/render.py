"""The one place customer-facing text is made: Jinja2 templates under templates/<channel>/.

Text templates render as plain text. A channel without its own template of a name falls back to
the SMS one, so a new channel only adds templates where its wording or format differs. A
contact's message is rendered for its channel by bot/engine/messages.py, through this module.

Every sentence a customer or an agent reads is a template; one situation, one wording:
- templates/sms/, templates/slack/, templates/webchat/: what customers receive on each channel
  (`.txt.j2` text, Slack's `.json.j2` Block Kit). webchat/ also holds the chat page
  (`page.html.j2`), its errors and limits (`problem.txt.j2`, `link_error.txt.j2`), which the
  page hands to chat.js, and slack/answer*.txt.j2 the words of a customer's answer buttons.
- templates/alerts/: what the team's alerts say; templates/agents/: what agents read back in
  Slack (`case_reply.txt.j2`, every `/case` answer; `alert_action.txt.j2`; `case_modal.json.j2`;
  `summary.txt.j2`, the interaction summary QA and the next agent read).
- templates/admin/: the ops pages.
Developers' words (the REST API's JSON errors, logs, CLI output) stay in the code.

Where a template comes from, first match wins: a text given in config.yaml's `templates:`, a
file in the ops' override folder (`templates_dir`, or $KEEPPOSTED_TEMPLATES), the packaged file.

Languages: a translation sits beside the English file as `<name>.<locale>.txt.j2` (or
`.json.j2`); the file without a locale suffix is English. A contact's locale picks the wording
along a chain, es-MX -> es -> `program.locale` -> English: first the contact's own language on
its channel, then in SMS wording, then the program's default language the same way.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_timedelta, get_datetime_format
from jinja2 import (
    ChoiceLoader,
    DictLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
)

from bot.config import Config, check_locale, locale_tags
from bot.errors import ConfigError
from bot.resources import templates_root
from channels.catalog import ChannelName, channel_names

FALLBACK_CHANNEL = ChannelName.SMS
# Files that only other templates include (`{% include "slack/_answer_buttons.json.j2" %}`).
PARTIAL_PREFIX = "_"
# The language of the files without a locale suffix.
UNSUFFIXED_LOCALE = "en"
TEXT, BLOCKS = "txt.j2", "json.j2"

# Every template a customer can receive; `keepposted config check` renders each of them.
CUSTOMER_TEMPLATES = (
    "interim",
    "agent_update",
    "delay_notice",
    "eta_missed",
    "confirm_request",
    "confirm_reminder",
    "confirm_thanks",
    "csat_ask",
    "csat_thanks",
    "reopen_ack",
    "reopen_expired",
    "clarify",
    "media_received",
    "which_case",
    "unknown_sender",
    "help",
    "status",
    "opted_out",
    "opted_in",
)


SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def mrkdwn(value: object) -> str:
    """Text made safe for Slack's markup: a customer writing `<!channel>` pings nobody."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user_id: object) -> str:
    """`<@U123>` for a real Slack user id; anything else is shown as escaped text."""
    text = str(user_id or "")
    return f"<@{text}>" if SLACK_USER_ID.match(text) else mrkdwn(text)


def customer_templates(config: Config) -> list[str]:
    """Every template a customer can receive, with one delay notice per waiting reason."""
    delays = [f"delay_{reason}" for reason in config.waiting_reasons]
    return list(CUSTOMER_TEMPLATES) + delays


def format_when(value: datetime | None, timezone: str = "UTC", locale: str | None = None) -> str:
    """A time as a customer reads it, in their own zone and language: `Tue 24 Nov, 15:00 EST`,
    `mar, 24 nov, 15:00 EST`. The zone's abbreviation stays as the zone database writes it."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(timezone))
    zone = local.tzname() or ""
    if locale is None or language_of(locale) == UNSUFFIXED_LOCALE:
        return local.strftime("%a %d %b, %H:%M ") + zone  # English as it always read
    tag = locale.replace("-", "_")
    # Skeletons let CLDR order and punctuate the parts; 24-hour clock as in English.
    date = format_skeleton("MMMEd", local, locale=tag)
    clock = format_skeleton("Hm", local, locale=tag)
    joined = str(get_datetime_format("medium", locale=tag)).replace("{1}", date)
    return plain_spaces(joined.replace("{0}", clock) + f" {zone}")


def format_span(span: timedelta, locale: str | None = None) -> str:
    """A length of time as a customer reads it: `7 days`, `7 días`, `36 hours` (a unit is used
    from two of it up, so 36 hours is not rounded up to "2 days")."""
    return plain_spaces(
        format_timedelta(span, threshold=2, locale=(locale or "en").replace("-", "_"))
    )


def plain_spaces(text: str) -> str:
    """CLDR writes no-break spaces (`7\u00a0jours`, U+202F in some times), which GSM-7 lacks:
    one in a text would turn the whole SMS into UCS-2. A plain space reads the same."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def language_of(locale: str) -> str:
    return locale.split("-", 1)[0].lower()


def locale_chain(locale: str | None, default: str) -> list[list[str]]:
    """The locale suffixes to try, in groups: the contact's own language (`es-MX`, `es`), the
    program's default, then "" (the English file, which has no suffix). Each group is tried
    on the contact's channel, then in SMS wording, before the next group."""
    groups: list[list[str]] = []
    seen: set[str] = set()
    for tag in (locale, default):
        if not tag:
            continue
        group = [t for t in locale_tags(tag) if t not in seen and t != UNSUFFIXED_LOCALE]
        seen.update(group)
        if language_of(tag) == UNSUFFIXED_LOCALE:  # en-GB -> en: the English file ends it
            return [*groups, [*group, ""]]
        if group:
            groups.append(group)
    return [*groups, [""]]


def template_key(channel: str, name: str, suffix: str, kind: str = TEXT) -> str:
    return f"{channel}/{name}.{suffix}.{kind}" if suffix else f"{channel}/{name}.{kind}"


def template_files(root: Path) -> dict[str, set[tuple[str, str]]]:
    """Each folder of `root` with its text and Block Kit templates as (name, locale suffix),
    "" for English; partials and pages left out."""
    files: dict[str, set[tuple[str, str]]] = {}
    for file in sorted(root.glob("*/*.j2")):
        stem, _, kind = file.name.partition(".")
        suffix = ""
        for ending in (TEXT, BLOCKS):
            if kind == ending or kind.endswith(f".{ending}"):
                suffix = kind.removesuffix(ending).rstrip(".")
                break
        else:
            continue
        if not stem.startswith(PARTIAL_PREFIX):
            files.setdefault(file.parent.name, set()).add((stem, suffix))
    return files


def template_names(root: Path) -> dict[str, set[str]]:
    """Each folder of `root` with the names of its text and Block Kit templates, partials and
    pages left out: what config.yaml's `templates:` and an override folder may replace."""
    return {
        channel: {name for name, _suffix in files}
        for channel, files in template_files(root).items()
    }


def split_locale(name: str) -> tuple[str, str]:
    """`interim.es` -> (`interim`, `es`); `interim` -> (`interim`, "")."""
    base, _, suffix = name.partition(".")
    return base, suffix


def locale_problem(suffix: str) -> str | None:
    """Why a file or key's locale suffix would never be chosen, or None when it would be."""
    if not suffix:
        return None
    try:
        tag = check_locale(suffix)
    except ValueError as exc:
        return str(exc)
    if tag != suffix:
        return f"locale {suffix!r} is spelt {tag!r} here"
    if tag == UNSUFFIXED_LOCALE:
        return "English is the file without a locale suffix"
    return None


def check_overrides(config: Config, override_dir: Path | None, packaged: Path) -> None:
    """Refuse a misspelt override (`templates: {sms: {intrim: ...}}`, `{smss: ...}`, or
    `sms/intrim.txt.j2` in the override folder) instead of silently never using it."""
    known = template_names(packaged)
    for channel in channel_names():  # a registered channel may have no wording of its own yet
        known.setdefault(channel, set())
    delays = {f"delay_{reason}" for reason in config.waiting_reasons}
    fallback = known.get(FALLBACK_CHANNEL, set())
    problems: list[str] = []

    def check(where: str, channel: str, names: set[str]) -> None:
        if channel not in known:
            problems.append(f"{where}: unknown channel {channel!r} (known: {', '.join(known)})")
            return
        choices = known[channel] | fallback | delays
        for name in sorted(names):
            base, suffix = split_locale(name)
            if base not in choices:
                problems.append(
                    f"{where}.{name}: unknown template (known: {', '.join(sorted(choices))})"
                )
            elif problem := locale_problem(suffix):
                problems.append(f"{where}.{name}: {problem}")

    for channel, names in config.templates.items():
        check(f"templates.{channel}", channel, set(names))
    if override_dir is not None:
        for channel, files in template_files(override_dir).items():
            shown = {f"{name}.{suffix}" if suffix else name for name, suffix in files}
            check(f"templates_dir {override_dir}: {channel}", channel, shown)
    if problems:
        raise ConfigError(problems)


class Templates:
    def __init__(self, config: Config, root: Path | None = None) -> None:
        packaged = root or templates_root()
        override_dir = Path(config.templates_dir) if config.templates_dir else None
        check_overrides(config, override_dir, packaged)
        self.default_locale = config.program.locale
        self._folders = [override_dir, packaged] if override_dir else [packaged]
        self._configured = {
            (channel, *split_locale(name))
            for channel, names in config.templates.items()
            for name in names
        }
        # An ops folder wins over the packaged templates file by file.
        folders = [str(override_dir), str(packaged)] if override_dir else [str(packaged)]
        overrides = {
            f"{channel}/{name}.txt.j2": text
            for channel, names in config.templates.items()
            for name, text in names.items()
        }
        # A waiting reason added in config may carry its notice's wording right there.
        for reason, settings in config.waiting_reasons.items():
            if settings.notice:
                overrides.setdefault(f"{FALLBACK_CHANNEL}/delay_{reason}.txt.j2", settings.notice)
        self.env = Environment(
            loader=ChoiceLoader([DictLoader(overrides), FileSystemLoader(folders)]),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - plain-text SMS and Slack text; web pages escape
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        # Web pages (templates/<channel>/*.html.j2) escape everything they show.
        self.pages = Environment(
            loader=FileSystemLoader(folders),
            undefined=StrictUndefined,
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = format_when
        self.env.filters["mrkdwn"] = mrkdwn
        self.env.filters["mention"] = mention
        # Which template files are there, found once each: the sources are fixed at start-up,
        # and every render walks the locale chain, where most candidates are missing (Jinja
        # caches the templates it loads, not the ones it did not find).
        self._present: dict[str, bool] = {}

    def exists(self, key: str) -> bool:
        """Whether a template file (`sms/interim.es.txt.j2`) is there, in any source."""
        present = self._present.get(key)
        if present is None:
            try:
                self.env.get_template(key)
                present = True
            except TemplateNotFound:
                present = False
            self._present[key] = present
        return present

    def has(self, channel: str, name: str, *, locale: str | None = None) -> bool:
        """Whether `channel` has wording of its own for `name` in any language of the chain."""
        groups = locale_chain(locale, self.default_locale)
        return any(self.exists(template_key(channel, name, s)) for g in groups for s in g)

    def source(self, channel: str, name: str, *, locale: str | None = None) -> str:
        """The template file `render` uses: the contact's language before the channel's own
        wording, so a Spanish SMS text beats an English chat one."""
        channels = list(dict.fromkeys((channel, FALLBACK_CHANNEL)))
        for suffixes in locale_chain(locale, self.default_locale):
            for where in channels:
                for suffix in suffixes:
                    key = template_key(where, name, suffix)
                    if self.exists(key):
                        return key
        raise TemplateNotFound(template_key(FALLBACK_CHANNEL, name, ""))

    def render(
        self, channel: str, name: str, context: dict[str, Any], *, locale: str | None = None
    ) -> str:
        """Render `name` for `channel` in `locale` (the program's by default), falling back
        along the locale chain and to SMS wording; whitespace is tidied."""
        text = self.env.get_template(self.source(channel, name, locale=locale)).render(context)
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    def translations(self) -> dict[str, set[tuple[str, str]]]:
        """Each locale that has any translation, with its (channel, name) pairs."""
        found: dict[str, set[tuple[str, str]]] = {}
        entries = set(self._configured)
        for folder in self._folders:
            for channel, files in template_files(folder).items():
                entries |= {(channel, name, suffix) for name, suffix in files}
        for channel, name, suffix in entries:
            if suffix:
                found.setdefault(suffix, set()).add((channel, name))
        return found

    def page(self, channel: str, name: str, context: dict[str, Any]) -> str:
        """An HTML page from `<channel>/<name>.html.j2`; every value is escaped."""
        return self.pages.get_template(f"{channel}/{name}.html.j2").render(context)

    def render_blocks(
        self,
        channel: str,
        name: str,
        context: dict[str, Any],
        *,
        locale: str | None = None,
    ) -> list[dict[str, Any]] | None:
        """Block Kit for `name` from `<channel>/<name>[.<locale>].json.j2` along the locale
        chain, or None when there is none.

        The template writes a JSON list of blocks; values go in with `| tojson` (and
        `| mrkdwn` first where Slack reads markup), so no text can break the JSON or the layout.
        """
        for suffix in (s for group in locale_chain(locale, self.default_locale) for s in group):
            key = template_key(channel, name, suffix, BLOCKS)
            if not self.exists(key):  # most channels have no layout
                continue
            blocks = json.loads(self.env.get_template(key).render(context))
            if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
                raise ValueError(f"{key} must render a JSON list of blocks")
            return blocks
        return None
