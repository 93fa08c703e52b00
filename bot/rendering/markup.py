"""Quoted passages in chat markup (Slack mrkdwn, Discord markdown): the answering sentence
bold, the passage trimmed around it until the marked-up text fits the platform's limit."""

from __future__ import annotations

from collections.abc import Callable

from bot.rendering.limits import Excerpt, excerpt, fit
from bot.services.ask import Quote


def bold_lines(text: str, marker: str) -> str:
    """Chat bold must hug non-blank characters and cannot span lines, so mark each line."""
    lines = []
    for line in text.split("\n"):
        core = line.strip()
        lead = line[: len(line) - len(line.lstrip())]
        lines.append(
            f"{lead}{marker}{core}{marker}{line[len(lead) + len(core) :]}" if core else line
        )
    return "\n".join(lines)


def _marked(part: Excerpt, escape: Callable[[str], str], marker: str) -> str:
    out, cursor = [], 0
    for start, end in part.highlights:
        out += [escape(part.text[cursor:start]), bold_lines(escape(part.text[start:end]), marker)]
        cursor = end
    out.append(escape(part.text[cursor:]))
    return "".join(out)


def quoted(
    quote: Quote, limit: int, *, escape: Callable[[str], str], marker: str, prefix: str
) -> str:
    """Every line of the passage behind ``prefix`` (the quote mark), at most ``limit`` long.

    Escaping and markup lengthen the text unpredictably, so the trim is repeated with a smaller
    budget until the result fits.
    """
    budget = limit = max(limit, 1)
    while True:
        marked = _marked(excerpt(quote.text, quote.highlights, budget), escape, marker)
        body = "\n".join(prefix + line for line in marked.split("\n"))
        if len(body) <= limit or budget <= 100:
            return fit(body, limit)
        budget -= len(body) - limit + 20
