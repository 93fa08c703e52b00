"""Timezones: IANA names as people type them, forgiving case and suggesting what they meant."""

from __future__ import annotations

import functools
from zoneinfo import ZoneInfo, available_timezones

from rapidfuzz import fuzz, process

from corpus.errors import BriefbotError

# How close (rapidfuzz ratio, 0-100) a typo must come to a name to be suggested: "Europe/Londn"
# (96) and "Berln" for Berlin (91) are; "Londres" for London (62) is not.
_SUGGEST_SCORE = 80


class UnknownTimezoneError(BriefbotError, ValueError):
    """A name that is no IANA timezone; the message suggests the closest one if any is close."""

    def __init__(self, name: str, *, suggestion: str | None) -> None:
        hint = (
            f"did you mean {suggestion}?"
            if suggestion
            else "use an IANA name such as Europe/Berlin"
        )
        super().__init__(f"unknown timezone {name!r} — {hint}")
        self.name = name
        self.suggestion = suggestion


@functools.cache
def zone_names() -> dict[str, str]:
    """IANA timezone names by their lower-case form."""
    # Scanning the tz database takes ~30 ms, so once per process. "localtime" is the host's own
    # zone, not an IANA name: a setting must not change meaning when the bot moves machines.
    return {name.casefold(): name for name in available_timezones() if name != "localtime"}


def find_timezone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` spells in any case ("europe/london"), under its canonical key."""
    key = zone_names().get(name.strip().casefold())
    if key is None:
        raise UnknownTimezoneError(name, suggestion=suggest_timezone(name))
    return ZoneInfo(key)


def suggest_timezone(name: str) -> str | None:
    """The zone a person most likely meant: the one named for the city alone ("London",
    "new york"), else the closest name or city to a typo ("Europe/Londn", "Berln")."""
    typed = "_".join(name.casefold().split())
    if not typed:
        return None
    cities = _zones_by_city()
    if typed in cities:
        return cities[typed]
    choices = cities | zone_names()  # a whole name wins a clash with a city ("utc")
    best = process.extractOne(typed, list(choices), scorer=fuzz.ratio, score_cutoff=_SUGGEST_SCORE)
    return choices[best[0]] if best else None


@functools.cache
def _zones_by_city() -> dict[str, str]:
    """Zone names by their last part in lower case ("london"). Where zones share one
    ("Asia/Nicosia", "Europe/Nicosia"), the one with the fewest parts wins, then the first
    alphabetically: the plainest name, and the same one every time."""
    found: dict[str, str] = {}
    for key in sorted(zone_names(), key=lambda key: (key.count("/"), key)):
        found.setdefault(key.rpartition("/")[2], zone_names()[key])
    return found
