"""Text commands: Slack's ``/brief …`` and the terminal's lines, parsed into typed commands."""

from __future__ import annotations

import difflib
import re
from datetime import datetime

from bot.commands import PERMISSIONS, Commands, Conversation
from bot.replies import Caller, Reply, problem
from bot.subscriptions import SubscriptionError, schedule_words, split_topics
from retrieval.window import split_period

# A channel as Slack (<#C0123|news>) and Discord (<#123456>) write one in a message.
_CHANNEL = re.compile(r"<#([A-Za-z0-9]+)(?:\|[^>]*)?>")


def channel_and_words(text: str) -> tuple[str | None, str]:
    """``[#channel] [words…]``: the channel named first, if any, and the words after it."""
    first, _, rest = text.strip().partition(" ")
    if match := _CHANNEL.fullmatch(first):
        return match.group(1), rest.strip()
    return None, text.strip()


def command_name(text: str) -> str:
    """The command a text names ("help" when empty), or "" for a question."""
    words = text.split()
    if not words:
        return "help"
    name = words[0].lower()
    return name if name in PERMISSIONS else ""


def mistyped_command(word: str) -> str | None:
    """The command a single word is a likely typo of ("subscibe"), if any."""
    close = difflib.get_close_matches(word.lower(), PERMISSIONS, n=1, cutoff=0.8)
    return close[0] if close else None


def run(
    commands: Commands,
    text: str,
    caller: Caller,
    *,
    now: datetime | None = None,
    conversation: Conversation | None = None,
) -> Reply:
    """``<name> <arguments>``, or a bare question. A single word is a question too ("sheep"),
    unless it is a near miss of a command's name, when the command list says what was meant."""
    words = text.split()
    name = command_name(text)
    rest = text.strip()[len(words[0]) :].strip() if words else ""
    match name:
        case "help":
            return commands.help()
        case "":
            if len(words) == 1 and (meant := mistyped_command(words[0])):
                return commands.help(intro=f"Did you mean “{meant}”?")
            return commands.ask(text, caller=caller, now=now, conversation=conversation)
        case "ask":
            return commands.ask(rest, caller=caller, now=now, conversation=conversation)
        case "today":
            return commands.briefing(caller, topics=split_topics(rest.split()), now=now)
        case "briefing":
            day, topics = split_period(rest.split())
            return commands.briefing(caller, day=day, topics=split_topics(topics), now=now)
        case "story":
            return commands.story(rest, caller=caller)
        case "subscribe":
            if refusal := commands.refusal(name, caller):
                return refusal
            try:
                parts = schedule_words(rest.split())
            except SubscriptionError as exc:
                return problem(str(exc))
            return commands.subscribe(
                caller,
                time=parts.time,
                timezone=parts.timezone,
                days=parts.days,
                topics=parts.topics,
                now=now,
            )
        case "unsubscribe":
            return commands.unsubscribe(caller)
        case "subscriptions":
            return commands.subscriptions(caller, now=now)
        case "add":
            # One word is a web address; more is pasted text whose first line is the title.
            if len(rest.split()) <= 1:
                return commands.add_url(caller, rest)
            return commands.add_text(caller, text=rest)
        case "follow":
            url, _, more = rest.partition(" ")
            channel, about = channel_and_words(more)
            return commands.follow(caller, url, channel=channel, words=about)
        case "alert":
            return commands.alert(caller, rest)
        case "alerts":
            return commands.alerts(caller)
        case "unalert":
            return commands.unalert(caller, rest)
        case "unfollow":
            return commands.unfollow(caller, rest)
        case "feeds":
            return commands.feeds()
        case "articles":
            return commands.articles(rest)
        case "remove":
            return commands.remove(caller, rest)
        case "sources":
            return commands.sources(caller, rest)
    return commands.help()


def converse(
    commands: Commands,
    text: str,
    caller: Caller,
    *,
    now: datetime | None = None,
    conversation: Conversation | None = None,
) -> Reply:
    """A message to the bot (a mention or a DM): help when asked for, else a question, read
    as a follow-up when ``conversation`` had one before it."""
    if text.strip().lower().lstrip("/") in {"", "help"}:
        return commands.help()
    return commands.ask(text, caller=caller, now=now, conversation=conversation)
