"""`/case` argument parsing (bot/agents/args.py) on text as Slack sends it: escaped `& < >`,
mentions, links, smart quotes, options anywhere, phone numbers in any format, durations, times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.agents.args import (
    UsageError,
    Words,
    case_id,
    clean,
    duration,
    leading_phone,
    moment,
    phone_or_user,
    priority,
    unquote,
    user_id,
)
from tests.conftest import START

ZONE = "America/New_York"  # START is Monday 23 Nov 2026, 10:00 there (15:00 UTC)


def words_after_options(text: str, *names: str) -> tuple[Words, dict[str, list[str]]]:
    words = Words.of(text)
    options = words.take_options(names, repeatable=("tag",))
    return words, options.values


# -- clean: Slack's markup back to what the agent typed ----------------------------------------


@pytest.mark.parametrize(
    ("sent", "typed"),
    [
        ("Fees &amp; charges", "Fees & charges"),
        ("a &lt;b&gt; c", "a <b> c"),
        # An agent's literal "&lt;" arrives as "&amp;lt;": it must stay "&lt;", not become "<".
        ("&amp;lt;script&amp;gt;", "&lt;script&gt;"),
        ("ask <@U123ABC|ana> now", "ask <@U123ABC|ana> now"),
        ("ask <@U123ABC> now", "ask <@U123ABC> now"),
        ("see <#C0123|support>", "see support"),
        ("see <#C0123>", "see #C0123"),
        ("ping <!here> and <!subteam^S1|@oncall>", "ping !here and @oncall"),
        ("docs <https://acme.test/x|the guide>", "docs the guide"),
        ("docs <https://acme.test/x>", "docs https://acme.test/x"),
        ("new <tel:+12125550101|(212) 555-0101> Router", "new (212) 555-0101 Router"),
        ("new <tel:+12125550101> Router", "new +12125550101 Router"),
        ("mail <mailto:ana@acme.test|ana@acme.test>", "mail ana@acme.test"),
        ("mail <mailto:ana@acme.test>", "mail ana@acme.test"),
        ("“Router down” again", '"Router down" again'),
        ("„Router down“ again", '"Router down" again'),
        ("it’s the customer's router, isn't it", "it’s the customer's router, isn't it"),
        ("   padded   ", "padded"),
    ],
)
def test_clean_undoes_slack_markup(sent: str, typed: str) -> None:
    assert clean(sent) == typed


def test_words_split_quotes_and_keep_apostrophes() -> None:
    words = Words.of("note 12 “Called them back” it’s don't 'Ana Gomez' ‘Lee Wu’ users' '90s")
    assert [t.text for t in words.tokens] == [
        "note",
        "12",
        "Called them back",
        "it’s",
        "don't",
        "Ana Gomez",
        "Lee Wu",
        "users'",
        "'90s",
    ]
    assert words.word(2) == "Called them back"
    assert words.word(99) is None
    assert len(words) == 9


def test_rest_keeps_spacing_and_turns_mentions_into_names() -> None:
    words = Words.of("note 1  Called   <@U123ABC|ana> and <@U999XYZ>  twice &amp; logged")
    assert words.rest(2) == "Called   @ana and @U999XYZ  twice & logged"
    assert words.rest(9) == ""


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ('"Router keeps dropping"', "Router keeps dropping"),
        ("'Router keeps dropping'", "Router keeps dropping"),
        ("  “Router keeps dropping”  ", "“Router keeps dropping”"),  # clean() straightens these
        ('"One" and "two"', '"One" and "two"'),
        ("'a' and 'b'", "'a' and 'b'"),
        ("Customer's router", "Customer's router"),
        ('"', '"'),
    ],
)
def test_unquote_strips_only_one_wholly_quoted_phrase(text: str, plain: str) -> None:
    assert unquote(text) == plain


def test_rest_unquotes_a_quoted_phrase() -> None:
    assert Words.of("update 1 “We replaced the modem”").rest(2) == "We replaced the modem"


# -- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "new 2125550101 Router down --priority P2 --category net",
        "new --priority P2 2125550101 Router down --category net",
        "new 2125550101 --category=net Router down --priority=P2",
        "new 2125550101 Router --Priority P2 down --CATEGORY net",
    ],
)
def test_options_are_found_anywhere(text: str) -> None:
    words, options = words_after_options(text, "priority", "category")
    assert {k: [v.upper() for v in vs] for k, vs in options.items()} == {
        "priority": ["P2"],
        "category": ["NET"],
    }
    assert words.rest(1) == "2125550101 Router down"


def test_options_leave_free_text_spacing_alone() -> None:
    words, options = words_after_options('note 3 Call   back "after lunch" --tag vip', "tag")
    assert options == {"tag": ["vip"]}
    assert words.rest(2) == 'Call   back "after lunch"'


def test_option_values_may_be_quoted() -> None:
    words, options = words_after_options(
        "new 2125550101 Router --name 'Ana Gomez' --ref “ZD 1”", "name", "ref"
    )
    assert options == {"name": ["Ana Gomez"], "ref": ["ZD 1"]}
    assert words.rest(2) == "Router"


def test_repeatable_option_collects_every_value() -> None:
    _, options = words_after_options("note 1 hi --tag a --tag=b", "tag")
    assert options == {"tag": ["a", "b"]}


def test_quoted_dashes_and_lone_dashes_are_text() -> None:
    words, options = words_after_options('update 1 run "--repair" -- then -> reboot', "tag")
    assert options == {}
    assert words.rest(2) == 'run "--repair" -- then -> reboot'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("new 2125550101 Router --color red", "unknown option --color"),
        ("update 1 text --force", "unknown option --force (allowed: none)"),
        ("new 2125550101 Router --priority", "--priority needs a value"),
        ("new 2125550101 Router --priority P1 --priority P2", "--priority is given twice"),
    ],
)
def test_bad_options_are_usage_errors(text: str, problem: str) -> None:
    names = ("priority",) if text.startswith("new") else ()
    with pytest.raises(UsageError, match="^" + problem.replace("(", r"\(").replace(")", r"\)")):
        Words.of(text).take_options(names)


# -- case ids and users -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "wanted"), [("12", 12), ("#12", 12), ("#0012", 12), ("ZD-1", "ZD-1"), ("#", "#")]
)
def test_case_id(word: str, wanted: int | str) -> None:
    assert case_id(word) == wanted


@pytest.mark.parametrize("word", [None, ""])
def test_case_id_missing(word: str | None) -> None:
    with pytest.raises(UsageError, match="say which case"):
        case_id(word)


@pytest.mark.parametrize(
    ("word", "user"),
    [
        ("<@U123ABC|ana>", "U123ABC"),
        ("<@U123ABC>", "U123ABC"),
        ("<@W0123ABCD|lee>", "W0123ABCD"),
        ("U0123ABCD", "U0123ABCD"),
        ("@U0123ABCD", "U0123ABCD"),
    ],
)
def test_user_id(word: str, user: str) -> None:
    assert user_id(word) == user


@pytest.mark.parametrize("word", ["ana", "@ana", "u0123abcd", "<@U1>", "#C0123ABCD"])
def test_user_id_rejects_what_is_no_user(word: str) -> None:
    with pytest.raises(UsageError, match="is not a Slack user"):
        user_id(word)


@pytest.mark.parametrize("word", [None, ""])
def test_user_id_missing_says_who(word: str | None) -> None:
    with pytest.raises(UsageError, match=r"^say who"):
        user_id(word)


# -- the customer of `/case new`: a phone number or a mention, then the subject -------------


@pytest.mark.parametrize(
    ("text", "phone", "subject"),
    [
        ("+1 (212) 555-0101 Router down", "+12125550101", "Router down"),
        ("212.555.0101 Router down", "+12125550101", "Router down"),
        ("(212) 555 0101 Router down", "+12125550101", "Router down"),
        ("212-555-0101 Router down", "+12125550101", "Router down"),
        ("2125550101 Router down", "+12125550101", "Router down"),
        ("+12125550101 Router down", "+12125550101", "Router down"),
        ("1 212 555 0101 Router down", "+12125550101", "Router down"),
        ("+1-212-555-0101 Router down", "+12125550101", "Router down"),
        ("+44 20 7946 0018 London office offline", "+442079460018", "London office offline"),
        ("+442079460018 London", "+442079460018", "London"),
        # A subject that starts with a number is not swallowed into the phone number.
        ("212-555-0101 3 lines down", "+12125550101", "3 lines down"),
        ("(212) 555-0101 3 lines down", "+12125550101", "3 lines down"),
        ("212 555 0101 10 people affected", "+12125550101", "10 people affected"),
        ("+1 (212) 555-0101 2 routers", "+12125550101", "2 routers"),
        ("2125550101 2026 invoice wrong", "+12125550101", "2026 invoice wrong"),
        ("+44 20 7946 0018 3 desks", "+442079460018", "3 desks"),
        ('212 555 0101 "Router   down"', "+12125550101", "Router   down"),
        ("2125550101 'Router down'", "+12125550101", "Router down"),
        ("2125550101", "+12125550101", ""),
    ],
)
def test_phone_numbers_in_any_common_format(text: str, phone: str, subject: str) -> None:
    contact, rest = phone_or_user(Words.of("new " + text), 1, "US")
    assert contact == {"phone": phone, "channel": "sms"}
    assert rest == subject


def test_tel_link_from_slack_is_a_phone() -> None:
    words = Words.of("new <tel:2125550101|(212) 555-0101> Router down")
    assert phone_or_user(words, 1, "US") == (
        {"phone": "+12125550101", "channel": "sms"},
        "Router down",
    )


def test_region_decides_numbers_without_country_code() -> None:
    assert leading_phone("020 7946 0018 London", "GB") == ("+442079460018", "London")


@pytest.mark.parametrize(
    ("text", "user", "subject"),
    [
        ("<@UCUST0001|dana> Card declined", "UCUST0001", "Card declined"),
        ("<@UCUST0001> “Card declined abroad”", "UCUST0001", "Card declined abroad"),
        ("UCUST0001 Card declined", "UCUST0001", "Card declined"),
        ("@UCUST0001 Card declined", "UCUST0001", "Card declined"),
    ],
)
def test_mentioned_customer(text: str, user: str, subject: str) -> None:
    contact, rest = phone_or_user(Words.of("new " + text), 1, "US")
    assert contact == {"slack_user_id": user, "channel": "slack"}
    assert rest == subject


@pytest.mark.parametrize("text", ["", "Router down", "555 Router", "123 Router", "+1 415 Router"])
def test_no_customer_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="start with the customer"):
        phone_or_user(Words.of("new " + text), 1, "US")


# -- priority, durations, moments -------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "wanted"),
    [("P1", "P1"), ("p2", "P2"), ("3", "P3"), (" P4 ", "P4"), ("p1", "P1")],
)
def test_priority_spellings(word: str, wanted: str) -> None:
    assert priority(word) == wanted


@pytest.mark.parametrize("word", ["P0", "P5", "high", "", "PP2", "P 2", "1.0"])
def test_bad_priority(word: str) -> None:
    with pytest.raises(UsageError, match="priority must be P1, P2, P3 or P4"):
        priority(word)


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("30s", timedelta(seconds=30)),
        ("45m", timedelta(minutes=45)),
        ("4h", timedelta(hours=4)),
        ("every 4h", timedelta(hours=4)),
        ("1h30m", timedelta(minutes=90)),
        ("4 h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("3650d", timedelta(days=3650)),
    ],
)
def test_durations(text: str, wanted: timedelta) -> None:
    assert duration(text) == wanted


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "expected a duration"),
        ("fast", "expected a duration"),
        ("4", "expected a duration"),
        ("-2h", "expected a duration"),
        ("4 hours", "expected a duration"),
        ("0m", "longer than zero"),
        ("3651d", "too long"),
        ("99999999d", "too long"),
        ("99999999999999999999d", "too long"),  # beyond what a timedelta holds
    ],
)
def test_bad_durations(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        duration(text)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("2h", START + timedelta(hours=2)),
        ("in 3d", START + timedelta(days=3)),
        ("90m", START + timedelta(minutes=90)),
        ("2026-11-24 15:00", utc(2026, 11, 24, 20, 0)),  # read in New York (EST, UTC-5)
        ("2026-11-24T15:00", utc(2026, 11, 24, 20, 0)),
        ("2026-11-24T15:00Z", utc(2026, 11, 24, 15, 0)),
        ("2026-11-24 15:00 +02:00", utc(2026, 11, 24, 13, 0)),
        ("tomorrow 3pm", utc(2026, 11, 24, 20, 0)),
        ("tomorrow at 3pm", utc(2026, 11, 24, 20, 0)),
        ("3pm", utc(2026, 11, 23, 20, 0)),  # later today in New York
        ("friday 10:00", utc(2026, 11, 27, 15, 0)),
        ("Nov 24 3pm", utc(2026, 11, 24, 20, 0)),
        ("in 2 hours", START + timedelta(hours=2)),
        ("2027-07-01 09:00", utc(2027, 7, 1, 13, 0)),  # summer time there: EDT, UTC-4
    ],
)
def test_moments(text: str, wanted: datetime) -> None:
    found = moment(text, START, ZONE)
    assert found == wanted
    assert found.tzinfo is not None and found.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "say when"),
        ("   ", "say when"),
        ("garbage words", "cannot read 'garbage words' as a time"),
        ("2026-13-45", "cannot read"),
        ("in 99999999999d", "cannot read"),
        ("12", "needs a unit or a time"),  # dateparser alone would read it as December
        ("-1", "needs a unit or a time"),
        ("9999-12-31 23:00", "too far in the future"),  # past year 9999 in UTC
    ],
)
def test_bad_moments(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        moment(text, START, ZONE)
