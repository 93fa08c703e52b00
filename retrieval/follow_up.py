"""Follow-ups: "what happened next?", "who was behind it?", "and in Paris?" read in the light
of the question before them in the same conversation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from retrieval.terms import content_terms
from retrieval.time_expressions import TimeQuery
from retrieval.window import Window

# "next", "since then": the story's later developments, published after what was quoted.
_LATER = re.compile(
    r"\b(?:next|then|afterwards?|after that|later|since|latest|now|developments?|updates?)\b",
    re.IGNORECASE,
)
# A question leaning on the one before: it opens with "and"/"what about", or points back.
_REFERS = re.compile(
    r"^\W*(?:and|but|also|so|what about|how about)\b"
    r"|\b(?:it|its|they|them|their|he|him|his|she|her|this|that|those|these|there)\b",
    re.IGNORECASE,
)
# A question with more content words than this stands on its own, pronouns or not.
_MAX_FOLLOW_UP_TERMS = 3


@dataclass(frozen=True)
class Turn:
    """What a conversation last asked (in the words searched), the articles quoted, and when
    the best of them was published ("what happened next?" means after that)."""

    question: str
    article_ids: tuple[int, ...]
    published: datetime | None


def is_follow_up(question: str) -> bool:
    if len(content_terms(question)) > _MAX_FOLLOW_UP_TERMS:
        return False
    return bool(_LATER.search(question) or _REFERS.search(question))


def resolve(question: TimeQuery, previous: Turn, *, now: datetime | None) -> TimeQuery:
    """The follow-up as a question of its own: the previous question's words added, and for
    "what happened next?" only articles published after the best one quoted before."""
    text = f"{previous.question} {question.text}"
    if question.window is None and previous.published and _LATER.search(question.text):
        start = previous.published + timedelta(seconds=1)
        if now is None or start < now:
            return TimeQuery(
                text,
                Window(start, now or datetime.max.replace(tzinfo=start.tzinfo)),
                f"after {previous.published:%-d %B %Y}",
            )
    return TimeQuery(text, question.window, question.expression)
