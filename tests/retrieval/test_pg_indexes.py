"""The PostgreSQL indexes against the SQLite ones: the same articles ingested through the real
``Indexer`` with the real model into a SQLite store (FAISS, FTS5) and into PostgreSQL (pgvector,
tsvector) must give the same hits, scores, densities and term statistics."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from corpus.model import Article
from corpus.postgres import PostgresDatabase
from corpus.samples import SAMPLES_DIR
from corpus.store import SQLStore
from retrieval.embedding import Embedder, Vectors
from retrieval.indexing import Indexer
from retrieval.lexical import FTS5Index
from retrieval.pg_indexes import PgLexicalIndex, PgVectorIndex
from retrieval.terms import content_words, porter_stem
from retrieval.vector_index import FaissIndex

QUESTIONS = (
    "Why did Vanuatu ban biscuits from Fiji?",
    "Which sanctions on Serbia were lifted?",
    "How many zeros did Romania remove from the leu?",
    "Who leaked the name of the CIA agent?",
    "Who controls the Internet root servers?",
)


def _sample_articles() -> list[Article]:
    lines = (SAMPLES_DIR / "wikinews-2005-07.jsonl").read_text(encoding="utf-8").splitlines()
    articles = []
    for line in lines[:13]:
        row = json.loads(line)
        articles.append(Article(title=row["title"], text=row["text"], url=row["url"]))
    return articles


ARTICLES = _sample_articles()
# Ingested after the others, to see that a change reaches every reader at once.
LATE = ARTICLES.pop()


class Remembering:
    """The session's model, remembering what it embedded: every test ingests the same articles
    into two stores, and both then hold the very same vectors."""

    def __init__(self, model: Embedder) -> None:
        self.model = model
        self.name = model.name
        self.dim = model.dim
        self.seen: dict[str, Vectors] = {}

    @property
    def words(self) -> frozenset[str]:
        return self.model.words

    def embed(self, texts: Sequence[str]) -> Vectors:
        fresh = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if fresh:
            self.seen.update(zip(fresh, self.model.embed(fresh), strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.seen[t] for t in texts])


@pytest.fixture(scope="module")
def remembering(embedder: Embedder) -> Remembering:
    return Remembering(embedder)


@dataclass
class Backends:
    sqlite: SQLStore
    faiss: FaissIndex
    fts5: FTS5Index
    sqlite_indexer: Indexer
    pg: SQLStore
    vectors: PgVectorIndex
    lexical: PgLexicalIndex
    indexer: Indexer

    def ingest(self, articles: list[Article]) -> list[int]:
        """Ingest into both stores; the passage ids they were given."""
        outcomes = [self.sqlite_indexer.add(articles), self.indexer.add(articles)]
        assert all(o.passages for stored in outcomes for o in stored)
        ids = [o.article.id or 0 for o in outcomes[1]]
        return [pid for found in self.pg.passage_ids_of(ids).values() for pid in found]


def _indexer(
    store: SQLStore,
    embedder: Embedder,
    vectors: FaissIndex | PgVectorIndex,
    lexical: FTS5Index | PgLexicalIndex,
) -> Indexer:
    return Indexer(
        store,
        embedder=embedder,
        vectors=vectors,
        lexical=lexical,
        chunk_words=120,
        near_duplicate=0.97,
        commit_every=64,
    )


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(postgres_url, max_connections=4)
    yield database
    database.close()


@pytest.fixture
def backends(tmp_path: Path, remembering: Remembering, pg_database: PostgresDatabase) -> Backends:
    sqlite = SQLStore(tmp_path / "briefbot.sqlite3")
    faiss = FaissIndex(
        sqlite, snapshot=tmp_path / "index.faiss", dim=remembering.dim, model=remembering.name
    )
    fts5 = FTS5Index(sqlite)
    pg = SQLStore(pg_database)
    vectors = PgVectorIndex(pg, dim=remembering.dim, model=remembering.name)
    lexical = PgLexicalIndex(pg)
    both = Backends(
        sqlite=sqlite,
        faiss=faiss,
        fts5=fts5,
        sqlite_indexer=_indexer(sqlite, remembering, faiss, fts5),
        pg=pg,
        vectors=vectors,
        lexical=lexical,
        indexer=_indexer(pg, remembering, vectors, lexical),
    )
    both.ingest(ARTICLES)
    # Both stores number passages from 1 in ingest order, so ids can be compared directly.
    ids = [p.id for batch in sqlite.iter_passages() for p in batch]
    assert sqlite.passages(ids) == pg.passages(ids)
    return both


def _ids(hits: list[tuple[int, float]]) -> list[int]:
    return [pid for pid, _ in hits]


def _assert_same_hits(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert _ids(got) == _ids(want)
    assert np.allclose([s for _, s in got], [s for _, s in want], rtol=0, atol=1e-5)


def test_dense_search_returns_faiss_hits_and_scores(backends: Backends, embedder: Embedder) -> None:
    total = len(backends.faiss)
    assert len(backends.vectors) == total > 20
    for vector in embedder.embed(list(QUESTIONS)):
        for k in (1, 10, total):
            _assert_same_hits(backends.vectors.search(vector, k), backends.faiss.search(vector, k))
    assert backends.vectors.search(vector, 0) == []


@pytest.mark.parametrize("exact", [True, False], ids=["exact-scan", "hnsw-filter"])
def test_allowed_restricts_dense_hits_to_the_window(
    backends: Backends, embedder: Embedder, exact: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not exact:
        monkeypatch.setattr(backends.vectors, "_EXACT_PER_CANDIDATE", 0)
    vector = embedder.embed([QUESTIONS[0]])[0]
    best = backends.faiss.search(vector, 1)[0][0]
    everything = _ids(backends.faiss.search(vector, len(backends.faiss)))
    # The window leaves out the best passage, and holds five of the worst: the true top hits
    # of the window are far down the unfiltered ranking.
    allowed = set(everything[-5:]) | {10_000_000}
    got = backends.vectors.search(vector, 3, allowed=allowed)
    _assert_same_hits(got, backends.faiss.search(vector, 3, allowed=allowed))
    assert set(_ids(got)) <= allowed and best not in _ids(got)
    # Asking for more than the window holds gives the whole window, best first.
    _assert_same_hits(
        backends.vectors.search(vector, 10, allowed=allowed),
        backends.faiss.search(vector, 10, allowed=allowed),
    )
    assert len(backends.vectors.search(vector, 10, allowed=allowed)) == 5
    assert backends.vectors.search(vector, 3, allowed=set()) == []


def test_density_equals_faiss_and_follows_new_articles(
    backends: Backends, embedder: Embedder, tmp_path: Path
) -> None:
    ids = _ids(backends.faiss.search(embedder.embed([QUESTIONS[1]])[0], len(backends.faiss)))
    for k in (1, 5):
        # FaissIndex keeps densities by passage alone (one k per process): a fresh one per k.
        faiss = FaissIndex(
            backends.sqlite, snapshot=tmp_path / f"{k}.faiss", dim=embedder.dim, model=embedder.name
        ).density([*ids, 10_000_000], k=k)
        pg = backends.vectors.density([*ids, 10_000_000], k=k)
        assert pg.keys() == faiss.keys()
        assert max(abs(pg[i] - faiss[i]) for i in ids) < 1e-5
        assert pg[10_000_000] == 0.0
    before = backends.vectors.density(ids, k=5)
    # A copy of an article, lightly edited, is every one of its passages' nearest neighbour: the
    # cached densities must not survive the ingest.
    twin = Article(
        title=ARTICLES[1].title + " (update)",
        text=ARTICLES[1].text.replace("sanctions", "the sanctions"),
        url="https://example.org/twin",
    )
    backends.sqlite_indexer.near_duplicate = backends.indexer.near_duplicate = 1.01
    backends.ingest([twin])
    after = backends.vectors.density(ids, k=5)
    faiss = backends.faiss.density(ids, k=5)
    assert max(abs(after[i] - faiss[i]) for i in ids) < 1e-5
    assert any(after[i] > before[i] + 0.01 for i in ids)


def test_vectors_and_indexed_come_from_the_store(backends: Backends) -> None:
    ids = [3, 1, 10_000_000, 2]
    got = backends.vectors.vectors(ids)
    assert got.shape == (4, backends.vectors.dim) and got.dtype == np.float32
    assert np.allclose(got, backends.faiss.vectors(ids), atol=1e-7)
    assert not got[2].any()
    assert backends.vectors.indexed(ids) == {1, 2, 3}
    assert backends.vectors.indexed([]) == set()


def test_hnsw_index_serves_the_search_query(backends: Backends) -> None:
    """The query repeats the index's expression and predicate, so the planner can use it (on a
    table this small it would rather sort, hence sequential scans are switched off)."""
    index = f"passage_vectors_hnsw_{backends.vectors.model_id}"
    with backends.pg.transaction() as conn:
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = conn.execute(
            f"EXPLAIN SELECT passage_id, {backends.vectors._vector} <=> ? AS distance"
            f" FROM passage_vectors WHERE {backends.vectors._mine} ORDER BY distance LIMIT 5",
            (np.ones(backends.vectors.dim, dtype=np.float32),),
        ).fetchall()
    assert index in "\n".join(row[0] for row in plan)


def test_models_keep_their_vectors_apart(backends: Backends) -> None:
    """Another model's vectors, of another size, get their own index and never mix in."""
    other = PgVectorIndex(backends.pg, dim=3, model="tiny-test-model")
    assert other.model_id != backends.vectors.model_id
    assert len(other) == 0 and other.search(np.ones(3, dtype=np.float32), 5) == []
    unit = np.eye(3, dtype=np.float32)
    backends.pg.put_vectors(other.model_id, [1, 2, 3], unit)
    hits = other.search(np.array([0.6, 0.8, 0.0], dtype=np.float32), 5)
    assert _ids(hits) == [2, 1, 3]
    assert np.allclose([s for _, s in hits], [0.8, 0.6, 0.0], atol=1e-6)
    assert len(other) == 3 and len(backends.vectors) == len(backends.faiss)


