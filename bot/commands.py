"""Chat commands shared by every adapter: what people can ask for, who may do it, which service
does it, and a platform-neutral reply that each adapter renders in its own format.

The methods are typed: Discord passes its slash-command options straight in, and Slack and the
terminal parse their text into the same calls (``bot/adapters/text.py``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo

from bot.channels import ChannelSources, SourcesError, listing, pick
from bot.conversations import ConversationStore
from bot.metrics import Metrics
from bot.replies import (
    Caller,
    Help,
    Notice,
    Usage,
    following,
    format_date,
    poll_summary,
    problem,
    report_lines,
)
from bot.services.ask import Answer, AskService, QuestionError, validate_question
from bot.services.briefing import Briefing, BriefingService
from bot.services.feeds import AlreadyFollowingError, FeedService, FollowError
from bot.services.ingest import ArticleNotFoundError, IngestReport, IngestService, is_url
from bot.subscriptions import (
    Subscription,
    SubscriptionError,
    SubscriptionStore,
    describe,
    next_fire,
    schedule,
)
from bot.watches import WatchError, WatchService
from corpus.model import Clock, canonical_url
from corpus.opml import OPMLError
from corpus.store import ArticleStore
from retrieval.window import PERIODS, Window, period


class Who(Enum):
    """Who may run a command."""

    ANYONE = "anyone"
    TRUSTED = "trusted"
    """Commands that change what the bot knows or posts."""
    TRUSTED_TO_CHANGE = "trusted to change"
    """Anyone may look; arguments change a setting, which only trusted callers may do."""


PERMISSIONS: Mapping[str, Who] = {
    "ask": Who.ANYONE,
    "today": Who.ANYONE,
    "briefing": Who.ANYONE,
    "story": Who.ANYONE,
    "subscribe": Who.TRUSTED,
    "unsubscribe": Who.TRUSTED,
    "subscriptions": Who.ANYONE,
    "add": Who.TRUSTED,
    "follow": Who.TRUSTED,
    "unfollow": Who.TRUSTED,
    "feeds": Who.ANYONE,
    "articles": Who.ANYONE,
    "remove": Who.TRUSTED,
    "alert": Who.TRUSTED,
    "unalert": Who.TRUSTED,
    "alerts": Who.ANYONE,
    "sources": Who.TRUSTED_TO_CHANGE,
    "help": Who.ANYONE,
}
"""The one table of who may run what; adapters consult it before any work, and so do the
commands themselves."""

USAGES = (
    Usage("ask", "<question>", "answer with quotes from the articles", "What did Kim inspect?"),
    Usage("today", "[topic…]", "today's briefing", "energy"),
    Usage("briefing", "[day | week] [topic…]", f"the briefing of {PERIODS}", "last week Russia"),
    Usage("story", "<words>", "one story's timeline across days", "London bombings"),
    Usage(
        "subscribe",
        "HH:MM Area/City [days] [topics…]",
        "post a briefing to this channel on schedule",
        "08:00 Europe/Berlin weekdays climate, energy",
    ),
    Usage("unsubscribe", "", "stop this channel's scheduled briefings"),
    Usage("subscriptions", "", "show this channel's schedule"),
    Usage("add", "<url | pasted text>", "add an article", "https://example.com/news/story"),
    Usage(
        "follow",
        "<feed or site url> [#channel] [words…]",
        "follow a feed; in a channel, post its new entries there (only those about the words)",
        "https://example.com/rss.xml climate",
    ),
    Usage("unfollow", "<feed url>", "stop following a feed", "https://example.com/rss.xml"),
    Usage("feeds", "", "list the followed feeds"),
    Usage("alert", "<words>", "post each new article about the words here", "Valencia floods"),
    Usage("alerts", "", "this channel's alerts and feeds, with their ids"),
    Usage("unalert", "<id>", "stop an alert or a channel's feed posts", "3"),
    Usage("articles", "[source]", "the newest articles, with their ids", "TASS"),
    Usage("remove", "<article id | url>", "delete an article from the store", "42"),
    Usage(
        "sources",
        "[names, … | all]",
        "show, or choose, the only sources answers and briefings here quote",
        "BBC News, TASS",
    ),
    Usage("help", "", "this list"),
)

REFUSAL = (
    "Sorry — only briefbot admins can add articles, follow feeds, schedule briefings or choose"
    " sources. Ask one of them to do it for you."
)


def _changed(lines: tuple[str, ...]) -> Notice:
    """A confirmed change: the channel sees it, since it affects everyone there."""
    return Notice(lines, private=False)


def _ingested(report: IngestReport) -> Notice:
    if report.added or report.duplicates:
        return _changed(report_lines(report))
    return Notice(report_lines(report), problem=True)


def _only(sources: Sequence[str]) -> str:
    return f"This channel quotes only {', '.join(sources)}"


def with_latest(briefing: Briefing, store: ArticleStore, *, retry: str) -> Briefing:
    """``briefing`` and, when its window holds no articles at all, when the newest article was
    published, so that its note can suggest a day that has some; ``retry`` is how the person
    asks for a day ("briefing" in chat, "--date" in the CLI)."""
    window = briefing.window
    if briefing.stories:
        return briefing
    latest = store.latest_published(before=window.end)
    if latest is not None and latest >= window.start:
        return briefing  # the window has articles: its topics or earlier deliveries left none
    latest = latest or store.latest_published()
    if latest is None:
        return briefing
    return replace(briefing, latest=latest.astimezone(window.start.tzinfo), retry=retry)


@dataclass(frozen=True, kw_only=True)
class BriefingDefaults:
    """What a briefing asked for in chat uses unless the channel's schedule says otherwise."""

    timezone: ZoneInfo
    stories: int


