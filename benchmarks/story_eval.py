"""Story evaluation on the hand-labelled Wikinews stories: does a briefing group and lead right?

Corpus: the Wikinews demo window (1,007 articles), ingested as a user would. Labels:
``wikinews/stories_dev.jsonl`` (every article outside July 2005 with a story slug). Briefings
are made through the public briefing service over every 1-day window and every Monday-to-Sunday
week that holds labelled articles (July 2005 is held out and skipped), and scored as the
dataset's README defines:

- **pairwise** precision / recall / F1 over article pairs in the same window: a pair is
  predicted together when the briefing puts both in one story, and truly together when they
  share a label (summed over windows);
- **B-cubed** F1: per article, the share of its predicted story that truly belongs with it and
  the share of its true story that was put with it, averaged;
- **lead story**: the briefing's first story is the window's largest labelled story (any of
  them on a tie), counted on windows whose largest story has two or more articles;
- **threads**: on each day, the earlier articles (of the ``THREAD_DAYS`` before) that a story
  is shown to continue, against those of its label (the label most of its articles have):
  precision and recall over all stories, and how many stories marked as an update truly
  continue one;
- **timelines**: every labelled story of three or more articles is asked for by the words of its
  label (``hurricane-katrina-2005``: "hurricane katrina"), as ``briefbot story`` would be; the
  precision and recall of the timeline's articles against the story's, averaged over stories
  (July 2005 articles, unlabelled, are not counted), and how many timelines are exactly right.

    .venv/bin/python benchmarks/story_eval.py --data-dir /tmp/wikinews-data

``--baseline REF`` (by default the single-embedding clustering this design replaced) prints that
revision's figures on the same corpus too, run from a temporary git worktree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from itertools import combinations
from pathlib import Path

from bot.settings import load_settings
from bot.wiring import Briefbot
from retrieval.window import Window

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "wikinews"
# The last revision whose briefings grouped articles by one embedding alone (issue 14's start).
BASELINE = "2af50dd"
# Every story of a window, not just the few a briefing shows.
ALL_STORIES = 10_000


@dataclass
class Scores:
    """Counts summed over windows, turned into the figures printed."""

    predicted_pairs: int = 0
    true_pairs: int = 0
    agreed_pairs: int = 0
    bcubed_precision: float = 0.0
    bcubed_recall: float = 0.0
    articles: int = 0
    lead_hits: int = 0
    lead_windows: int = 0

    def add(self, predicted: Sequence[set[str]], labels: dict[str, str]) -> None:
        """One window: the briefing's stories (as sets of URLs) against the labels."""
        cluster = {url: index for index, story in enumerate(predicted) for url in story}
        urls = sorted(u for u in labels if u in cluster)
        for a, b in combinations(urls, 2):
            together, truly = cluster[a] == cluster[b], labels[a] == labels[b]
            self.predicted_pairs += together
            self.true_pairs += truly
            self.agreed_pairs += together and truly
        for url in urls:
            mine = {u for u in urls if cluster[u] == cluster[url]}
            gold = {u for u in urls if labels[u] == labels[url]}
            self.bcubed_precision += len(mine & gold) / len(mine)
            self.bcubed_recall += len(mine & gold) / len(gold)
        self.articles += len(urls)
        sizes = Counter(labels[u] for u in urls)
        largest = max(sizes.values(), default=0)
        if largest >= 2:
            self.lead_windows += 1
            leaders = {story for story, size in sizes.items() if size == largest}
            first = Counter(labels[u] for u in predicted[0] if u in labels) if predicted else {}
            self.lead_hits += bool(first) and max(first, key=lambda s: first[s]) in leaders

    def row(self, name: str) -> str:
        precision = self.agreed_pairs / self.predicted_pairs if self.predicted_pairs else 0.0
        recall = self.agreed_pairs / self.true_pairs if self.true_pairs else 0.0
        f1 = _f1(precision, recall)
        bp = self.bcubed_precision / self.articles if self.articles else 0.0
        br = self.bcubed_recall / self.articles if self.articles else 0.0
        bf = _f1(bp, br)
        return (
            f"{name:<10} {precision:6.3f} {recall:6.3f} {f1:6.3f} {bf:8.3f}"
            f" {self.lead_hits:>5}/{self.lead_windows}"
        )


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def load_labels(path: Path) -> dict[str, tuple[date, str]]:
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)
    return {r["url"]: (date.fromisoformat(r["published"]), r["story"]) for r in rows}


def windows(days: Iterable[date], *, width: int) -> list[tuple[date, date]]:
    """The 1-day windows, or Monday-to-Sunday weeks, that hold labelled articles."""
    starts = sorted({d - timedelta(days=d.weekday() if width == 7 else 0) for d in days})
    return [(start, start + timedelta(days=width)) for start in starts]


