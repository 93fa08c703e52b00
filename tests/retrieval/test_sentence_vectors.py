"""A passage's sentences are embedded the first time it is quoted, not at every answer."""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.embedding import Embedder, Vectors
from retrieval.evidence import SentenceVectors
from tests.articles import VOLCANO
from tests.conftest import MakeBot


class Counting:
    """The real model, with a count of the texts each call embeds."""

    def __init__(self, model: Embedder) -> None:
        self.model = model
        self.name, self.dim = model.name, model.dim
        self.calls: list[int] = []

    @property
    def words(self) -> frozenset[str]:
        return self.model.words

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(len(texts))
        return self.model.embed(texts)


def test_a_passage_quoted_again_costs_no_model_call(make_bot: MakeBot) -> None:
    bot = make_bot()
    bot.ingest_service.ingest_articles([(a.title, a) for a in VOLCANO])
    counting = Counting(bot.embedder)
    bot.ask_service.evidence.sentences = SentenceVectors(counting)
    when = VOLCANO[-1].published_at
    first = bot.ask_service.ask("Did lava reach Grindavik?", now=when)
    assert first.found and len(counting.calls) == 1
    assert counting.calls[0] > len(first.quotes)  # every sentence of every quoted passage
    again = bot.ask_service.ask("Did lava reach Grindavik?", now=when)
    assert len(counting.calls) == 1  # the question's own embedding is the searcher's
    assert [(q.passage_id, q.highlights) for q in again.quotes] == [
        (q.passage_id, q.highlights) for q in first.quotes
    ]


def test_the_least_recently_quoted_passages_make_way(embedder: Embedder) -> None:
    counting = Counting(embedder)
    memory = SentenceVectors(counting, size=2)
    first = memory.of([(1, ["Lava reached the town."]), (2, ["Flights went on.", "Calm."])])
    assert counting.calls == [3] and [v.shape for v in first] == [(1, 384), (2, 384)]
    memory.of([(2, ["Flights went on.", "Calm."]), (3, ["Homes burned."])])
    assert counting.calls == [3, 1]  # 2 remembered; 1 now the oldest, and gone
    again = memory.of([(2, ["Flights went on.", "Calm."]), (1, ["Lava reached the town."])])
    assert counting.calls == [3, 1, 1]
    assert (again[0] == first[1]).all()
