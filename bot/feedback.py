"""Feedback on answers: the 👍 / 👎 buttons under every answer in Slack and Discord.

Each answer shown with buttons is recorded with its question, the passages it quoted and the
articles' addresses; a vote is one person's opinion of one answer (a later click changes it).
Together they are data for tuning: ``briefbot feedback`` summarises them and exports them as
JSON lines shaped like the evaluation questions (``questions_dev.jsonl``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from bot.services.ask import Answer
from corpus.database import Tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rated_answers (
    id TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    question TEXT NOT NULL,
    passage_ids TEXT NOT NULL,
    urls TEXT NOT NULL,
    answered_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rated_answers_at ON rated_answers(answered_at);
CREATE TABLE IF NOT EXISTS votes (
    answer_id TEXT NOT NULL REFERENCES rated_answers(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    up INTEGER NOT NULL,
    voted_at TEXT NOT NULL,
    PRIMARY KEY (answer_id, user_id)
)
"""

UP, DOWN = "up", "down"


@dataclass(frozen=True)
class RatedQuestion:
    question: str
    up: int
    down: int


@dataclass(frozen=True)
class FeedbackSummary:
    """Answers shown with buttons since some time, the votes on them, and the questions whose
    answers people liked least."""

    answers: int
    up: int
    down: int
    worst: list[RatedQuestion] = field(default_factory=list)


class FeedbackStore(Tables):
    COMPONENT = "feedback"
    MIGRATIONS: ClassVar[Mapping[str, Sequence[str]]] = {
        "sqlite": [_SCHEMA],
        "postgresql": [_SCHEMA],
    }

    def record(self, answer: Answer, *, platform: str, channel: str) -> str:
        """Keep an answer about to be shown with buttons; returns the id its buttons carry
        (unguessable, so a forged click can only rate an answer its sender has seen)."""
        answer_id = secrets.token_urlsafe(12)
        urls = list(dict.fromkeys(q.url for q in answer.quotes if q.url))
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO rated_answers (id, platform, channel, question, passage_ids, urls,"
                " answered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    platform,
                    channel,
                    answer.question,
                    json.dumps([q.passage_id for q in answer.quotes]),
                    json.dumps(urls),
                    self.clock().isoformat(),
                ),
            )
        return answer_id

    def vote(self, answer_id: str, *, user: str, up: bool) -> bool:
        """Record ``user``'s vote on an answer, replacing any earlier one; false when no such
        answer was recorded (a forged or garbled id)."""
        with self.transaction() as conn:
            known = conn.execute("SELECT 1 FROM rated_answers WHERE id = ?", (answer_id,))
            if known.fetchone() is None:
                return False
            conn.execute(
                "INSERT INTO votes (answer_id, user_id, up, voted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (answer_id, user_id) DO UPDATE SET up = excluded.up,"
                " voted_at = excluded.voted_at",
                (answer_id, user, int(up), self.clock().isoformat()),
            )
        return True

    def counts(self) -> dict[str, int]:
        """Votes by kind, over all time (what the metrics endpoint exports)."""
        with self.reading() as conn:
            up, total = conn.execute("SELECT COALESCE(SUM(up), 0), COUNT(*) FROM votes").fetchone()
        return {UP: int(up), DOWN: int(total) - int(up)}

    def summary(self, *, since: datetime | None = None, worst: int = 5) -> FeedbackSummary:
        rows = list(self._rated(since))
        disliked = sorted(
            (r for r in rows if r["down"] > r["up"]), key=lambda r: (r["up"] - r["down"], r["at"])
        )
        return FeedbackSummary(
            answers=len(rows),
            up=sum(r["up"] for r in rows),
            down=sum(r["down"] for r in rows),
            worst=[RatedQuestion(r["question"], r["up"], r["down"]) for r in disliked[:worst]],
        )

    def export(self, *, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Voted answers as evaluation records: an answer most voters liked lists its articles
        as the right ones (``urls``), one they disliked as wrong (``wrong_urls``)."""
        for r in self._rated(since):
            if not (r["up"] or r["down"]):
                continue
            liked = r["up"] > r["down"]
            yield {
                "id": f"feedback-{r['id']}",
                "kind": "feedback",
                "question": r["question"],
                "now": r["at"],
                "urls": r["urls"] if liked else [],
                "wrong_urls": [] if liked else r["urls"],
                "passage_ids": r["passage_ids"],
                "votes": {UP: r["up"], DOWN: r["down"]},
            }

    def _rated(self, since: datetime | None) -> Iterator[dict[str, Any]]:
        sql = (
            "SELECT a.id, a.question, a.urls, a.passage_ids, a.answered_at,"
            " COALESCE(SUM(v.up), 0) AS up, COUNT(v.user_id) - COALESCE(SUM(v.up), 0) AS down"
            " FROM rated_answers a LEFT JOIN votes v ON v.answer_id = a.id"
            + (" WHERE a.answered_at >= ?" if since is not None else "")
            + " GROUP BY a.id, a.question, a.urls, a.passage_ids, a.answered_at"
            " ORDER BY a.answered_at"
        )
        params = (since.astimezone(UTC).isoformat(),) if since is not None else ()
        with self.reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        for row in rows:
            yield {
                "id": row["id"],
                "question": row["question"],
                "urls": json.loads(row["urls"]),
                "passage_ids": json.loads(row["passage_ids"]),
                "at": row["answered_at"],
                "up": int(row["up"]),
                "down": int(row["down"]),
            }
