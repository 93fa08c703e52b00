"""FTS5 keyword search: what a question's common words cost and add."""

from __future__ import annotations

from pathlib import Path

from corpus.model import Article
from corpus.store import SQLStore
from retrieval.lexical import FTS5Index


def _keyword_index(tmp_path: Path) -> FTS5Index:
    """Twelve passages that all say "officials", two of which also name "Vanuatu"."""
    store = SQLStore(tmp_path / "briefbot.sqlite3")
    index = FTS5Index(store)
    for number in range(12):
        place = f"Vanuatu banned biscuits {number}" if number < 2 else f"Harbour {number} reopened"
        text = f"Officials said that {place} on Tuesday."
        stored, passages = store.add(
            Article(title=f"Report {number}", text=text, url=f"https://example.org/{number}"),
            [(0, len(text))],
        )
        index.add([(p.id, stored.title, p.text) for p in passages])
    return index


def test_common_words_are_left_out_beyond_the_postings_budget(tmp_path: Path) -> None:
    index = _keyword_index(tmp_path)
    question = "What did officials say Vanuatu banned?"
    everything = index.search(question, 20)
    assert len(everything) == 12  # "officials" matches every passage

    index.MATCH_POSTINGS = 5
    rare_only = index.search(question, 20)
    # "officials" (12 passages) would exceed the budget; "vanuatu" and "banned" (2 each) fit.
    assert [pid for pid, _ in rare_only] == [pid for pid, _ in everything[:2]]
    # A question of common words alone still searches by the rarest of them.
    assert len(index.search("officials reopened harbour", 20)) == 10
    assert {pid for pid, _ in index.search("officials", 20)} == {pid for pid, _ in everything}
