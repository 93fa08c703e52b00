"""The ``briefbot`` command: ingest, ask, chat, stats and run."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from bot import logs
from bot.adapters import terminal
from bot.commands import with_latest
from bot.migration import migrate as migrate_store
from bot.rendering.terminal import (
    render_answer,
    render_briefing,
    render_ingest_report,
)
from bot.replies import Notice, following, poll_summary
from bot.scheduler import background_thread
from bot.serve import NO_PLATFORM, Listen, check, serve
from bot.services.ask import QuestionError, validate_question
from bot.services.feeds import PollResult
from bot.services.ingest import IngestReport
from bot.settings import BriefingSettings, Settings, SettingsError, load_settings
from bot.subscriptions import describe, from_words, next_fire
from bot.timezones import UnknownTimezoneError, find_timezone
from bot.wiring import Briefbot
from corpus.errors import BriefbotError
from corpus.model import parse_instant, running_from, utcnow
from retrieval.window import PERIODS, Window, period_days

app = typer.Typer(
    name="briefbot",
    help="A news-briefing chatbot that answers with verbatim quotes from your articles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Help is plain text: Rich markup would swallow every "[…]" written in it, such as the
    # optional parts of a schedule ("HH:MM Area/City [days] [topics…]").
    rich_markup_mode=None,
    # Wide terminals get whole first lines of the commands' help in `briefbot --help`.
    context_settings={"max_content_width": 120},
)
console = Console()
errors = Console(stderr=True)

# Options that stand for a setting read its variable too, so that help can name it; the value
# then reaches load_settings as an override, which keeps the order: option, variable, .env file,
# default. The defaults shown are the settings' own.
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="BRIEFBOT_DATA_DIR",
        show_envvar=True,
        show_default=str(Settings.model_fields["data_dir"].default),
        help="Where the store and indexes live.",
    ),
]

T = TypeVar("T")
MAX_QUOTES = 20


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"briefbot {version('briefbot')}")
        raise typer.Exit


@app.callback()
def _options(
    _: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """The options of ``briefbot`` itself, given before any command."""


class UserError(BriefbotError):
    """Anything the person can fix; printed as one line, never a traceback."""


class BarProgress:
    """A terminal progress bar for the indexer."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._task: Any = None

    def start(self, total: int, description: str) -> None:
        if total:
            self._task = self._bar.add_task(description, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, amount)


@contextmanager
def progress_bar() -> Iterator[BarProgress]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=errors, transient=False) as bar:
        yield BarProgress(bar)


def _settings(data_dir: Path | None, *, bulk: bool = False) -> Settings:
    """The settings, with logging configured; ``bulk`` work (ingest) embeds on every core."""
    settings = load_settings(**({"data_dir": data_dir} if data_dir else {}))
    if bulk:
        settings = settings.model_copy(update={"embedding": settings.embedding.with_bulk_threads()})
    logs.configure(
        level=settings.log_level,
        json_lines=settings.log_format == "json",
        secrets=settings.secrets(),
    )
    return settings


def _guarded(action: Callable[[], T]) -> T:
    """Run a command, turning the errors a person can fix into one line on stderr."""
    try:
        return action()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except BriefbotError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _instant(option: str, value: str | None) -> datetime | None:
    """An ISO date or date-time given as ``option``; one without a timezone is taken as UTC."""
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None


def parse_now(value: str | None) -> datetime | None:
    return _instant("--now", value)


def _ready(bot: Briefbot) -> None:
    with progress_bar() as progress:
        embedded = bot.prepare(progress=progress)
    if embedded:
        errors.print(f"Embedded {embedded} passages that had no vector for this model yet.")


