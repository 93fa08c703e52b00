"""Chat commands shared by every adapter: what people can ask for, who may do it, which service
does it, and a platform-neutral reply that each adapter renders in its own format.

Slack passes the text of ``/brief …`` to :meth:`Commands.run`; Discord, whose slash commands
carry typed options, calls the named methods directly. Either way the semantics are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo

from bot.rendering.terminal import format_date, render_poll
from bot.services.ask import Answer, QuestionError
from bot.services.briefing import Briefing
from bot.services.feeds import FollowError
from bot.services.ingest import IngestReport, is_url
from bot.subscriptions import (
    Subscription,
    SubscriptionError,
    describe,
    from_words,
    next_fire,
    split_topics,
)
from bot.wiring import Briefbot
from corpus.model import utcnow
from retrieval.window import Window


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
    """A short plain-text reply: a confirmation, a list, or a polite refusal (``problem``)."""

    lines: tuple[str, ...]
    problem: bool = False

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

USAGES = (
    Usage("ask", "<question>", "answer with quotes from the articles", "What did Kim inspect?"),
    Usage("today", "[topic…]", "today's briefing", "energy"),
    Usage("briefing", "[date] [topic…]", "the briefing of a day", "2023-09-19 Russia"),
    Usage(
        "subscribe",
        "HH:MM Area/City [days] [topics…]",
        "post a briefing to this channel on schedule",
        "08:00 Europe/Berlin weekdays climate, energy",
    ),
    Usage("unsubscribe", "", "stop this channel's scheduled briefings"),
    Usage("subscriptions", "", "show this channel's schedule"),
    Usage("add", "<url | pasted text>", "add an article", "https://example.com/news/story"),
    Usage("follow", "<feed url>", "follow an RSS or Atom feed", "https://example.com/rss.xml"),
    Usage("unfollow", "<feed url>", "stop following a feed", "https://example.com/rss.xml"),
    Usage("feeds", "", "list the followed feeds"),
    Usage("help", "", "this list"),
)
COMMAND_NAMES = frozenset(usage.name for usage in USAGES)
CHANGING = frozenset({"add", "follow", "unfollow", "subscribe", "unsubscribe"})
"""Commands that change what the bot knows or posts: only trusted callers may use them."""

REFUSAL = (
    "Sorry — only briefbot admins can add articles, follow feeds or schedule briefings. "
    "Ask one of them to do it for you."
)


def refused() -> Notice:
    return Notice((REFUSAL,), problem=True)


def _problem(message: str) -> Notice:
    return Notice((message,), problem=True)


def report_lines(report: IngestReport) -> tuple[str, ...]:
    """Every outcome of an ingest, one line each, for the person who asked."""
    lines = [
        f"Added “{a.title}” ({a.source or 'unknown source'}, {format_date(a.published_at)})"
        for a in report.added
    ]
    lines += [f"Already have “{d.of.title}” — skipped {d.origin}" for d in report.duplicates]
    lines += [f"Couldn't add {f.origin}: {f.reason}" for f in report.failures]
    return tuple(lines) or ("Nothing to add.",)


class Commands:
    """The commands of every chat platform, over the services of one :class:`Briefbot`."""

    def __init__(self, bot: Briefbot) -> None:
        self.bot = bot

    def run(self, text: str, caller: Caller, *, now: datetime | None = None) -> Reply:
        """A text command: ``<name> <arguments>``, or a bare question."""
        words = text.split()
        if not words:
            return self.help()
        name, rest = words[0].lower(), text.strip()[len(words[0]) :].strip()
        if name not in COMMAND_NAMES:
            if len(words) == 1 and "?" not in text:
                return self.help(intro=f"I don't know the command “{words[0]}”.")
            return self.ask(text, now=now)
        match name:
            case "ask":
                return self.ask(rest, now=now)
            case "today":
                return self.briefing(caller, None, split_topics(rest.split()), now=now)
            case "briefing":
                day, *topics = rest.split() or [""]
                return self.briefing(caller, day or None, split_topics(topics), now=now)
            case "subscribe":
                return self.subscribe(caller, rest.split(), now=now)
            case "unsubscribe":
                return self.unsubscribe(caller)
            case "subscriptions":
                return self.subscriptions(caller, now=now)
            case "add":
                return self.add(caller, rest)
            case "follow":
                return self.follow(caller, rest)
            case "unfollow":
                return self.unfollow(caller, rest)
            case "feeds":
                return self.feeds()
        return self.help()

    def help(self, *, intro: str | None = None) -> Help:
        return Help(USAGES, intro)

    def converse(self, text: str, *, now: datetime | None = None) -> Reply:
        """A message to the bot (a mention or a DM): help when asked for, else a question."""
        if text.strip().lower().lstrip("/") in {"", "help"}:
            return self.help()
        return self.ask(text, now=now)

    def too_large(self, name: str, size: int) -> Notice | None:
        """Checked before a shared file is downloaded, so nothing too large is fetched."""
        failure = self.bot.ingest_service.oversized(name, size)
        return (
            None
            if failure is None
            else Notice(report_lines(IngestReport(failures=[failure])), True)
        )

    def ask(self, question: str, *, now: datetime | None = None) -> Answer | Notice:
        try:
            return self.bot.ask_service.ask(question, now=now)
        except QuestionError as exc:
            return _problem(str(exc))

    def briefing(
        self,
        caller: Caller,
        day: str | None,
        topics: list[str],
        *,
        now: datetime | None = None,
    ) -> Briefing | Notice:
        """The briefing of ``day`` (today, yesterday or YYYY-MM-DD; default today) in the
        channel's scheduled timezone, or the configured one."""
        sub = self.bot.subscriptions.get(caller.platform, caller.channel)
        zone = sub.zone if sub else ZoneInfo(self.bot.settings.briefing.timezone)
        today = (now or utcnow()).astimezone(zone).date()
        words = {"today": today, "yesterday": today - timedelta(days=1)}
        when = words.get((day or "today").lower())
        if when is None:
            try:
                when = date.fromisoformat(day or "")
            except ValueError:
                # Not a date: the first topic ("briefing energy").
                when, topics = today, [day or "", *topics]
        return self.bot.briefing_service.brief(
            Window.day(when, zone), topics=topics, limit=self.bot.settings.briefing.stories
        )

    def subscribe(self, caller: Caller, words: list[str], *, now: datetime | None = None) -> Notice:
        if not caller.trusted:
            return refused()
        now = now or utcnow()
        try:
            sub = self.bot.subscriptions.subscribe(
                from_words(
                    words,
                    platform=caller.platform,
                    channel=caller.channel,
                    now=now,
                    created_by=caller.user,
                )
            )
        except SubscriptionError as exc:
            return _problem(str(exc))
        return Notice((f"Scheduled a briefing here: {describe(sub)}.", self._next(sub, now)))

    def unsubscribe(self, caller: Caller) -> Notice:
        if not caller.trusted:
            return refused()
        if not self.bot.subscriptions.unsubscribe(caller.platform, caller.channel):
            return _problem("This channel has no scheduled briefing.")
        return Notice(("Stopped the scheduled briefings in this channel.",))

    def subscriptions(self, caller: Caller, *, now: datetime | None = None) -> Notice:
        sub = self.bot.subscriptions.get(caller.platform, caller.channel)
        if sub is None:
            return Notice(("This channel has no scheduled briefing. Start one with subscribe.",))
        return Notice((f"Briefings here: {describe(sub)}.", self._next(sub, now or utcnow())))

    @staticmethod
    def _next(sub: Subscription, now: datetime) -> str:
        return f"Next one: {next_fire(sub, now).astimezone(sub.zone):%A %Y-%m-%d %H:%M %Z}."

    def add(self, caller: Caller, text: str) -> Notice:
        """A URL, or pasted text whose first line is the title."""
        if not caller.trusted:
            return refused()
        text = text.strip()
        if not text:
            return _problem("Give a URL or paste the article's text after add.")
        ingest = self.bot.ingest_service
        single_word = len(text.split()) == 1
        if single_word and not is_url(text):
            return _problem(f"“{text}” is not a web address (it should start with https://).")
        report = ingest.ingest_url(text) if single_word else ingest.ingest_text(text)
        return Notice(report_lines(report), problem=not (report.added or report.duplicates))

    def add_file(self, caller: Caller, name: str, data: bytes) -> Notice:
        if not caller.trusted:
            return refused()
        report = self.bot.ingest_service.ingest_upload(name, data)
        return Notice(report_lines(report), problem=not (report.added or report.duplicates))

    def follow(self, caller: Caller, url: str) -> Notice:
        if not caller.trusted:
            return refused()
        url = url.strip()
        if not is_url(url):
            return _problem("Give the feed's address, e.g. follow https://example.com/rss.xml")
        try:
            result = self.bot.feed_service.follow(url)
        except (FollowError, ValueError) as exc:
            return _problem(f"Couldn't follow {url}: {exc}")
        name = result.feed.title or result.feed.url
        return Notice((f"Now following {name}.", render_poll(result)))

    def unfollow(self, caller: Caller, url: str) -> Notice:
        if not caller.trusted:
            return refused()
        try:
            followed = self.bot.feed_service.unfollow(url.strip())
        except ValueError:  # not even a URL
            followed = False
        if not followed:
            return _problem(f"I don't follow {url.strip() or 'that'} — see feeds for the list.")
        return Notice((f"Stopped following {url.strip()}; its articles stay.",))

    def feeds(self) -> Notice:
        feeds = self.bot.feed_service.followed()
        if not feeds:
            return Notice(("No feeds followed yet. Add one with follow <feed url>.",))
        return Notice(tuple(f"{f.title or f.url} — {f.url}" for f in feeds))
