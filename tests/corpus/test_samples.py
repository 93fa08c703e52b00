from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path
from typing import Protocol

import pytest

from corpus.samples import SAMPLES_DIR

WIKINEWS = SAMPLES_DIR / "wikinews-2005-07.jsonl"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "clean_wikinews.py"


class CleanText(Protocol):
    def __call__(self, text: str, counts: Counter[str] | None = None) -> str: ...


def load_clean_text() -> CleanText:
    """The script's cleaning function, loaded from its file: scripts/ is not a package."""
    spec = importlib.util.spec_from_file_location("clean_wikinews", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    clean_text: CleanText = module.clean_text
    return clean_text


clean_text = load_clean_text()

# What the wikitext conversion left in the article texts (issue 14), written independently of
# the cleaning rules so that a rule that misses a case fails here.
RESIDUE = [
    pytest.param(r"(?i)infobox", id="infobox name"),
    pytest.param(
        r"Germanelection2005|Haveyoursay|^(?:Original(?: reporting)?|[Pp]ublish)$|[.!?] publish$",
        id="status template name",
    ),
    pytest.param(r"\(-\)", id="empty party template"),
    pytest.param(r"^(?:right|left|center|thumb) (?=[A-Z])", id="image alignment word"),
    pytest.param(
        r"(?i)thumb\||\b\d+px\b|Source: Wikicommons|\.(?:jpe?g|png|svg|gif)\b", id="image markup"
    ),
    pytest.param(r"https?://|ftp://", id="raw external link"),
    pytest.param(r"\[\[|\]\]|\{\{|\}\}", id="link or template brackets"),
    pytest.param(r"&(?:[a-z]+|#\d+);", id="html entity"),
    pytest.param(r"(?i)\b(?:category|image|file|w):", id="namespace prefix"),
    pytest.param(r"''|^=+|=+$|::", id="wiki formatting"),
    pytest.param(r"^Related links$", id="related links section"),
    pytest.param(r"\b[A-Z][a-z]+ (?:ian|ese|n|i)\b", id="split suffix"),
    # After a two-letter word the linked name itself was lost ("said on 's Inside Politics").
    pytest.param(r"[A-Za-z]{3} (?:'s\b|' )|[A-Za-z] -[A-Za-z]", id="split possessive or hyphen"),
    pytest.param(r"\b(?:its|the)[A-Z]", id="glued word"),
    pytest.param(
        r"U\.S\.\n\n(?:President|Vice-President|House of Representatives)\b",
        id="paragraph break after U.S.",
    ),
    pytest.param(r"  | [,.;:!?]|^ | $|\n{3,}", id="stray whitespace"),
]


def sample_texts() -> list[tuple[str, str]]:
    records = [json.loads(line) for line in WIKINEWS.read_text(encoding="utf-8").splitlines()]
    return [(record["title"], record["text"]) for record in records]


@pytest.mark.parametrize("pattern", RESIDUE)
def test_the_sample_corpus_holds_no_conversion_residue(pattern: str) -> None:
    residue = re.compile(pattern, re.MULTILINE)
    found = [
        f"{title}: {text[max(0, m.start() - 30) : m.end() + 30]!r}"
        for title, text in sample_texts()
        for m in residue.finditer(text)
    ]
    assert found == []


def test_the_sample_corpus_is_what_the_cleaning_script_leaves() -> None:
    texts = sample_texts()
    assert len(texts) == 148
    assert [text for _, text in texts] == [clean_text(text) for _, text in texts]


@pytest.mark.parametrize(
    ("dirty", "clean", "rule"),
    [
        pytest.param(
            "2005 London bombing infobox Some stock markets fell.\n\nThey rose later. publish",
            "Some stock markets fell.\n\nThey rose later.",
            "template names",
            id="template names",
        ),
        pytest.param(
            "right U.S. President George W. Bush suspended all sanctions.",
            "U.S. President George W. Bush suspended all sanctions.",
            "image residue",
            id="image residue",
        ),
        pytest.param(
            "The FTSE 100 [http://newsvote.bbc.co.uk/1/default.stm], the yardstick, fell. "
            "[http://www.commonsenseadvisory.com Common Sense Advisory] agreed.",
            "The FTSE 100, the yardstick, fell. Common Sense Advisory agreed.",
            "raw external links",
            id="raw external links",
        ),
        pytest.param(
            "Egypt ian police broke up a protest against Hosni Mubarak 's US -backed campaign.",
            "Egyptian police broke up a protest against Hosni Mubarak's US-backed campaign.",
            "split words",
            id="split words",
        ),
        pytest.param(
            "President Bush is lobbying the U.S.\n\nHouse of Representatives to pass CAFTA.",
            "President Bush is lobbying the U.S. House of Representatives to pass CAFTA.",
            "layout",
            id="layout",
        ),
    ],
)
def test_each_rule_cleans_its_residue(dirty: str, clean: str, rule: str) -> None:
    counts: Counter[str] = Counter()
    assert clean_text(dirty, counts) == clean
    assert set(counts) == {rule}


@pytest.mark.parametrize(
    "text",
    [
        "Sir Ian Blair said the right to protest stays.\n\nThe marines left.",
        'Rice had called North Korea an "outpost of tyranny", he said on \'s Inside Politics.',
        'He said "12 [of 18] provinces" are calm, and left for the U.S.\n\nAlong the way he slept.',
    ],
)
def test_real_words_and_editorial_brackets_are_left_alone(text: str) -> None:
    assert clean_text(text) == text
