"""Questions that are not valid text: cleaned or refused politely, never a traceback."""

from __future__ import annotations

import pytest

from bot.services.ask import QuestionError, validate_question


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # From a Latin-1 terminal, decoded with surrogateescape: the bytes are recovered.
        ("What about the caf\udce9?", "What about the café?"),
        # UTF-8 bytes that arrived as surrogates are UTF-8 again.
        ("Who won in Z\udcc3\udcbcrich?", "Who won in Zürich?"),
        # A lone surrogate that stands for no byte (JSON can spell one) becomes U+FFFD.
        ("Who won\ud800 the vote?", "Who won\ufffd the vote?"),
        ("\x1b]0;pwned\x07What \x1b[31mhappened\x1b[0m today?", "What happened today?"),
    ],
)
def test_questions_are_made_valid_text(question: str, expected: str) -> None:
    cleaned = validate_question(question, max_chars=1000)
    assert cleaned == expected
    cleaned.encode("utf-8")  # what the tokenizer needs; a lone surrogate raises here


@pytest.mark.parametrize("question", ["\ud800\udfff", "\ud800 \x1b[0m\x07"])
def test_a_question_of_nothing_readable_is_refused_politely(question: str) -> None:
    with pytest.raises(
        QuestionError, match=r"^I couldn.t read that question \(it isn.t valid text\)"
    ):
        validate_question(question, max_chars=1000)
