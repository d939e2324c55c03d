"""Phone numbers in E.164, normalised with phonenumbers, and what a number says of its owner:
the time zone they are most likely in, and the language their country speaks."""

from __future__ import annotations

from collections.abc import Collection

import phonenumbers
from babel.languages import get_official_languages
from phonenumbers import timezone as number_zones

from bot.errors import InvalidInput


def to_e164(raw: str, region: str = "US", *, field: str = "phone") -> str:
    """Normalise a number as people type it (`(415) 555-0100`, `+44 20 7946 0000`) to E.164."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"{raw!r} is not a phone number", field=field) from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(
            f"{raw!r} is not a possible phone number (include the country code, e.g. +1)",
            field=field,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# For numbers phonenumbers can place only in their country (mobiles, toll-free), the zone most
# of the country's people live in. Listed for countries whose numbers span several zones; a
# country not listed gets the first zone phonenumbers lists (alphabetical, so only a guess).
MOST_POPULOUS_ZONE = {
    "AR": "America/Argentina/Buenos_Aires",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "CD": "Africa/Kinshasa",
    "CL": "America/Santiago",
    "CN": "Asia/Shanghai",
    "EC": "America/Guayaquil",
    "ES": "Europe/Madrid",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "MN": "Asia/Ulaanbaatar",
    "MX": "America/Mexico_City",
    "NZ": "Pacific/Auckland",
    "PT": "Europe/Lisbon",
    "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv",
    "US": "America/New_York",
}


def region_of(e164: str) -> str | None:
    """The number's country (ISO 3166 alpha-2, e.g. AU), None when phonenumbers cannot tell."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return None


def zone_for_number(e164: str, prefer: str | None = None) -> str | None:
    """The IANA zone a number is most likely in, from phonenumbers' time-zone data; None when
    the data does not place it.

    One zone listed: that zone. Several (a number phonenumbers places only in its country, such
    as an Australian mobile, or a US toll-free number): `prefer` (the ops zone) when it is among
    them, else the country's most populous zone when it is among them, else the first listed.
    """
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    listed = [
        z for z in number_zones.time_zones_for_number(number) if z != number_zones.UNKNOWN_TIMEZONE
    ]
    if not listed:
        return None
    if prefer in listed:
        return prefer
    likely = MOST_POPULOUS_ZONE.get(phonenumbers.region_code_for_number(number) or "")
    return likely if likely in listed else listed[0]


def locale_for_number(e164: str, spoken: Collection[str]) -> str | None:
    """The locale a number's country most likely reads (`es-MX` for +52), when its first
    official language (CLDR, through Babel) is one of `spoken`; None otherwise. Only the first
    language counts: a Canadian number is English, a Belgian one (Dutch first) gets none, as
    guessing a second language is worse than the program's own."""
    region = region_of(e164)
    if not region:
        return None
    languages = get_official_languages(region, de_facto=True)
    if not languages or languages[0] not in spoken:
        return None
    return f"{languages[0]}-{region}"
