"""Replies: who asked, and what a command answers, as data that every renderer formats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from bot.services.ask import Answer
from bot.services.briefing import Briefing
from bot.services.feeds import PollResult
from bot.services.ingest import IngestReport
from corpus.model import clean_text


@dataclass(frozen=True, kw_only=True)
class Caller:
    """Who sent a command and where. ``trusted`` callers may change what the bot knows or posts
    (add articles, follow feeds, schedule briefings); each adapter decides who is trusted."""

    platform: str
    channel: str
    user: str
    trusted: bool


@dataclass(frozen=True)
class Notice:
    """A short plain-text reply: a confirmation, a list, or a polite refusal (``problem``).

    ``private`` replies are shown to the caller alone where the platform can (Slack ephemeral
    messages, Discord ephemeral responses): refusals, mistakes, lists. Confirmed changes are
    for the whole channel, which they affect.
    """

    lines: tuple[str, ...]
    problem: bool = False
    private: bool = True

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Usage:
    name: str
    args: str
    summary: str
    example: str = ""


@dataclass(frozen=True)
class Help:
    """The command list; ``intro`` says why it is shown when it was not asked for."""

    usages: tuple[Usage, ...]
    intro: str | None = None


Reply: TypeAlias = Answer | Briefing | Notice | Help


def is_public(reply: Reply) -> bool:
    """Answers, briefings and confirmed changes are for the channel; the rest for the caller."""
    if isinstance(reply, Help):
        return False
    return not reply.private if isinstance(reply, Notice) else True


def problem(message: str) -> Notice:
    return Notice((message,), problem=True)


def format_date(value: datetime | None) -> str:
    return value.date().isoformat() if value else "undated"


def report_lines(report: IngestReport) -> tuple[str, ...]:
    """Every outcome of an ingest, one line each, for the person who asked."""
    lines = [
        f"Added “{a.title}” ({a.source or 'unknown source'}, {format_date(a.published_at)})"
        for a in report.added
    ]
    lines += [f"Already have “{d.of.title}” — skipped {d.origin}" for d in report.duplicates]
    lines += [f"Couldn't add {f.origin}: {f.reason}" for f in report.failures]
    return tuple(lines) or ("Nothing to add.",)


def following(result: PollResult) -> str:
    """Which feed is now followed, and the page it was found on when given a site's page."""
    feed = " ".join(clean_text(result.feed.title or result.feed.url).split())
    found = f" (found on {clean_text(result.found_on)})" if result.found_on else ""
    return f"Now following {feed}{found}."


def poll_summary(result: PollResult) -> str:
    """One line; plain text without control characters, since chats show it too."""
    feed = " ".join(clean_text(result.feed.title or result.feed.url).split())
    if result.error:
        return f"{feed}: {clean_text(result.error)}"
    if result.not_modified:
        return f"{feed}: not modified since the last poll"
    report = result.report
    line = f"{feed}: {len(report.added)} new, {len(report.duplicates)} duplicates, " + (
        f"{len(report.failures)} failed"
    )
    if result.deferred:
        line += f", {result.deferred} left for the next poll"
    return line
