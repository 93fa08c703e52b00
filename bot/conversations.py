"""Conversations: the last question asked in a thread, so a follow-up can be understood.

A Slack thread, a Discord reply chain and a terminal session each remember their last answered
question and the articles it quoted; nothing is remembered outside a conversation. Kept in the
store's file rather than in memory, so a follow-up still works after a restart, and in plain
columns so the PostgreSQL backend can hold the same table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar

from corpus.database import Tables
from retrieval.follow_up import Turn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversation_turns (
    platform TEXT NOT NULL,
    conversation TEXT NOT NULL,
    question TEXT NOT NULL,
    article_ids TEXT NOT NULL,
    published_at TEXT,
    asked_at TEXT NOT NULL,
    PRIMARY KEY (platform, conversation)
);
"""


class ConversationStore(Tables):
    COMPONENT = "conversations"
    MIGRATIONS: ClassVar[Mapping[str, Sequence[str]]] = {
        "sqlite": [_SCHEMA],
        "postgresql": [_SCHEMA],
    }

    def last(self, platform: str, conversation: str) -> Turn | None:
        """The conversation's last answered question, if it has one."""
        with self.reading() as conn:
            row = conn.execute(
                "SELECT question, article_ids, published_at FROM conversation_turns"
                " WHERE platform = ? AND conversation = ?",
                (platform, conversation),
            ).fetchone()
        if row is None:
            return None
        latest = datetime.fromisoformat(row[2]) if row[2] else None
        return Turn(row[0], tuple(json.loads(row[1])), latest)

    def remember(self, platform: str, conversation: str, turn: Turn) -> None:
        """Make ``turn`` the conversation's last (the one a follow-up refers to)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO conversation_turns (platform, conversation, question, article_ids,"
                " published_at, asked_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(platform, conversation) DO UPDATE SET question = excluded.question,"
                " article_ids = excluded.article_ids,"
                " published_at = excluded.published_at, asked_at = excluded.asked_at",
                (
                    platform,
                    conversation,
                    turn.question,
                    json.dumps(list(turn.article_ids)),
                    turn.published.isoformat() if turn.published else None,
                    self.clock().isoformat(),
                ),
            )