def test_another_process_sees_an_ingest_at_once(
    backends: Backends, embedder: Embedder, postgres_url: str
) -> None:
    """Nothing to refresh: a second pool's indexes find an article the moment it commits."""
    elsewhere = PostgresDatabase(postgres_url, max_connections=2)
    try:
        store = SQLStore(elsewhere)
        vectors = PgVectorIndex(store, dim=embedder.dim, model=embedder.name)
        lexical = PgLexicalIndex(store)
        question = "Did Iran deny that Ahmadinejad took part in the hostage-taking?"
        vector = embedder.embed([question])[0]
        count = len(vectors)
        assert vectors.refresh() == 0
        first = _ids(vectors.search(vector, 1))

        stored = backends.ingest([LATE])

        assert len(vectors) == count + len(stored) == len(backends.faiss)
        hit = vectors.search(vector, 1)
        assert _ids(hit) != first and _ids(hit)[0] in stored
        _assert_same_hits(vectors.search(vector, 5), backends.faiss.search(vector, 5))
        assert _ids(lexical.search("Ahmadinejad hostage", 1))[0] in stored
        assert vectors.indexed(stored) == set(stored)
    finally:
        elsewhere.close()


def test_lexical_search_ranks_as_fts5(backends: Backends) -> None:
    for question in QUESTIONS:
        got = backends.lexical.search(question, 10)
        want = backends.fts5.search(question, 10)
        assert got and _ids(got) == _ids(want)
        assert np.allclose([s for _, s in got], [s for _, s in want], rtol=1e-6, atol=0)
    assert backends.lexical.search("the of and", 10) == []
    assert backends.lexical.search("biscuits", 0) == []


