"""Slack rendering: Block Kit payloads (pure data), split to stay inside Slack's limits."""

from __future__ import annotations

from typing import Any

from bot.rendering.limits import fit, take_whole
from bot.rendering.terminal import format_date
from bot.services.briefing import Briefing, Story
from corpus.model import Article

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_CONTEXT = 2000

Block = dict[str, Any]
Message = dict[str, Any]


def escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(article: Article) -> str:
    title = escape(article.title).replace("|", "¦")
    return f"<{article.url}|{title}>" if article.url else title


def _source_line(article: Article) -> str:
    source = escape(article.source or "unknown source")
    return f"{source} · {format_date(article.published_at)} · {link(article)}"


def _story_blocks(number: int, story: Story) -> list[Block]:
    tags = [t for t in ("update" if story.update else "", story.topic or "") if t]
    heading = f"*{number}. {escape(story.headline)}*" + (f"  _{' · '.join(tags)}_" if tags else "")
    quotes = [f">{escape(q.text)}" for q in story.quotes]
    body = "\n".join([heading, *take_whole(quotes, MAX_SECTION - len(heading) - 1)])
    sources = " \n".join(
        take_whole([_source_line(a) for a in story.sources], MAX_CONTEXT, separator=" \n")
    )
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": fit(body, MAX_SECTION)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": sources}]},
        {"type": "divider"},
    ]


def briefing_messages(briefing: Briefing) -> list[Message]:
    """One or more ``chat.postMessage`` payloads; a story is never split across two."""
    title = fit(f"News briefing — {briefing.window.label}", MAX_HEADER)
    if not briefing.stories:
        return [
            {
                "text": briefing.empty_note,
                "blocks": [
                    {
                        "type": "section",
                        "text": {"type": "mrkdwn", "text": escape(briefing.empty_note)},
                    }
                ],
                "unfurl_links": False,
            }
        ]
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
    """The plain ``text`` is what notifications and screen readers show."""
    return {
        "text": fit(f"{title}: " + "; ".join(headlines), 3000),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }
