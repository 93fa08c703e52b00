"""The terminal adapter: a chat loop on stdin/stdout over the same services as Slack and Discord."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.console import Console

from bot.rendering.terminal import render_answer
from bot.services.ask import AskService, QuestionError

HELP = """Ask a question about the news, e.g. “What did Kim Jong Un inspect in Vladivostok?”
Commands: help — this text · quit — leave (or Ctrl-D)"""


def chat(
    service: AskService,
    *,
    console: Console,
    read: Callable[[str], str] = input,
    now: datetime | None = None,
) -> None:
    console.print(f"[bold]briefbot[/bold] — {HELP}")
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
        if line.lower() in {"help", "/help", "?"}:
            console.print(HELP)
            continue
        try:
            console.print(render_answer(service.ask(line, now=now)))
        except QuestionError as exc:
            console.print(f"[red]{exc}[/red]")