def test_lexical_search_finds_a_rare_word_inside_the_window(backends: Backends) -> None:
    fiji = backends.pg.passage_ids_of([1])[1]
    (best, _), *_ = backends.lexical.search("biscuits", 5)
    assert best in fiji
    assert set(_ids(backends.lexical.search("biscuits", 5))) <= set(fiji)
    # A word's inflections meet (porter stems), and diacritics fold as in FTS5.
    assert _ids(backends.lexical.search("biscuit", 5))[0] == best
    assert _ids(backends.lexical.search("Schroder", 1)) == _ids(backends.fts5.search("Schröder", 1))
    others = set(range(1, 10_000)) - set(fiji)
    assert backends.lexical.search("biscuits", 5, allowed=others) == []
    assert _ids(backends.lexical.search("biscuits", 5, allowed={best})) == [best]
    assert backends.lexical.search("biscuits", 5, allowed=set()) == []


def _settle_write_counts(store: SQLStore) -> None:
    """Wait until the server counts the ingest's rows (other sessions report their counts
    within about a second), so that a later read sees no change the test did not make."""
    deadline = time.monotonic() + 10
    with store.reading() as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT n_tup_ins, (SELECT COUNT(*) FROM passage_terms) FROM pg_stat_user_tables"
                " WHERE relname = 'passage_terms'"
            ).fetchone()
            if row[0] >= row[1]:
                return
            time.sleep(0.1)
    raise AssertionError("the server never counted the ingested rows")