def evaluate(bot: Briefbot, labels: dict[str, tuple[date, str]], *, width: int) -> Scores:
    scores = Scores()
    for start, end in windows({day for day, _ in labels.values()}, width=width):
        first = Window.day(start, UTC)
        window = Window(first.start, first.start + timedelta(days=width))
        briefing = bot.briefing_service.brief(window, limit=ALL_STORIES)
        predicted = [{a.url for a in story.sources if a.url} for story in briefing.stories]
        # Labels exist only outside July 2005, so its articles never count.
        in_window = {url: story for url, (day, story) in labels.items() if start <= day < end}
        scores.add(predicted, in_window)
    return scores


def evaluate_threads(bot: Briefbot, labels: dict[str, tuple[date, str]]) -> str:
    """The threads row: each day's stories' earlier articles against their label's."""
    reach = timedelta(days=bot.briefing_service.thread_days)
    found = right = truly = marked = marked_right = 0
    for start, _ in windows({day for day, _ in labels.values()}, width=1):
        briefing = bot.briefing_service.brief(Window.day(start, UTC), limit=ALL_STORIES)
        for story in briefing.stories:
            votes = Counter(labels[a.url][1] for a in story.sources if a.url in labels)
            if not votes:
                continue
            label = votes.most_common(1)[0][0]
            earlier = {a.url for a in story.earlier if a.url in labels}
            truth = {
                url
                for url, (day, slug) in labels.items()
                if slug == label and start - reach <= day < start
            }
            found += len(earlier)
            right += len(earlier & truth)
            truly += len(truth)
            marked += bool(earlier)
            marked_right += bool(earlier and truth)
    precision = right / found if found else 0.0
    recall = right / truly if truly else 0.0
    f1 = _f1(precision, recall)
    return (
        f"{'threads':<10} {precision:6.3f} {recall:6.3f} {f1:6.3f}"
        f"   updates right {marked_right}/{marked}"
    )


def evaluate_timelines(bot: Briefbot, labels: dict[str, tuple[date, str]]) -> str:
    """The timelines row: each labelled story of 3+ articles asked for by its label's words."""
    stories: dict[str, set[str]] = {}
    for url, (_, story) in labels.items():
        stories.setdefault(story, set()).add(url)
    precision = recall = 0.0
    exact = asked = 0
    for slug, truth in sorted(stories.items()):
        if len(truth) < 3:
            continue
        words = " ".join(word for word in slug.split("-") if not word.isdigit())
        timeline = bot.briefing_service.timeline(words)
        entries = timeline.stories if timeline else []
        found = {a.url for e in entries for a in e.sources if a.url in labels}
        precision += len(found & truth) / len(found) if found else 0.0
        recall += len(found & truth) / len(truth)
        exact += found == truth
        asked += 1
    if not asked:
        return f"{'timelines':<10} no labelled story of three or more articles"
    precision, recall = precision / asked, recall / asked
    f1 = _f1(precision, recall)
    return f"{'timelines':<10} {precision:6.3f} {recall:6.3f} {f1:6.3f}   exact {exact}/{asked}"


def baseline_rows(ref: str, data_dir: Path, datasets: Path) -> list[str]:
    """The figures of revision ``ref``'s briefings on the same corpus: this script as it was
    there, run from a temporary git worktree."""
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        git = ["git", "-C", str(repo)]
        subprocess.run([*git, "worktree", "add", "--detach", str(tree), ref], check=True)
        try:
            script = ["benchmarks/story_eval.py", "--data-dir", str(data_dir)]
            ran = subprocess.run(
                [sys.executable, *script, "--datasets", str(datasets)],
                cwd=tree,
                env={**os.environ, "PYTHONPATH": str(tree)},
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=True)
    return [line for line in ran.stdout.splitlines() if line.startswith(("1-day", "7-day"))]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument(
        "--data-dir", type=Path, help="keep the ingested corpus here and reuse it on later runs"
    )
    parser.add_argument(
        "--baseline",
        default=BASELINE,
        metavar="REF",
        help="also score this git revision's clustering ('' to skip) [default: %(default)s, the "
        "single-embedding clustering]",
    )
    args = parser.parse_args(argv)

    labels = load_labels(args.datasets / "stories_dev.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp)
        bot = Briefbot(load_settings(_env_file=None, data_dir=data_dir))
        bot.prepare()
        # Grouping and order are scored, not quotes: choosing key sentences would take most of
        # the run's time.
        bot.briefing_service.key_sentences_per_story = 0
        if bot.store.count_articles() == 0:
            started = time.perf_counter()
            report = bot.ingest_service.ingest_paths([args.datasets / "wikinews_demo_window.jsonl"])
            print(f"ingested {len(report.added)} articles in {time.perf_counter() - started:.0f} s")
        print(f"{len(labels)} labelled articles, {len({s for _, s in labels.values()})} stories")
        print(f"\n{'windows':<10} {'P':>6} {'R':>6} {'F1':>6} {'B3 F1':>8} {'lead':>7}")
        for width, name in ((1, "1-day"), (7, "7-day")):
            print(evaluate(bot, labels, width=width).row(name))
        print(evaluate_threads(bot, labels))
        print(evaluate_timelines(bot, labels))
        if args.baseline:
            print(f"\nbaseline: the clustering of {args.baseline}")
            for row in baseline_rows(args.baseline, data_dir, args.datasets):
                print(row)


if __name__ == "__main__":
    main()
