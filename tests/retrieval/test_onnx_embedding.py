"""The onnx backend: the bundled model exported once, close to PyTorch's vectors, kept apart
from them in the store, and refused plainly where it cannot run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from bot.settings import DEFAULT_MODEL, EmbeddingSettings, SettingsError
from bot.wiring import Briefbot, load_embedder
from retrieval.embedding import Embedder, SentenceTransformerEmbedder
from retrieval.onnx_embedding import OnnxEmbedder, export_dir, vector_space
from tests.articles import KIM, OTHERS, VOLCANO
from tests.conftest import MODELS_VARIABLE, MakeBot

TEXTS = [
    KIM,
    "Which town did the lava reach?",
    *(article.text for article in VOLCANO + OTHERS),
    "word " * 400,  # longer than the model's window: cut at 256 tokens, as PyTorch cuts it
]


def test_the_export_agrees_with_pytorch(embedder: Embedder) -> None:
    assert isinstance(embedder, OnnxEmbedder)  # the default backend
    assert (
        embedder.name
        == vector_space(DEFAULT_MODEL)
        == "sentence-transformers/all-MiniLM-L6-v2 (onnx int8)"
    )
    torch = SentenceTransformerEmbedder(DEFAULT_MODEL)
    ours, theirs = embedder.embed(TEXTS), torch.embed(TEXTS)
    assert ours.shape == theirs.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() > 0.98, cosines
    # The same ranking: each text is its own nearest neighbour in the other space too.
    assert (np.argmax(ours @ theirs.T, axis=1) == np.arange(len(TEXTS))).all()
    # Activations are quantised per batch, so a text's batch-mates move its vector a little
    # (as much as the quantisation itself), never far enough to change what is nearest.
    alone = np.vstack([embedder.embed([text]) for text in TEXTS])
    assert (alone * ours).sum(axis=1).min() > 0.98
    assert (np.argmax(alone @ ours.T, axis=1) == np.arange(len(TEXTS))).all()
    assert embedder.embed([]).shape == (0, 384)
    assert "volcano" in embedder.words and "##s" not in embedder.words


def test_the_export_is_made_once_and_found_by_other_processes(embedder: Embedder) -> None:
    models = Path(os.environ[MODELS_VARIABLE])
    exported = export_dir(DEFAULT_MODEL, models)
    assert sorted(p.name for p in exported.iterdir()) == [
        "briefbot.json",
        "model-int8.onnx",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    assert (exported / "model-int8.onnx").stat().st_size < 30 * 2**20
    assert [p for p in models.iterdir() if p.name.startswith(".")] == []  # no half exports
    # Another data directory, the same settings: the model this process loaded is reused.
    settings = EmbeddingSettings(cache_dir=models)
    assert load_embedder(settings, cache=Path("/nonexistent")) is embedder


def test_switching_backend_embeds_the_articles_again_and_keeps_both(make_bot: MakeBot) -> None:
    bot = make_bot()
    bot.ingest_service.ingest_articles([(a.title, a) for a in VOLCANO])
    torch_settings = bot.settings.model_copy(
        update={"embedding": bot.settings.embedding.model_copy(update={"backend": "torch"})}
    )
    other = Briefbot(torch_settings)
    assert other.prepare() == bot.store.count_passages()  # every passage embedded by torch
    counts = other.store.vector_counts()
    assert counts == {
        DEFAULT_MODEL: bot.store.count_passages(),
        vector_space(DEFAULT_MODEL): bot.store.count_passages(),
    }
    assert other.health().problems == [] and bot.health().problems == []
    for each in (bot, other):
        answer = each.ask_service.ask(
            "Which town did the lava reach?", now=VOLCANO[-1].published_at
        )
        assert answer.found and "Grindavik" in answer.quotes[0].text


def test_a_model_the_export_cannot_take_is_refused_in_one_line(tmp_path: Path) -> None:
    model = tmp_path / "cls-model"
    SentenceTransformerEmbedder(DEFAULT_MODEL)._model.save(str(model))
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    if "pooling_mode" in config:
        config["pooling_mode"] = "cls"
    else:
        config |= {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
    pooling.write_text(json.dumps(config))
    settings = EmbeddingSettings(model=str(model), cache_dir=tmp_path / "models")
    with pytest.raises(SettingsError, match="mean-pooling") as refused:
        load_embedder(settings, cache=tmp_path)
    assert "\n" not in str(refused.value) and "BACKEND=torch" in str(refused.value)
