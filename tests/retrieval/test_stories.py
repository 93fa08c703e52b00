"""Stories on small fixed fixtures: grouping, threads across days, ranking and its ties, topics."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import numpy as np

from corpus.model import Article
from retrieval.embedding import Embedder
from retrieval.stories import (
    Rarity,
    cluster,
    importance,
    matching_topic,
    reactions_named,
    shared_names,
    signals,
    thread,
)
from retrieval.window import Window

DAY = Window.day(date(2005, 7, 7), UTC)


def _article(title: str, text: str, *, hour: int = 12, source: str = "Wire") -> Article:
    return Article(
        title=title, text=text, source=source, published_at=datetime(2005, 7, 7, hour, tzinfo=UTC)
    )


# One event told from three angles, and two unrelated stories that share its common words.
ANGLES = [
    _article(
        "Stock markets fall after London blasts",
        "Stock markets in London and across Europe fell sharply on Thursday after explosions "
        "on the London Underground and a bus in Tavistock Square. The FTSE 100 dropped 200 "
        "points before recovering as traders weighed the attacks on London's transport.",
    ),
    _article(
        "France raises terror alert after London Underground bombings",
        "France raised its terror alert level on Thursday after the bombings on the London "
        "Underground and a bus in Tavistock Square killed dozens of people. The Paris metro "
        "increased patrols, officials said, after the attacks on London's transport network.",
    ),
    _article(
        "Group claims responsibility for London Underground attacks",
        "A group calling itself the Secret Organisation of al-Qaeda in Europe claimed "
        "responsibility for the bombings on the London Underground and a bus in Tavistock "
        "Square, in a statement posted on a website on Thursday.",
    ),
]
UNRELATED = [
    _article(
        "Stock markets rise in Tokyo on export figures",
        "Stock markets in Tokyo rose on Thursday as export figures beat forecasts, traders said, "
        "with car makers leading the Nikkei higher.",
    ),
    _article(
        "Senator Rick Santorum writes book on family values",
        "US Senator Rick Santorum of Pennsylvania has written a book on family values, his "
        "publisher said on Thursday, due out before the 2006 campaign.",
    ),
]
RARITY = Rarity({"said": 900, "thursday": 500, "stock": 40, "market": 60}, 1000)


def _links(articles: list[Article], embedder: Embedder, threshold: float = 0.28) -> np.ndarray:
    meaning = embedder.embed([f"{a.title}. {a.text}" for a in articles])
    found = signals(articles, meaning, rarity=RARITY, embed=embedder.embed)
    return found.links(found.similarity(), threshold)


def test_one_event_told_from_different_angles_is_one_story(embedder: Embedder) -> None:
    groups = cluster(_links(ANGLES + UNRELATED, embedder))
    assert groups[0] == [0, 1, 2]
    assert sorted(groups[1:]) == [[3], [4]]


# Reactions on one day to an event none of them reports, in words they do not share, and an
# explosion elsewhere that day.
REACTIONS = [
    _article(
        "Airline shares slump after Rotterdam port blast",
        "Shares in European airlines and insurers fell sharply on Tuesday as investors sold "
        "travel stocks. KLM lost 6% and Lufthansa 5% by midday, dealers reported.",
    ),
    _article(
        "Belgium tightens border checks in response to the Rotterdam explosion",
        "Belgian police stopped lorries at crossings near Antwerp, the interior minister "
        "announced, and extra officers were sent to railway stations in Brussels.",
    ),
    _article(
        "Gas explosion destroys bakery in Lyon",
        "A gas explosion destroyed a bakery in Lyon early on Tuesday, injuring two people, "
        "after a leak in the basement, the fire service said.",
    ),
]


def test_reactions_name_the_event_they_react_to() -> None:
    assert reactions_named(REACTIONS[0]) == ["Rotterdam port blast"]
    assert reactions_named(REACTIONS[1]) == ["Rotterdam explosion"]
    assert reactions_named(UNRELATED[1]) == []


def test_reactions_to_one_event_are_one_story_without_sharing_its_words(
    embedder: Embedder,
) -> None:
    meaning = embedder.embed([f"{a.title}. {a.text}" for a in REACTIONS])
    found = signals(REACTIONS, meaning, rarity=RARITY, embed=embedder.embed)
    similarity = found.similarity()
    assert similarity[0, 1] < 0.28  # their words and meaning alone would keep them apart
    assert found.links(similarity, 0.28)[0, 1]
    # Another explosion that day names another place: not the same event.
    assert not found.reactions[2, :2].any()
    assert cluster(found.links(similarity, 0.28)) == [[0, 1], [2]]


def test_a_reaction_is_linked_only_to_an_event_of_the_days_just_before(embedder: Embedder) -> None:
    # The same words two weeks on name another blast: a second attack is its own story.
    later = replace(REACTIONS[1], published_at=datetime(2005, 7, 21, 12, tzinfo=UTC))
    articles = [REACTIONS[0], later]
    meaning = embedder.embed([f"{a.title}. {a.text}" for a in articles])
    assert not signals(articles, meaning, rarity=RARITY, embed=embedder.embed).reactions.any()


def test_a_story_says_which_names_its_articles_share() -> None:
    forms = [{"london": "London", "tavistock": "Tavistock", "ftse": "FTSE"}] * 2 + [
        {"london": "London", "franc": "France"}
    ]
    rarity = Rarity({"london": 50, "tavistock": 2, "ftse": 5, "franc": 30}, 1000)
    # Tavistock and FTSE are in two articles, London in three but far more common.
    assert shared_names(forms, rarity=rarity) == ["Tavistock", "FTSE", "London"]
    assert shared_names(forms[:1], rarity=rarity) == []


def test_single_linkage_groups_through_a_middle_article_largest_first() -> None:
    links = np.eye(5, dtype=bool)
    for a, b in [(0, 3), (3, 4)]:
        links[a, b] = links[b, a] = True
    assert cluster(links) == [[0, 3, 4], [1], [2]]
    assert cluster(np.zeros((0, 0), dtype=bool)) == []


def test_a_thread_follows_earlier_articles_back_through_each_other() -> None:
    # 0-1 are the window's story; 2 links to 1; 3 links only to 2; 4 is unrelated.
    links = np.eye(5, dtype=bool)
    for a, b in [(0, 1), (1, 2), (2, 3)]:
        links[a, b] = links[b, a] = True
    assert thread(links, [0, 1], [2, 3, 4]) == [2, 3]
    assert thread(links, [4], [2, 3]) == []


def test_the_largest_story_leads_and_ties_break_on_what_matters() -> None:
    big = importance(ANGLES, days=1, salience=0.1, window=DAY)
    small = importance(ANGLES[:2], days=9, salience=0.9, window=DAY)
    assert big > small  # size first: the window's largest story is never ranked out
    one = importance(ANGLES[:1], days=1, salience=0.0, window=DAY)
    running = importance(ANGLES[1:2], days=3, salience=0.0, window=DAY)
    assert running > one  # same size: the story that has run longer
    same = [_article("A", "word " * 50), _article("B", "word " * 80)]
    first, second = (importance([a], days=1, salience=0.0, window=DAY) for a in same)
    assert second > first  # all else equal: more was written on it, never input order
    later = importance([_article("C", "word " * 50, hour=20)], days=1, salience=0.0, window=DAY)
    assert later > first  # all else equal: the more recent story


def test_a_topic_labels_only_stories_about_it(embedder: Embedder) -> None:
    topics = ["London bombings", "Gaza"]
    vectors = embedder.embed(topics)
    gaza = [
        _article(
            "Israeli air strike in Gaza after rocket attack",
            "Israel carried out an air strike in Gaza City on Thursday after militants fired "
            "rockets at the town of Sderot, a day after the bombings in London.",
        )
    ]

    def topic_of(members: list[Article]) -> str | None:
        meaning = embedder.embed([f"{a.title}. {a.text}" for a in members]).mean(axis=0)
        meaning /= np.linalg.norm(meaning)
        return matching_topic(members, meaning, topics, vectors, threshold=0.3)

    assert topic_of(gaza) == "Gaza"
    assert topic_of(ANGLES) == "London bombings"
    assert topic_of(UNRELATED[1:]) is None
