from __future__ import annotations

import pytest

from retrieval.chunking import sentence_spans
from retrieval.embedding import Embedder
from retrieval.key_sentences import key_sentences

FACTORY = (
    "Acme Motors will close its Leeds car factory in March, cutting 400 jobs.\n\n"
    "The company blamed falling demand for petrol cars and rising energy costs. "
    "Workers at the Leeds factory were told of the closure at a meeting on Monday. "
    "The site opened in 1962 and once employed more than 2,000 people. "
    "Unions said they would fight to save the jobs and called for talks with ministers."
)
RATES_A = (
    "The central bank raised interest rates by half a percentage point on Tuesday.\n\n"
    "It was the largest single rise in more than a decade. "
    "Borrowers with variable mortgages will see their monthly payments go up. "
    "The bank said inflation was still far above its target."
)
RATES_B = (
    "On Tuesday the central bank raised interest rates by half a percentage point.\n\n"
    "Economists had expected a smaller rise of a quarter point. "
    "Shares in housebuilders fell sharply after the announcement. "
    "The bank's governor said further rises could not be ruled out."
)


def test_sentences_are_verbatim_at_their_offsets(embedder: Embedder) -> None:
    texts = [FACTORY, RATES_A, RATES_B]
    chosen = key_sentences(texts, k=4, embedder=embedder)
    assert chosen
    for selected in chosen:
        text = texts[selected.article_index]
        assert text[selected.start : selected.end] == selected.text
        spans = {(s.start, s.end) for s in sentence_spans(text)}
        assert (selected.start, selected.end) in spans
    # Reading order: by article, then by position.
    assert chosen == sorted(chosen, key=lambda s: (s.article_index, s.start))


@pytest.mark.parametrize("k", [0, 1, 2, 3])
@pytest.mark.parametrize("with_embedder", [True, False])
def test_k_is_respected(embedder: Embedder, k: int, with_embedder: bool) -> None:
    chosen = key_sentences([FACTORY], k=k, embedder=embedder if with_embedder else None)
    assert len(chosen) == k


def test_near_duplicates_from_two_articles_are_not_both_chosen(embedder: Embedder) -> None:
    lead_a = RATES_A.split("\n")[0]
    lead_b = RATES_B.split("\n")[0]
    # Without the redundancy threshold the two reworded leads are the two most central sentences.
    unfiltered = {
        s.text for s in key_sentences([RATES_A, RATES_B], k=2, embedder=embedder, redundancy=1.01)
    }
    assert unfiltered == {lead_a, lead_b}
    chosen = [s.text for s in key_sentences([RATES_A, RATES_B], k=2, embedder=embedder)]
    assert len(chosen) == 2
    assert not {lead_a, lead_b} <= set(chosen)
    assert {lead_a, lead_b} & set(chosen)


def test_bylines_and_headings_are_never_chosen(embedder: Embedder) -> None:
    byline = "By Jane Smith and Tom Brown, BBC News."
    heading = "Acme Motors to close Leeds car factory, cutting 400 jobs"
    credit = "Reporting by Tom Brown; editing by Ann Lee"
    text = f"{byline}\n\n{heading}\n\n{FACTORY}\n\n{credit}"
    # A budget larger than the article: only the filter can keep these lines out.
    chosen = {s.text for s in key_sentences([text], k=20, embedder=embedder)}
    assert len(chosen) == 5
    assert not {byline, heading, credit} & chosen


def test_the_lead_carrying_the_news_is_chosen(embedder: Embedder) -> None:
    chosen = key_sentences([FACTORY], k=1, embedder=embedder)
    assert [s.text for s in chosen] == [FACTORY.split("\n")[0]]
    assert chosen[0].start == 0