def test_term_statistics_match_fts5_and_the_stems_retrieval_uses(backends: Backends) -> None:
    _settle_write_counts(backends.pg)
    terms, documents = backends.lexical.vocabulary()
    vocabulary = dict(zip(terms, documents, strict=True))
    fts5 = dict(zip(*backends.fts5.vocabulary(), strict=True))
    shared = vocabulary.keys() & fts5.keys()
    assert len(shared) > 0.99 * len(fts5)
    assert {t: vocabulary[t] for t in shared} == {t: fts5[t] for t in shared}
    words = sorted({w for a in ARTICLES for w in content_words(a.title + " " + a.text)})
    asked = [w for w in words if len(w) >= 3]
    asked += ["Serbia and Montenegro", "Montenegro and Serbia", "zzzunknown"]
    frequencies = backends.lexical.document_frequencies(asked)
    assert frequencies == backends.fts5.document_frequencies(asked)
    assert frequencies["zzzunknown"] == 0
    assert frequencies["Serbia and Montenegro"] > 0 == frequencies["Montenegro and Serbia"]
    # Spelling correction and story grouping look words up by their porter stem (diacritics
    # are folded away, as FTS5 does, so "björk" is kept as "bjork").
    assert vocabulary["bjork"] == frequencies["björk"] > 0
    for word in [w for w in asked[:-3] if w.isascii()]:
        assert vocabulary[porter_stem(word)] == frequencies[word], word
    assert backends.lexical.surface_form(porter_stem("redenominates")) in {
        "redenominates",
        "redenomination",
        "redenominate",
        "redenominated",
    }
    assert backends.lexical.surface_form("zzzunknown") is None
    # The vocabulary is cached: other tables' writes (a chat's conversation turns) leave it be,
    # but a new passage does not.
    version = backends.pg.data_version()
    with backends.pg.transaction() as conn:
        conn.execute("CREATE TABLE unrelated (x INTEGER)")
        conn.execute("INSERT INTO unrelated VALUES (1)")
    assert backends.pg.data_version() != version
    assert backends.lexical.vocabulary()[0] is terms
    backends.ingest([LATE])
    assert "ahmadinejad" in dict(zip(*backends.lexical.vocabulary(), strict=True))
    assert "ahmadinejad" not in vocabulary


def test_missing_entries_are_seen_and_rebuilt(backends: Backends) -> None:
    passages = backends.pg.count_passages()
    assert len(backends.lexical) == passages and backends.lexical.missing() == 0
    assert backends.lexical.check() == [] and backends.indexer.is_consistent()
    before = backends.lexical.search(QUESTIONS[2], 5)
    with backends.pg.transaction() as conn:
        conn.execute("DELETE FROM passage_terms WHERE passage_id IN (1, 2)")
    assert backends.lexical.missing() == 2 and len(backends.lexical) == passages - 2
    assert backends.lexical.check() and not backends.indexer.is_consistent()
    backends.indexer.repair()
    assert backends.lexical.missing() == 0 and backends.lexical.check() == []
    assert backends.lexical.search(QUESTIONS[2], 5) == before