@app.command()
def ingest(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="URLs, files or directories (read recursively)."),
    ] = None,
    text: Annotated[
        str | None,
        typer.Option(
            "--text", help="Pasted article text; its first line is the title unless --title."
        ),
    ] = None,
    title: Annotated[str | None, typer.Option(help="The --text article's title.")] = None,
    source: Annotated[str | None, typer.Option(help="The --text article's source.")] = None,
    date: Annotated[
        str | None,
        typer.Option("--date", help="When the --text article was published (ISO; default: now)."),
    ] = None,
    url: Annotated[str | None, typer.Option(help="The --text article's address.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Add articles from URLs, pasted text, or txt, md, html, json, jsonl and pdf files."""

    def run() -> None:
        if not sources and text is None:
            raise UserError("give URLs, files or directories to ingest, or --text")
        if text is None and (title or source or date or url):
            raise UserError("--title, --source, --date and --url describe a --text article")
        published = _instant("--date", date)
        bot = Briefbot(_settings(data_dir, bulk=True))
        _ready(bot)
        report = IngestReport()
        if text is not None:
            report = bot.ingest_service.ingest_text(
                text, title=title, source=source, published_at=published, url=url
            )
        if sources:
            with progress_bar() as progress:
                found = bot.ingest_service.ingest_sources(sources, progress=progress)
            report.extend(found)
        if report.failures and not report.added and not report.duplicates:
            errors.print(render_ingest_report(report), soft_wrap=True)
            raise typer.Exit(1)
        console.print(render_ingest_report(report))

    _guarded(run)


articles_app = typer.Typer(help="List the stored articles, or remove one.")
app.add_typer(articles_app, name="articles")


@articles_app.callback(invoke_without_command=True)
def articles(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="Only articles added since then (ISO date or date-time).")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only articles from this source.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    data_dir: DataDir = None,
) -> None:
    """The newest articles first: id, title, source, date and URL."""
    if ctx.invoked_subcommand is not None:
        return

    def run() -> None:
        store = Briefbot(_settings(data_dir)).store
        found = store.recent(since=_instant("--since", since), source=source, limit=limit)
        if as_json:
            print(json.dumps([a.listing() for a in found], ensure_ascii=False))
            return
        if not found:
            console.print("No articles match.")
        for article in found:
            when = f"{article.published_at:%Y-%m-%d}" if article.published_at else "undated"
            console.print(
                f"{article.id:>6}  {when}  {article.title}  ({article.source or 'no source'})"
                + (f"  {article.url}" if article.url else ""),
                markup=False,
                soft_wrap=True,
            )

    _guarded(run)


@articles_app.command("remove")
def articles_remove(
    refs: Annotated[list[str], typer.Argument(help="Article ids or URLs.")],
    data_dir: DataDir = None,
) -> None:
    """Delete articles from the store and both search indexes."""

    def run() -> None:
        bot = Briefbot(_settings(data_dir))
        for ref in refs:
            removed = bot.ingest_service.remove(ref)
            console.print(f"removed  {removed.id}  {removed.title}", markup=False)

    _guarded(run)


feeds_app = typer.Typer(help="Follow RSS and Atom feeds.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")


@feeds_app.command("add")
def feeds_add(url: str, data_dir: DataDir = None) -> None:
    """Follow a feed and ingest its current entries."""

    def run() -> None:
        bot = Briefbot(_settings(data_dir, bulk=True))
        _ready(bot)
        result = bot.feed_service.follow(url)
        console.print(following(result), markup=False)
        console.print(poll_summary(result), markup=False)

    _guarded(run)


@feeds_app.command("import")
def feeds_import(
    path: Annotated[Path, typer.Argument(help="An OPML file, as feed readers export.")],
    data_dir: DataDir = None,
) -> None:
    """Follow every feed an OPML file lists, ingesting each one's current entries."""

    def run() -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UserError(f"{path}: {exc.strerror or exc}") from None
        bot = Briefbot(_settings(data_dir, bulk=True))
        _ready(bot)
        with progress_bar() as bar:
            imported = bot.feed_service.import_opml(data, progress=bar)
        for result in imported.followed:
            console.print(poll_summary(result), markup=False)
        for url in imported.already_followed:
            console.print(f"{url}: already followed", markup=False)
        for failure in imported.failures:
            errors.print(f"{failure.origin}: {failure.reason}", markup=False)
        console.print(imported.summary(), markup=False)
        if imported.failures and not imported.followed:
            raise typer.Exit(1)

    _guarded(run)


@feeds_app.command("export")
def feeds_export(
    path: Annotated[
        Path | None, typer.Argument(help="Where to write the OPML file (default: print it).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Write the followed feeds as an OPML file that feed readers import."""

    def run() -> None:
        data = Briefbot(_settings(data_dir)).feed_service.export_opml()
        if path is None:
            sys.stdout.write(data.decode("utf-8"))
            return
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise UserError(f"{path}: {exc.strerror or exc}") from None

    _guarded(run)


@feeds_app.command("remove")
def feeds_remove(url: str, data_dir: DataDir = None) -> None:
    """Stop following a feed (its articles stay)."""

    def run() -> None:
        # The feed table alone: the feed service would load the model for its ingester.
        if not Briefbot(_settings(data_dir)).feeds.remove(url):
            raise UserError(f"not following {url}")
        console.print(f"Stopped following {url}", markup=False)

    _guarded(run)


@feeds_app.command("list")
def feeds_list(data_dir: DataDir = None) -> None:
    """Show the followed feeds."""

    def run() -> None:
        # The feed table alone: the feed service would load the model for its ingester.
        feeds = Briefbot(_settings(data_dir)).feeds.list()
        if not feeds:
            console.print("No feeds followed yet — add one with: briefbot feeds add URL")
        for feed in feeds:
            polled = (
                feed.last_polled_at.isoformat(timespec="minutes")
                if feed.last_polled_at
                else "never"
            )
            console.print(f"{feed.url}  {feed.title or ''}  (last polled {polled})", markup=False)

    _guarded(run)


@feeds_app.command("poll")
def feeds_poll(data_dir: DataDir = None) -> None:
    """Poll every followed feed once and ingest new entries."""

    def run() -> None:
        bot = Briefbot(_settings(data_dir, bulk=True))
        _ready(bot)
        for result in bot.feed_service.poll_all():
            console.print(poll_summary(result), markup=False)

    _guarded(run)


def _answer_line(
    bot: Briefbot, line: str, *, now: datetime | None, k: int | None
) -> dict[str, Any]:
    """One line of the stdin protocol: plain text, or ``{"question": …, "now": …}``."""
    question, when = line, now
    if line.lstrip().startswith("{"):
        try:
            request = json.loads(line)
            question = str(request["question"])
            when = parse_now(request.get("now")) or now
        except (ValueError, KeyError, TypeError, AttributeError, UserError) as exc:
            return {"error": f"bad request line: {exc}"}
    try:
        return bot.ask_service.ask(question, now=when, k=k).to_dict()
    except (QuestionError, UserError) as exc:
        return {"question": question, "error": str(exc)}


@app.command()
def ask(
    question: Annotated[
        str | None, typer.Argument(help="The question; omit it to read one per line from stdin.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    now: Annotated[
        str | None, typer.Option(help="Reference time (ISO), instead of the current time.")
    ] = None,
    k: Annotated[int | None, typer.Option("--k", help="How many quotes (1-20).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Answer a question with quoted passages from the stored articles."""

    def run() -> None:
        settings = _settings(data_dir)
        reference = parse_now(now)
        if k is not None and not 1 <= k <= MAX_QUOTES:
            raise UserError(f"--k: ask for 1 to {MAX_QUOTES} quotes, not {k}")
        if question is not None:
            validate_question(question, max_chars=settings.retrieval.max_question_chars)
        bot = Briefbot(settings)
        bot.require_articles()
        _ready(bot)
        if question is None:
            # One undecodable line must not end the batch; it is answered like any other.
            if isinstance(sys.stdin, io.TextIOWrapper):
                sys.stdin.reconfigure(errors="replace")
            for line in sys.stdin:
                if line.strip():
                    print(json.dumps(_answer_line(bot, line, now=reference, k=k)), flush=True)
            return
        answer = bot.ask_service.ask(question, now=reference, k=k)
        if as_json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        else:
            console.print(render_answer(answer))

    _guarded(run)


def _load(bot: Briefbot, *, terminal: bool) -> None:
    """First start: index the sample corpus; every start: make sure the indexes are current."""
    with progress_bar() as progress:
        report = bot.load_samples_if_empty(terminal=terminal, progress=progress)
        if report is not None:
            errors.print(f"Indexed the sample corpus: {report.summary()}")
        bot.prepare(progress=progress)


def _start_terminal(bot: Briefbot, *, now: datetime | None = None) -> None:
    _load(bot, terminal=True)
    bot.require_articles()
    with background_thread(
        bot.background(
            senders={"terminal": lambda _, reply: console.print(terminal.render_reply(reply))},
            announce=partial(_print_poll, console),
        )
    ):
        terminal.chat(bot.commands, console=console, now=now)


def _print_poll(out: Console, result: PollResult) -> None:
    out.print(Text(poll_summary(result), style="dim"))


@app.command()
def chat(
    now: Annotated[
        str | None,
        typer.Option(help="Reference time (ISO) for questions like “what happened yesterday?”."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Chat in the terminal (indexes the sample corpus on first start)."""

    def start() -> None:
        reference = parse_now(now)
        _start_terminal(Briefbot(_settings(data_dir)), now=reference)

    _guarded(start)


@app.command()
def run(
    slack_http: Annotated[
        bool,
        typer.Option(
            "--slack-http", help="Take Slack's requests at POST /slack/events (not Socket Mode)."
        ),
    ] = False,
    host: Annotated[str, typer.Option(help="Address of the --slack-http server.")] = "0.0.0.0",
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the --slack-http server.")
    ] = 3000,
    now: Annotated[
        str | None,
        typer.Option(
            help="Run the bot's clock from this time (ISO) on: an old corpus served as if it"
            " were then, or a briefing schedule rehearsed."
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Start Slack and/or Discord as configured; the terminal chat when neither is."""

    def start() -> None:
        reference = parse_now(now)
        clock = running_from(reference) if reference else utcnow
        bot = Briefbot(_settings(data_dir), clock=clock)
        listen = Listen(host=host, port=port) if slack_http else None
        check(bot, slack_http=listen)
        if not (bot.settings.slack.enabled or bot.settings.discord.enabled):
            if not sys.stdin.isatty():  # a container or service: the chat would read EOF and end
                raise SettingsError(NO_PLATFORM)
            _start_terminal(bot)
            return
        _load(bot, terminal=False)  # an empty store is fine: people can add articles from chat
        try:
            asyncio.run(serve(bot, slack_http=listen))
        except ConnectionError as exc:
            raise UserError(str(exc)) from None

    _guarded(start)


@app.command()
def brief(
    day: Annotated[
        str | None,
        typer.Option("--date", help=f"The day or week to brief on: {PERIODS} (default today)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="The first day to brief on, as for --date; both ends are included."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="The last day of a --since briefing (default today)."),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            envvar="BRIEFBOT_BRIEFING__TIMEZONE",
            show_envvar=True,
            show_default=BriefingSettings.model_fields["timezone"].default,
            help="IANA timezone of those days, such as Europe/London (any case).",
        ),
    ] = None,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", help="Keep stories about this (repeatable).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            envvar="BRIEFBOT_BRIEFING__STORIES",
            show_envvar=True,
            show_default=str(BriefingSettings.model_fields["stories"].default),
            help="Most stories.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    data_dir: DataDir = None,
) -> None:
    """The stories of a day, a week or any run of days: duplicates clustered, each with key
    quotes and sources."""

    def run() -> None:
        settings = _settings(data_dir)
        zone = _timezone(tz or settings.briefing.timezone)
        if limit is not None and limit < 1:
            raise UserError(f"--limit: ask for at least one story, not {limit}")
        today = datetime.now(zone).date()
        window = _brief_window(day=day, since=since, until=until, today=today, tz=zone)
        bot = Briefbot(settings)
        bot.require_articles()
        _ready(bot)
        briefing = bot.briefing_service.brief(
            window,
            topics=topic or (),
            limit=settings.briefing.stories if limit is None else limit,
        )
        briefing = with_latest(briefing, bot.store, retry="--date")
        if as_json:
            print(json.dumps(briefing.to_dict(), ensure_ascii=False, indent=2))
            if not briefing.stories:
                typer.echo(briefing.empty_note, err=True)
        else:
            console.print(render_briefing(briefing))

    _guarded(run)


@app.command()
def story(
    words: Annotated[str, typer.Argument(help='Which story, e.g. "London bombings".')],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    data_dir: DataDir = None,
) -> None:
    """One story's timeline across days: each article with its most telling sentence."""

    def run() -> None:
        bot = Briefbot(_settings(data_dir))
        bot.require_articles()
        _ready(bot)
        reply = bot.commands.story(words)
        if isinstance(reply, Notice):
            raise UserError(" ".join(reply.lines))
        if as_json:
            print(json.dumps(reply.to_dict(), ensure_ascii=False, indent=2))
        else:
            console.print(render_briefing(reply))

    _guarded(run)


def _brief_window(
    *, day: str | None, since: str | None, until: str | None, today: date, tz: ZoneInfo
) -> Window:
    """The days ``brief`` was asked for: ``--date``, or ``--since`` to ``--until``."""
    if day is not None and (since is not None or until is not None):
        raise UserError("use --date for one day or week, or --since and --until, not both")
    if since is None:
        if until is not None:
            raise UserError("--until needs --since, e.g. --since 2005-07-04 --until 2005-07-10")
        first, last = _period_days("--date", day or "today", today)
    else:
        first, _ = _period_days("--since", since, today)
        _, last = _period_days("--until", until or "today", today)
        if first > last:
            raise UserError(
                f"--since ({first}) is after --until ({last}); give the earlier day first"
            )
    return Window.days(first, last=last, tz=tz)


def _period_days(option: str, value: str, today: date) -> tuple[date, date]:
    days = period_days(value, today=today)
    if days is None:
        raise UserError(f"{option}: {value!r} is not a day I know — use {PERIODS}")
    return days


subscriptions_app = typer.Typer(help="Schedule daily briefings for channels.", no_args_is_help=True)
app.add_typer(subscriptions_app, name="subscriptions")
Platform = Annotated[str, typer.Option(help="slack, discord or terminal.")]
Channel = Annotated[str, typer.Option(help="The channel id (any name for the terminal).")]


@subscriptions_app.command("add")
def subscriptions_add(
    schedule: Annotated[
        list[str],
        typer.Argument(help="HH:MM Area/City [daily|weekdays|weekends|mon,wed] [topics…]"),
    ],
    platform: Platform = "terminal",
    channel: Channel = "terminal",
    data_dir: DataDir = None,
) -> None:
    """Post a briefing to a channel every scheduled day (replaces its schedule if it has one)."""

    def run() -> None:
        bot = Briefbot(_settings(data_dir))
        subscription = bot.subscriptions.subscribe(
            from_words(schedule, platform=platform, channel=channel, now=datetime.now(UTC))
        )
        console.print(f"{platform}:{channel} — {describe(subscription)}")

    _guarded(run)


@subscriptions_app.command("remove")
def subscriptions_remove(
    platform: Platform = "terminal", channel: Channel = "terminal", data_dir: DataDir = None
) -> None:
    """Stop a channel's scheduled briefings."""

    def run() -> None:
        if not Briefbot(_settings(data_dir)).subscriptions.unsubscribe(platform, channel):
            raise UserError(f"{platform}:{channel} has no scheduled briefing")
        console.print(f"{platform}:{channel} unsubscribed")

    _guarded(run)


@subscriptions_app.command("list")
def subscriptions_list(data_dir: DataDir = None) -> None:
    """Show every channel's schedule and when it next fires."""

    def run() -> None:
        subs = Briefbot(_settings(data_dir)).subscriptions.all()
        if not subs:
            console.print("No scheduled briefings — add one with: briefbot subscriptions add")
        now = datetime.now(UTC)
        for sub in subs:
            upcoming = f"{next_fire(sub, now).astimezone(sub.zone):%Y-%m-%d %H:%M %Z}"
            console.print(f"{sub.platform}:{sub.channel} — {describe(sub)} (next {upcoming})")

    _guarded(run)


def _timezone(name: str) -> ZoneInfo:
    try:
        return find_timezone(name)
    except UnknownTimezoneError as exc:
        raise UserError(f"--tz: {exc}") from None


@app.command()
def migrate(
    to: Annotated[
        str, typer.Option("--to", help="The PostgreSQL database: postgresql://user:pw@host/db.")
    ],
    data_dir: DataDir = None,
) -> None:
    """Copy the SQLite store of the data directory into PostgreSQL — articles, vectors (not
    embedded again), feeds, subscriptions, deliveries — and report what the copy holds."""

    def run() -> None:
        settings = _settings(data_dir).model_copy(update={"database_url": None})
        source = Briefbot(settings)
        source.require_articles()
        if not to.startswith(("postgresql://", "postgres://")):
            raise UserError("--to takes a postgresql:// URL")
        with progress_bar() as bar:
            target, counts = migrate_store(source, to, progress=bar)
        for table, count in counts.items():
            console.print(f"{table + ':':<22}{count}")
        console.print(
            f"Copied into {target.store.name}: set BRIEFBOT_DATABASE_URL to use it.",
            markup=False,
            soft_wrap=True,
        )

    _guarded(run)


@app.command()
def feedback(
    since: Annotated[
        str | None, typer.Option(help="Only answers given since then (ISO date or date-time).")
    ] = None,
    export: Annotated[
        bool,
        typer.Option(
            "--export",
            help="Print the voted answers as JSON lines shaped like the evaluation questions.",
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """What people thought of the answers: 👍 / 👎 votes from Slack and Discord."""

    def run() -> None:
        store = Briefbot(_settings(data_dir)).feedback
        start = _instant("--since", since)
        if export:
            for record in store.export(since=start):
                print(json.dumps(record, ensure_ascii=False))
            return
        summary = store.summary(since=start)
        console.print(
            f"answers with buttons: {summary.answers}\n👍 {summary.up}   👎 {summary.down}",
            markup=False,
        )
        if summary.worst:
            console.print("least liked:", markup=False)
        for rated in summary.worst:
            console.print(
                f"  👍 {rated.up} 👎 {rated.down}  {rated.question}", markup=False, soft_wrap=True
            )

    _guarded(run)


@app.command()
def stats(
    check: Annotated[
        bool,
        typer.Option("--check", help="Also verify the store file and the keyword index (slower)."),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Show what the store holds and whether its indexes are complete."""

    def run() -> None:
        bot = Briefbot(_settings(data_dir))
        bot.require_articles()
        health = bot.health(check=check)
        latest = bot.store.latest_published()
        console.print(f"data directory: {bot.settings.data_dir}")
        console.print(f"articles:       {health.articles}")
        console.print(f"passages:       {health.passages}")
        console.print(f"latest article: {latest.date().isoformat() if latest else 'undated'}")
        for model, count in health.vectors.items():
            console.print(f"vectors:        {count} of {health.passages} ({model})")
        console.print(f"keyword index:  {health.keywords} of {health.passages}")
        for problem in health.problems:
            errors.print(f"problem: {problem}", markup=False, highlight=False)
        if check:
            console.print("check:          " + ("problems found" if health.problems else "healthy"))
        if health.problems:
            raise typer.Exit(1)

    _guarded(run)


def main() -> None:
    # Process-wide, so set at the entry point: loading bars and warnings from the model
    # libraries would garble the terminal chat and JSON output.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    app()
