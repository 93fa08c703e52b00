"""The sample corpus shipped with briefbot, so a new install has something to answer from."""

from __future__ import annotations

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
