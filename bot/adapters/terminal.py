"""The terminal adapter: a chat loop on stdin/stdout with the same commands as Slack and Discord."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from rich.console import Console, RenderableType
from rich.text import Text

from bot.adapters import text as text_commands
from bot.commands import Commands
from bot.rendering.terminal import render_answer, render_briefing, safe
from bot.replies import Caller, Help, Notice, Reply
from bot.services.ask import Answer
from corpus.model import parse_instant

# The person at the terminal runs the bot, so they may change what it knows.
LOCAL = Caller(platform="terminal", channel="terminal", user="local", trusted=True)
INTRO = (
    "Ask a question about the news, e.g. “What did Kim Jong Un inspect in Vladivostok?” — "
    "or type help for the commands, quit to leave."
)


def render_help(help_: Help) -> Text:
    text = Text()
    if help_.intro:
        text.append(f"{help_.intro} Here is what I can do:\n", style="italic")
    for usage in help_.usages:
        text.append(f"{usage.name} {usage.args}".strip(), style="bold")
        text.append(f"  {usage.summary}")
        if usage.example:
            text.append(f" — e.g. {usage.name} {usage.example}", style="dim")
        text.append("\n")
    text.append("now <date-time>", style="bold")
    text.append("  answer as of that moment (now off: the current time)")
    text.append(" — e.g. now 2005-07-08T09:00", style="dim")
    text.append("\nquit", style="bold")
    text.append("  leave (or Ctrl-D)")
    return text


def reference_time(argument: str, current: datetime | None) -> tuple[datetime | None, Text]:
    """The terminal's ``now`` command: set, clear or show the reference time."""
    if argument.lower() in {"off", "reset", "clear"}:
        return None, Text("Answering as of the current time again.")
    if argument:
        try:
            current = parse_instant(argument)
        except ValueError as exc:
            return current, Text(f"{exc}; the reference time is unchanged.", style="red")
    if current is None:
        return None, Text("Answering as of the current time.")
    return current, Text(f"Answering as of {current.isoformat(timespec='minutes')}.")


def paste(console: Console, read: Callable[[str], str]) -> str | None:
    """A multi-line article typed or pasted after ``add``, up to an empty line; None when the
    input ends (Ctrl-D) before that."""
    console.print("Paste the article — its title on the first line — then an empty line:")
    lines: list[str] = []
    while True:
        try:
            line = read("")
        except (EOFError, KeyboardInterrupt):
            return "\n".join(lines) if lines else None
        if not line.strip():
            return "\n".join(lines)
        lines.append(line)


def render_reply(reply: Reply) -> RenderableType:
    if isinstance(reply, Answer):
        return render_answer(reply)
    if isinstance(reply, Help):
        return render_help(reply)
    if isinstance(reply, Notice):
        return Text(safe(reply.text), style="red" if reply.problem else "")
    return render_briefing(reply)


def chat(
    commands: Commands,
    *,
    console: Console,
    read: Callable[[str], str] = input,
    now: datetime | None = None,
) -> None:
    console.print(f"[bold]briefbot[/bold] — {INTRO}")
    # One conversation per session: a follow-up refers to this session's last answer only.
    session = ("terminal", uuid.uuid4().hex)
    while True:
        try:
            line = read("\nyou › ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not line:
            continue
        if line.lower() in {"quit", "exit", "/quit", "/exit"}:
            return
        command = line.removeprefix("/")
        name, _, argument = command.partition(" ")
        if name.lower() == "now":
            now, said = reference_time(argument.strip(), now)
            console.print(said)
            continue
        if name.lower() == "add" and not argument.strip():
            pasted = paste(console, read)
            if pasted is None:
                return
            command = f"add {pasted}" if pasted else "add"
        reply = text_commands.run(commands, command, LOCAL, now=now, conversation=session)
        console.print(render_reply(reply))
