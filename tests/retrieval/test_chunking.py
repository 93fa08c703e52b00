from __future__ import annotations

import itertools

from retrieval.chunking import CHARS_PER_WORD, Span, chunk_spans, sentence_spans

TEXT = (
    "Headline without a stop\n\n"
    "The first sentence is here. Dr. Smith met U.S. officials at 3 p.m. on Monday. "
    "A third one follows!\n\n"
    "A new paragraph starts. It ends here."
)


def test_sentences_are_verbatim_spans_and_respect_paragraphs() -> None:
    sentences = [TEXT[s.start : s.end] for s in sentence_spans(TEXT)]
    assert sentences == [
        "Headline without a stop",
        "The first sentence is here.",
        "Dr. Smith met U.S. officials at 3 p.m. on Monday.",
        "A third one follows!",
        "A new paragraph starts.",
        "It ends here.",
    ]


def test_passages_never_split_a_sentence() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(60))
    sentences = sentence_spans(text)
    starts = {s.start for s in sentences}
    ends = {s.end for s in sentences}
    chunks = chunk_spans(text, max_words=50)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.start in starts
        assert chunk.end in ends
        assert len(text[chunk.start : chunk.end].split()) <= 50
    # Consecutive passages cover the text without gaps or overlaps.
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)
    for before, after in itertools.pairwise(chunks):
        assert text[before.end : after.start].strip() == ""


def test_an_over_long_sentence_is_cut_between_words_into_even_pieces() -> None:
    long_sentence = " ".join(["word"] * 80) + "."
    text = f"Short one. {long_sentence} Another short one."
    chunks = [text[c.start : c.end] for c in chunk_spans(text, max_words=30)]
    assert all(len(c.split()) <= 30 for c in chunks)
    # Nothing lost, nothing repeated, and every cut falls between two words.
    assert " ".join(chunks) == text
    assert [len(c.split()) for c in chunks] == [29, 27, 29]
    assert chunks[0].startswith("Short one. word") and chunks[-1].endswith("Another short one.")


def assert_verbatim_cover(text: str, spans: list[Span]) -> None:
    assert text[: spans[0].start].strip() == "" and text[spans[-1].end :].strip() == ""
    for before, after in itertools.pairwise(spans):
        assert before.end <= after.start
        assert text[before.end : after.start].strip() == ""


def test_a_two_megabyte_run_on_sentence_becomes_bounded_passages() -> None:
    text = "Breaking " + "news and more words without any full stop " * 250_000
    assert len(text) > 2_000_000
    spans = chunk_spans(text, max_words=160)
    assert len(spans) > 1000
    for span in spans:
        piece = text[span.start : span.end]
        assert len(piece.split()) <= 160
        assert len(piece) <= 160 * CHARS_PER_WORD
        assert piece == piece.strip()
    assert_verbatim_cover(text, spans)


def test_a_blob_without_spaces_is_cut_at_the_character_cap() -> None:
    blob = "QUJD" * 500_000  # 2 MB of base64-looking text: no words, no sentences
    text = f"Intro sentence here. {blob} Outro."
    spans = chunk_spans(text, max_words=100, max_chars=1000)
    assert all(span.end - span.start <= 1000 for span in spans)
    assert "".join(text[s.start : s.end] for s in spans).replace(" ", "") == text.replace(" ", "")
    assert_verbatim_cover(text, spans)


def test_a_short_tail_is_rebalanced_with_the_passage_before_it() -> None:
    text = " ".join(f"Sentence {i} is ten words long for this particular test." for i in range(6))
    sizes = [len(text[c.start : c.end].split()) for c in chunk_spans(text, max_words=50)]
    # Greedy packing would give 50 + 10; rebalancing gives two passages of 30.
    assert sizes == [30, 30]
