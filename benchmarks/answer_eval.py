"""Answer evaluation on the Wikinews development questions: do the quotes answer the question?

Corpus: the Wikinews demo window (1,007 articles, 2005-02-28 to 2005-10-21), ingested as a
user would. Questions: ``wikinews/questions_dev.jsonl`` (80 fact, 20 time with a reference
``now``, 20 the window does not cover). Scoring, as the dataset's README defines it:

- **hit@3** (fact, time): one of the first three quotes comes from a listed article and
  contains one of the question's keywords;
- **highlight hit**: a keyword lies inside the highlighted sentence(s) of the first such quote;
- **refused** (none): the answer says nothing was found; refusals of answerable questions are
  counted too (false refusals);
- **quotes per answer**: how many quotes an answered question gets (padding shows here).

    .venv/bin/python benchmarks/answer_eval.py --data-dir /tmp/wikinews-data
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from bot.migration import migrate
from bot.services.ask import Answer, AskService, Retrieval
from bot.settings import load_settings
from bot.wiring import Briefbot

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "wikinews"
KINDS = ("fact", "time", "none")


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    text: str
    now: datetime | None
    urls: frozenset[str]
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Scored:
    question: Question
    found: Retrieval
    answer: Answer
    hit: bool
    highlight_hit: bool
    seconds: float

    @property
    def refused(self) -> bool:
        return not self.answer.found


def load_questions(path: Path) -> list[Question]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            questions.append(
                Question(
                    id=row["id"],
                    kind=row["kind"],
                    text=row["question"],
                    now=datetime.fromisoformat(row["now"]) if row["now"] else None,
                    urls=frozenset(row["urls"]),
                    keywords=tuple(row["keywords"]),
                )
            )
    return questions


def score(question: Question, found: Retrieval, answer: Answer, seconds: float) -> Scored:
    """The first correct quote among the top three, and whether its highlight holds a keyword."""
    for quote in answer.quotes[:3]:
        if quote.url in question.urls and any(k in quote.text for k in question.keywords):
            highlighted = any(k in quote.highlight for k in question.keywords)
            return Scored(question, found, answer, True, highlighted, seconds)
    return Scored(question, found, answer, False, False, seconds)


def report(results: Sequence[Scored]) -> None:
    print(
        f"\n{'kind':<6} {'n':>4} {'hit@3':>7} {'highlight':>10} {'refused':>8} {'quotes/ans':>11}"
    )
    for kind in KINDS:
        rows = [r for r in results if r.question.kind == kind]
        if not rows:
            continue
        hits = [r for r in rows if r.hit]
        answered = [r for r in rows if not r.refused]
        quotes = statistics.mean(len(r.answer.quotes) for r in answered) if answered else 0.0
        hit = f"{len(hits)}/{len(rows)}" if kind != "none" else "-"
        marked = f"{sum(r.highlight_hit for r in hits)}/{len(hits)}" if kind != "none" else "-"
        refused = f"{len(rows) - len(answered)}/{len(rows)}"
        print(f"{kind:<6} {len(rows):>4} {hit:>7} {marked:>10} {refused:>8} {quotes:>11.2f}")
    answered = [r for r in results if not r.refused]
    if answered:
        print(
            "mean quotes per answered question:"
            f" {statistics.mean(len(r.answer.quotes) for r in answered):.2f}"
        )
    seconds = sorted(r.seconds for r in results)
    print(
        f"answer time: median {statistics.median(seconds) * 1000:.0f} ms,"
        f" p95 {seconds[int(0.95 * (len(seconds) - 1))] * 1000:.0f} ms"
    )


def details(results: Sequence[Scored]) -> list[dict[str, object]]:
    return [
        {
            "id": r.question.id,
            "kind": r.question.kind,
            "question": r.question.text,
            "hit": r.hit,
            "highlight_hit": r.highlight_hit,
            "keywords": r.question.keywords,
            "urls": sorted(r.question.urls),
            "answer": r.answer.to_dict(),
            "unknown_names": r.found.found.unknown_names,
            "evidence": [
                {
                    "url": e.article.url,
                    "correct": e.article.url in r.question.urls
                    and any(k in e.passage.text for k in r.question.keywords),
                    "score": round(e.score, 4),
                }
                for e in r.found.evidence
            ],
        }
        for r in results
    ]


def run(service: AskService, questions: Sequence[Question]) -> list[Scored]:
    results = []
    for question in questions:
        started = time.perf_counter()
        found = service.retrieve(question.text, now=question.now)
        answer = service.answer(found)
        results.append(score(question, found, answer, time.perf_counter() - started))
    return results


def first_quote(result: Scored) -> tuple[int, str] | None:
    """Which passage was quoted first (scores differ in the last digits between backends)."""
    quotes = result.answer.quotes
    return (quotes[0].article_id, quotes[0].text) if quotes else None


def misspelt(question: str) -> str:
    """The question with its longest lower-case word missing a middle letter, as a hurried
    typist writes it ("bombng"); deterministic, so runs compare."""
    words: list[str] = re.findall(r"\b[a-z]{5,}\b", question)
    if not words:
        return question
    word = max(words, key=len)
    middle = len(word) // 2
    return re.sub(rf"\b{word}\b", word[:middle] + word[middle + 1 :], question, count=1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument(
        "--data-dir", type=Path, help="keep the ingested corpus here and reuse it on later runs"
    )
    parser.add_argument("--details", type=Path, help="write every answer here as JSON")
    parser.add_argument(
        "--database-url",
        help="also answer on this PostgreSQL database (the corpus copied there, not re-embedded)"
        " and print both backends' figures and every question whose first quote differs",
    )
    parser.add_argument(
        "--typos",
        action="store_true",
        help="misspell one word of each question, and compare answers without spelling correction",
    )
    args = parser.parse_args(argv)

    questions = load_questions(args.datasets / "questions_dev.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(_env_file=None, data_dir=args.data_dir or Path(tmp))
        bot = Briefbot(settings)
        bot.prepare()
        if bot.store.count_articles() == 0:
            started = time.perf_counter()
            corpus = args.datasets / "wikinews_demo_window.jsonl"
            ingested = bot.ingest_service.ingest_paths([corpus])
            print(
                f"ingested {len(ingested.added)} articles in {time.perf_counter() - started:.0f} s"
            )
        if args.typos:
            questions = [replace(q, text=misspelt(q.text)) for q in questions]
            uncorrected = copy.copy(bot.ask_service)
            uncorrected.spelling = None
            print("\nmisspelt questions, without spelling correction:")
            report(run(uncorrected, questions))
            print("\nmisspelt questions, with spelling correction:")
        results = run(bot.ask_service, questions)
        print(f"{len(questions)} questions over {bot.store.count_articles()} articles")
        if args.database_url:
            postgres, _ = migrate(bot, args.database_url)
            compared = run(postgres.ask_service, questions)
    report(results)
    if args.database_url:
        print("\non PostgreSQL:")
        report(compared)
        differ = [
            a.question.text
            for a, b in zip(results, compared, strict=True)
            if first_quote(a) != first_quote(b)
        ]
        print(f"\nfirst quote differs between backends on {len(differ)} of {len(results)}:")
        for text in differ:
            print(f"  {text}")
    if args.details:
        args.details.write_text(json.dumps(details(results), indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
