"""Slack rendering: Block Kit payloads (pure data), split to stay inside Slack's limits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.rendering.limits import fit, take_whole
from bot.rendering.markup import quoted
from bot.replies import Help, Notice, Reply, format_date
from bot.services.ask import Answer, Quote
from bot.services.briefing import Briefing, Story
from corpus.model import Article, safe_url

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_CONTEXT = 2000
MAX_TEXT = 3000

Block = dict[str, Any]
Message = dict[str, Any]


def escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(title: str, url: str | None) -> str:
    label = escape(title).replace("|", "¦")
    url = safe_url(url)
    return f"<{escape(url)}|{label}>" if url else label


def source_line(title: str, source: str | None, published: datetime | None, url: str | None) -> str:
    """source · date · <url|title>, the line under every quote."""
    named = escape(source or "unknown source")
    return f"{named} · {format_date(published)} · {link(title, url)}"


def _source_line(article: Article) -> str:
    return source_line(article.title, article.source, article.published_at, article.url)


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit(text, MAX_SECTION)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(text, MAX_CONTEXT)}]}


def quote_text(quote: Quote) -> str:
    return quoted(quote, MAX_SECTION, escape=escape, marker="*", prefix=">")


FEEDBACK_ACTIONS = ("feedback_up", "feedback_down")
"""The action ids of the 👍 and 👎 buttons; each button's value is the rated answer's id."""


def feedback_block(answer_id: str) -> Block:
    buttons = [
        {
            "type": "button",
            "action_id": action,
            "text": {"type": "plain_text", "text": label, "emoji": True},
            "value": answer_id,
            "accessibility_label": f"This answer was {meaning}",
        }
        for action, label, meaning in zip(
            FEEDBACK_ACTIONS, ("👍", "👎"), ("helpful", "not helpful"), strict=True
        )
    ]
    return {"type": "actions", "block_id": "feedback", "elements": buttons}


def answer_message(answer: Answer, *, restate: bool = False, rating: str | None = None) -> Message:
    """An answer as one message; ``restate`` repeats the question (slash commands hide it),
    and an answer recorded for ``rating`` ends with its 👍 / 👎 buttons."""
    asked = f"*Q:* {escape(answer.question)}"
    blocks: list[Block] = [section(asked)] if restate else []
    if not answer.found:
        note = answer.note or ""
        blocks.append(section(escape(note)))
        return _plain_message(note, blocks)
    if answer.note:
        blocks.append(context(f"_{escape(answer.note)}_"))
    for quote in answer.quotes[: (MAX_BLOCKS - len(blocks) - 1) // 2]:
        byline = source_line(quote.title, quote.source, quote.published_at, quote.url)
        if quote.outside_window:
            byline += " · _outside the period asked about_"
        blocks += [section(quote_text(quote)), context(byline)]
    if rating is not None:
        blocks.append(feedback_block(rating))
    best = answer.quotes[0]
    fallback = f"{answer.question} — “{best.highlight}” ({best.source or best.title})"
    return _plain_message(fallback, blocks)


def notice_message(notice: Notice) -> Message:
    text = ("⚠️ " if notice.problem else "") + notice.text
    return _plain_message(text, [section(escape(text))])


def help_message(help_: Help, *, command: str) -> Message:
    lines = [f"*{escape(help_.intro)}* Here is what I can do:"] if help_.intro else []
    for usage in help_.usages:
        call = f"{command} {usage.name} {usage.args}".strip()
        example = f" — e.g. `{command} {usage.name} {usage.example}`" if usage.example else ""
        lines.append(f"`{escape(call)}` {escape(usage.summary)}{escape(example)}")
    lines.append(f"Or just `{command} <question>`, mention me, or send me a file to add.")
    text = "\n".join(lines)
    return _plain_message(help_.intro or "briefbot commands", [section(text)])


def reply_messages(
    reply: Reply, *, command: str, restate: bool = False, rating: str | None = None
) -> list[Message]:
    """Any command's reply as ``chat.postMessage`` payloads (``rating``: see answer_message)."""
    if isinstance(reply, Answer):
        return [answer_message(reply, restate=restate, rating=rating)]
    if isinstance(reply, Briefing):
        return briefing_messages(reply)
    if isinstance(reply, Help):
        return [help_message(reply, command=command)]
    return [notice_message(reply)]


def _plain_message(text: str, blocks: list[Block]) -> Message:
    """The plain ``text`` is what notifications and screen readers show."""
    return {
        "text": escape(fit(text, MAX_TEXT)),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _story_blocks(number: int, story: Story) -> list[Block]:
    tags = story.tags
    heading = f"*{number}. {escape(story.headline)}*" + (f"  _{' · '.join(tags)}_" if tags else "")
    quotes = [f">{escape(q.text)}" for q in story.quotes]
    body = "\n".join([heading, *take_whole(quotes, MAX_SECTION - len(heading) - 1)])
    lines = [_source_line(a) for a in story.sources]
    if story.why:
        lines.append(f"_{escape(story.why)}_")
    sources = " \n".join(take_whole(lines, MAX_CONTEXT, separator=" \n"))
    return [
        section(body),
        context(sources),
        {"type": "divider"},
    ]


def briefing_messages(briefing: Briefing) -> list[Message]:
    """One or more ``chat.postMessage`` payloads; a story is never split across two."""
    title = fit(f"{briefing.title} — {briefing.window.label}", MAX_HEADER)
    if not briefing.stories:
        return [_plain_message(briefing.empty_note, [section(escape(briefing.empty_note))])]
    messages: list[Message] = []
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": title}}]
    headlines: list[str] = []
    for number, story in enumerate(briefing.stories, start=1):
        story_blocks = _story_blocks(number, story)
        if len(blocks) + len(story_blocks) > MAX_BLOCKS:
            messages.append(_message(title, headlines, blocks))
            blocks, headlines = [], []
        blocks.extend(story_blocks)
        headlines.append(story.headline)
    messages.append(_message(title, headlines, blocks))
    return messages


def _message(title: str, headlines: list[str], blocks: list[Block]) -> Message:
    return _plain_message(f"{title}: " + "; ".join(headlines), blocks)
