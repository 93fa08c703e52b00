from __future__ import annotations

import itertools

from retrieval.chunking import chunk_spans, sentence_spans

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


def test_a_sentence_longer_than_the_limit_stays_whole() -> None:
    long_sentence = " ".join(["word"] * 80) + "."
    text = f"Short one. {long_sentence} Another short one."
    chunks = [text[c.start : c.end] for c in chunk_spans(text, max_words=30)]
    assert long_sentence in chunks or any(long_sentence in c for c in chunks)
    assert all(c.endswith(".") for c in chunks)


def test_a_short_tail_is_rebalanced_with_the_passage_before_it() -> None:
    text = " ".join(f"Sentence {i} is ten words long for this particular test." for i in range(6))
    sizes = [len(text[c.start : c.end].split()) for c in chunk_spans(text, max_words=50)]
    # Greedy packing would give 50 + 10; rebalancing gives two passages of 30.
    assert sizes == [30, 30]
