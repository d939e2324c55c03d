"""Phone numbers in E.164, normalised with phonenumbers, and the time zone a number is in."""

from __future__ import annotations

import phonenumbers
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


def zone_for_number(e164: str) -> str | None:
    """The IANA zone a number is most likely in, from phonenumbers' time-zone data; None when
    the data does not place it.

    One zone listed: that zone. Several (a number phonenumbers places only in its country, such
    as an Australian mobile, or a US toll-free number): the country's most populous zone when it
    is among them, else the first listed.
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
    likely = MOST_POPULOUS_ZONE.get(phonenumbers.region_code_for_number(number) or "")
    return likely if likely in listed else listed[0]