Conversation = tuple[str, str]
"""A platform and its name for one conversation (a Slack thread, a Discord reply chain)."""


class Commands:
    """The commands of every chat platform, over the services they use."""

    def __init__(
        self,
        *,
        ask_service: AskService,
        briefing_service: BriefingService,
        ingest_service: IngestService,
        feed_service: FeedService,
        watch_service: WatchService,
        subscriptions: SubscriptionStore,
        conversations: ConversationStore,
        channel_sources: ChannelSources,
        defaults: BriefingDefaults,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> None:
        self.ask_service = ask_service
        self.conversations = conversations
        self.briefing_service = briefing_service
        self.ingest_service = ingest_service
        self.feed_service = feed_service
        self.watch_service = watch_service
        self.subscription_store = subscriptions
        self.channel_sources = channel_sources
        self.defaults = defaults
        self.clock = clock
        self.metrics = metrics or Metrics()

    def refusal(self, command: str, caller: Caller, arguments: str = "") -> Notice | None:
        """The private refusal when ``caller`` may not run ``command`` with ``arguments``,
        else nothing."""
        who = PERMISSIONS.get(command, Who.ANYONE)
        changes = who is Who.TRUSTED or (who is Who.TRUSTED_TO_CHANGE and bool(arguments.strip()))
        if changes and not caller.trusted:
            return Notice((REFUSAL,), problem=True)
        return None

    def help(self, *, intro: str | None = None) -> Help:
        return Help(USAGES, intro)

    def too_large(self, name: str, size: int) -> Notice | None:
        """Checked before a shared file is downloaded, so nothing too large is fetched."""
        failure = self.ingest_service.oversized(name, size)
        return None if failure is None else _ingested(IngestReport(failures=[failure]))

    def ask(
        self,
        question: str,
        *,
        caller: Caller | None = None,
        now: datetime | None = None,
        conversation: Conversation | None = None,
    ) -> Answer | Notice:
        """Answer a question from the sources of the ``caller``'s channel; within a
        ``conversation`` (a thread, a reply chain, a terminal session) a follow-up is read
        against the question before it."""
        previous = self.conversations.last(*conversation) if conversation else None
        sources = self._sources(caller)
        started = time.perf_counter()
        try:
            answer = self.ask_service.ask(question, now=now, previous=previous, sources=sources)
        except QuestionError as exc:
            self.metrics.asked(None, seconds=time.perf_counter() - started)
            return problem(str(exc))
        self.metrics.asked(answer, seconds=time.perf_counter() - started)
        if sources and not answer.found:
            only = f"{_only(sources)} (sources all lifts that)."
            answer = replace(answer, note=" ".join(filter(None, [answer.note, only])))
        if conversation is not None:
            self.remember(conversation, answer)
        return answer

    def _sources(self, caller: Caller | None) -> tuple[str, ...]:
        """The sources the caller's channel reads; empty for every source."""
        return self.channel_sources.of(caller.platform, caller.channel) if caller else ()

    def remember(self, conversation: Conversation, reply: object) -> None:
        """Make ``reply``, if it is an answer that quoted something, the one a follow-up in
        ``conversation`` refers to."""
        turn = reply.turn() if isinstance(reply, Answer) else None
        if turn is not None:
            self.conversations.remember(*conversation, turn)

    def briefing(
        self,
        caller: Caller,
        *,
        day: str | None = None,
        topics: Sequence[str] = (),
        now: datetime | None = None,
    ) -> Briefing | Notice:
        """The briefing of ``day`` (today, yesterday, this week, last week or YYYY-MM-DD;
        default today) in the channel's scheduled timezone, or the configured one. A ``day``
        that names no period is taken as the first topic ("briefing energy")."""
        sub = self.subscription_store.get(caller.platform, caller.channel)
        zone = sub.zone if sub else self.defaults.timezone
        today = (now or self.clock()).astimezone(zone).date()
        window = period(day or "today", today=today, tz=zone)
        if window is None:
            window, topics = Window.day(today, zone), [day or "", *topics]
        briefing = self.briefing_service.brief(
            window, topics=topics, limit=self.defaults.stories, sources=self._sources(caller)
        )
        return with_latest(briefing, self.briefing_service.store, retry="briefing")

    def story(self, words: str, *, caller: Caller | None = None) -> Briefing | Notice:
        """The timeline of the story ``words`` name, from the sources of the ``caller``'s
        channel, or why there is none."""
        try:
            words = validate_question(words, max_chars=self.ask_service.max_question_chars)
        except QuestionError:
            return problem("Say which story, in a few words: story London bombings")
        timeline = self.briefing_service.timeline(words, sources=self._sources(caller))
        if timeline is None:
            return problem(f"I couldn't find a story about “{words}”.")
        return timeline

    def subscribe(
        self,
        caller: Caller,
        *,
        time: str,
        timezone: str,
        days: str | None = None,
        topics: Sequence[str] = (),
        now: datetime | None = None,
    ) -> Notice:
        if refusal := self.refusal("subscribe", caller):
            return refusal
        now = now or self.clock()
        try:
            sub = self.subscription_store.subscribe(
                schedule(
                    platform=caller.platform,
                    channel=caller.channel,
                    time=time,
                    timezone=timezone,
                    days=days,
                    topics=topics,
                    now=now,
                    created_by=caller.user,
                )
            )
        except SubscriptionError as exc:
            return problem(str(exc))
        return _changed((f"Scheduled a briefing here: {describe(sub)}.", self._next(sub, now)))

    def unsubscribe(self, caller: Caller) -> Notice:
        if refusal := self.refusal("unsubscribe", caller):
            return refusal
        if not self.subscription_store.unsubscribe(caller.platform, caller.channel):
            return problem("This channel has no scheduled briefing.")
        return _changed(("Stopped the scheduled briefings in this channel.",))

    def sources(self, caller: Caller, names: str = "") -> Notice:
        """Without ``names``, which sources the channel reads; with them (admins only), the
        only sources its answers and briefings quote from now on; "all" lifts the limit."""
        names = names.strip()
        if not names:
            chosen = self._sources(caller)
            if chosen:
                return Notice((f"{_only(chosen)}. sources all lifts that.",))
            known = self.briefing_service.store.sources()
            every = f": {listing(known)}" if known else ""
            return Notice((f"This channel quotes every source{every}.",))
        if refusal := self.refusal("sources", caller, names):
            return refusal
        if names.lower() == "all":
            if not self.channel_sources.reset(caller.platform, caller.channel):
                return Notice(("This channel already quotes every source.",))
            return _changed(("This channel quotes every source again.",))
        try:
            chosen = tuple(pick(names, self.briefing_service.store.sources()))
        except SourcesError as exc:
            return problem(str(exc))
        self.channel_sources.choose(caller.platform, caller.channel, chosen, by=caller.user)
        return _changed((f"Answers and briefings here now quote only {', '.join(chosen)}.",))

    def subscriptions(self, caller: Caller, *, now: datetime | None = None) -> Notice:
        sub = self.subscription_store.get(caller.platform, caller.channel)
        if sub is None:
            return Notice(("This channel has no scheduled briefing. Start one with subscribe.",))
        when = self._next(sub, now or self.clock())
        return Notice((f"Briefings here: {describe(sub)}.", when))

    @staticmethod
    def _next(sub: Subscription, now: datetime) -> str:
        return f"Next one: {next_fire(sub, now).astimezone(sub.zone):%A %Y-%m-%d %H:%M %Z}."

    def add_url(self, caller: Caller, url: str) -> Notice:
        if refusal := self.refusal("add", caller):
            return refusal
        url = url.strip()
        if not url:
            return problem("Give a URL or paste the article's text after add.")
        if not is_url(url):
            return problem(f"“{url}” is not a web address (it should start with https://).")
        return self._ingested("url", self.ingest_service.ingest_url(url))

    def add_text(self, caller: Caller, *, text: str, title: str | None = None) -> Notice:
        """Pasted text; without a ``title`` its first line is the title."""
        if refusal := self.refusal("add", caller):
            return refusal
        if not text.strip():
            return problem("Paste the article's text, with its title on the first line.")
        return self._ingested("text", self.ingest_service.ingest_text(text, title=title))

    def add_file(self, caller: Caller, name: str, data: bytes) -> Notice:
        """A shared file: an article, or an OPML file of feeds to follow."""
        if refusal := self.refusal("add", caller):
            return refusal
        if name.lower().endswith(".opml"):
            return self._import_opml(name, data)
        return self._ingested("file", self.ingest_service.ingest_upload(name, data))

    def _import_opml(self, name: str, data: bytes) -> Notice:
        try:
            imported = self.feed_service.import_opml(data)
        except OPMLError as exc:
            return problem(f"Couldn't read {name}: {exc}")
        for result in imported.followed:
            self.metrics.polled(result)
        lines = [
            f"{name}: {imported.summary()}.",
            *(following(result) for result in imported.followed),
            *(f"Couldn't follow {f.origin}: {f.reason}" for f in imported.failures),
        ]
        changed = bool(imported.followed)
        return Notice(tuple(lines), problem=not changed, private=not changed)

    def articles(self, source: str = "", *, limit: int = 10) -> Notice:
        """The newest articles added, with the ids ``remove`` takes."""
        found = self.ingest_service.indexer.store.recent(source=source.strip() or None, limit=limit)
        if not found:
            named = f" from {source.strip()}" if source.strip() else ""
            return Notice((f"No articles{named} yet.",))
        return Notice(
            tuple(
                f"{a.id} · {format_date(a.published_at)} · {a.title}"
                f" ({a.source or 'unknown source'})"
                for a in found
            )
        )

    def remove(self, caller: Caller, ref: str) -> Notice:
        if refusal := self.refusal("remove", caller):
            return refusal
        if not ref.strip():
            return problem(
                "Give the article's id or address, e.g. remove 42 (articles lists them)."
            )
        try:
            removed = self.ingest_service.remove(ref)
        except ArticleNotFoundError as exc:
            return problem(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
        return _changed((f"Removed “{removed.title}”: it will not be quoted again.",))

    def _ingested(self, kind: str, report: IngestReport) -> Notice:
        self.metrics.ingested(kind, report)
        return _ingested(report)

    def follow(
        self, caller: Caller, url: str, *, channel: str | None = None, words: str = ""
    ) -> Notice:
        """Follow a feed; from a chat channel, also post its new entries to ``channel`` (this
        one by default), only those about ``words`` when given."""
        if refusal := self.refusal("follow", caller):
            return refusal
        url = url.strip()
        if not is_url(url):
            return problem("Give the feed's address, e.g. follow https://example.com/rss.xml")
        lines: list[str] = []
        try:
            result = self.feed_service.follow(url)
            feed = result.feed
            lines += [following(result), poll_summary(result)]
        except AlreadyFollowingError:
            found = self.feed_service.feeds.get(canonical_url(url))
            if found is None or caller.platform == "terminal":
                return problem(f"Couldn't follow {url}: I already follow that feed.")
            feed = found
        except FollowError as exc:
            return problem(f"Couldn't follow {url}: {exc}")
        if caller.platform != "terminal":
            watch, _ = self.watch_service.feed(
                caller.platform, channel or caller.channel, feed.id, words
            )
            where = f"in <#{channel}>" if channel else "here"
            lines.append(f"New entries will be posted {where} ({watch.label}).")
        return _changed(tuple(lines))

    def alert(self, caller: Caller, words: str) -> Notice:
        if refusal := self.refusal("alert", caller):
            return refusal
        try:
            watch, new = self.watch_service.alert(caller.platform, caller.channel, words)
        except WatchError as exc:
            return problem(str(exc))
        if not new:
            return Notice((f"This channel already has {watch.label}.",))
        return _changed(
            (f"Set {watch.label}: each new article about it will be posted here once.",)
        )

    def alerts(self, caller: Caller) -> Notice:
        watches = self.watch_service.store.of_channel(caller.platform, caller.channel)
        if not watches:
            return Notice(("No alerts or feeds post here. Set one with alert <words>.",))
        return Notice(tuple(watch.label for watch in watches))

    def unalert(self, caller: Caller, ref: str) -> Notice:
        if refusal := self.refusal("unalert", caller):
            return refusal
        if not ref.strip().isdigit():
            return problem("Give the id alerts shows, e.g. unalert 3")
        if not self.watch_service.store.remove(caller.platform, caller.channel, int(ref)):
            return problem(f"This channel has no alert or feed {ref.strip()} (see alerts).")
        return _changed((f"Stopped alert {ref.strip()}.",))

    def unfollow(self, caller: Caller, url: str) -> Notice:
        if refusal := self.refusal("unfollow", caller):
            return refusal
        url = url.strip()
        if not self.feed_service.unfollow(url):
            return problem(f"I don't follow {url or 'that'} — see feeds for the list.")
        return _changed((f"Stopped following {url}; its articles stay.",))

    def feeds(self) -> Notice:
        feeds = self.feed_service.followed()
        if not feeds:
            return Notice(("No feeds followed yet. Add one with follow <feed url>.",))
        return Notice(tuple(f"{f.title or f.url} — {f.url}" for f in feeds))
