"""The core pipeline end to end: real model, real FAISS, real SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.services.ask import QuestionError
from bot.wiring import Briefbot
from corpus.model import Article
from tests.articles import KIM
from tests.cli_harness import copy_data_dir
from tests.conftest import MakeBot

SMALL = [
    Article(
        title="Volcano erupts in Iceland",
        text="A volcano on the Reykjanes peninsula erupted on Monday night, sending lava towards "
        "the town of Grindavik. Residents had been evacuated days earlier.",
        url="https://news.example/volcano",
        source="Example News",
        published_at=datetime(2024, 1, 15, 7, tzinfo=UTC),
    ),
    Article(
        title="Central bank holds rates",
        text="The central bank kept its main interest rate at 4.5 percent on Thursday, "
        "citing slowing inflation and a weak housing market.",
        url="https://news.example/rates",
        source="Money Wire",
        published_at=datetime(2024, 1, 18, 12, tzinfo=UTC),
    ),
]


def _items(articles: list[Article]) -> list[tuple[str, Article]]:
    return [(a.url or a.title, a) for a in articles]


def test_sample_question_quotes_the_frigate_passage(sample_bot: Briefbot) -> None:
    answer = sample_bot.ask_service.ask(KIM)
    assert answer.found
    top = answer.quotes[0]
    assert "Marshal Shaposhnikov" in top.text
    assert "Marshal Shaposhnikov" in top.highlight
    assert top.source == "TASS"
    assert top.published_at is not None and top.published_at.date().isoformat() == "2023-09-19"
    assert top.title.startswith("Tokyo, Seoul, Washington concerned")
    # Quotes are verbatim: the passage is a slice of the stored article.
    article = sample_bot.store.articles([top.article_id])[top.article_id]
    assert top.text in article.text
    # Never the same passage twice.
    assert len({q.passage_id for q in answer.quotes}) == len(answer.quotes)


def test_unrelated_question_gets_the_nothing_found_answer(sample_bot: Briefbot) -> None:
    answer = sample_bot.ask_service.ask("What is the best pizza dough recipe?")
    assert not answer.found
    assert answer.quotes == []
    assert answer.note and "couldn't find anything" in answer.note


def test_a_question_about_something_no_article_names_is_refused_naming_it(
    sample_bot: Briefbot,
) -> None:
    """Google is in the sample articles, YouTube is not: quoting Google stories would mislead."""
    answer = sample_bot.ask_service.ask("How much is Google paying to buy YouTube?")
    assert not answer.found
    assert answer.note == "I couldn't find anything about “YouTube” in the articles I have."


def _friday(slug: str, title: str, text: str) -> Article:
    """An article of 19 January 2024 at news.example/``slug``."""
    return Article(
        title=title,
        text=text,
        url=f"https://news.example/{slug}",
        source="Example News",
        published_at=datetime(2024, 1, 19, 9, tzinfo=UTC),
    )


def _with_small(make_bot: MakeBot, article: Article) -> Briefbot:
    """A bot holding ``article`` beside the two small ones."""
    bot = make_bot()
    bot.ingest_service.ingest_articles(_items([article, *SMALL]))
    return bot


TEXTBOOK = _friday(
    "textbook",
    "Historians publish a shared textbook",
    "Historians from China, Japan and South Korea published a joint history textbook of "
    "East Asia on Friday, called History to Open the Future. The Asian neighbours hope it will "
    "ease their disputes over the war.",
)


def test_a_name_of_everyday_words_worded_otherwise_is_answered_a_rare_one_is_not(
    make_bot: MakeBot,
) -> None:
    bot = _with_small(make_bot, TEXTBOOK)
    # "East Asian" is nowhere, but "East Asia" and "Asian" are: the articles word it otherwise.
    answer = bot.ask_service.ask("What is the joint East Asian history textbook called?")
    assert answer.found
    assert "History to Open the Future" in answer.quotes[0].text
    # Reykjanes and Grindavik are both in the volcano article, never together: a rare word is
    # spelled the same wherever it is, so this names a place no article knows, however close
    # the volcano article is to the question.
    question = "Did the volcano on the Reykjanes Grindavik peninsula erupt on Monday night?"
    answer = bot.ask_service.ask(question)
    assert not answer.found
    assert answer.note == (
        "I couldn't find anything about “Reykjanes Grindavik” in the articles I have."
    )


def test_misspelt_words_are_read_as_the_articles_words(sample_bot: Briefbot) -> None:
    answer = sample_bot.ask_service.ask("londn bombng suspcts")
    assert answer.found
    assert answer.note == "(Searched for “london bombing suspect”.)"
    assert all("London" in q.title for q in answer.quotes)
    # A name is taken as typed: one no article mentions is said to be unknown.
    assert sample_bot.ask_service.ask("What did the mayor of Londn say?").note == (
        "I couldn't find anything about “Londn” in the articles I have."
    )


BRIDGE = Article(
    title="Harbour bridge reopens after repairs",
    text="\n\n".join(
        [
            "The harbour bridge reopened to traffic on Friday after eight months of repairs,"
            " the city council said. Drivers queued from early morning to cross the bridge.",
            "The bridge was closed in March when inspectors found corroded cables beneath the"
            " deck. Ferries carried commuters across the harbour while it was shut, and the"
            " council added extra buses on the ring road.",
            "Local shops near the bridge said trade had fallen during the closure. Several"
            " cafes on the waterfront cut their opening hours over the winter months.",
            "Engineers replaced forty cables and resurfaced the deck. The repairs cost 12.4"
            " million euros, the council's finance officer said, slightly over the budget.",
            "The council plans to inspect the cables every two years from now on.",
        ]
    ),
    url="https://news.example/bridge",
    source="Harbour Times",
    published_at=datetime(2024, 1, 19, 9, tzinfo=UTC),
)


def test_the_answer_is_quoted_from_past_the_lead_and_highlighted(make_bot: MakeBot) -> None:
    bot = make_bot(retrieval={"chunk_words": 40})
    bot.ingest_service.ingest_articles(_items([BRIDGE, *SMALL]))
    answer = bot.ask_service.ask("How much did the harbour bridge repairs cost?")
    assert answer.found
    top = answer.quotes[0]
    assert "12.4 million euros" in top.text and "12.4 million euros" in top.highlight
    assert not top.text.startswith("The harbour bridge reopened")  # not the lead
    assert top.text in BRIDGE.text  # verbatim
    # No padding: the volcano and the central bank have nothing to say about the bridge.
    assert {q.url for q in answer.quotes} == {BRIDGE.url}


TUNNEL = _friday(
    "tunnel",
    "Alpine rail tunnel breakthrough",
    "Drilling ended on Friday with one last explosion under the mountain, joining the two "
    "halves of the new tunnel. Chief engineer Marta Keller triggered the explosives as the "
    "transport minister looked on.",
)


SUMMIT = _friday(
    "summit",
    "G8 summit ends in Scotland",
    "The leaders of the G8 nations met in Scotland this week to discuss aid for Africa. They "
    "agreed to raise it by $48 billion a year by 2010.",
)


def test_a_question_asking_how_much_highlights_a_figure_not_a_name_with_a_digit(
    make_bot: MakeBot,
) -> None:
    bot = _with_small(make_bot, SUMMIT)
    [quote] = bot.ask_service.ask("How much extra aid did the G8 promise Africa?").quotes
    # "G8" is a name, not an amount: without the figure, the first sentence alone would show.
    assert "$48 billion" in quote.highlight


INQUIRY = _friday(
    "inquiry",
    "Harbour fire inquiry",
    "The three suspects in the harbour fire\n\nPolice questioned Arjun Patel, Tomas Berg and Ivo "
    "Novak for a second day on Friday, their lawyers said.",
)


def test_a_heading_is_never_highlighted_as_the_answer(make_bot: MakeBot) -> None:
    bot = _with_small(make_bot, INQUIRY)
    [quote] = bot.ask_service.ask("Who are the three suspects in the harbour fire?").quotes
    assert quote.highlight.startswith("Police questioned Arjun Patel")


def test_a_question_asking_who_highlights_the_sentence_naming_someone_new(
    make_bot: MakeBot,
) -> None:
    bot = _with_small(make_bot, TUNNEL)
    [quote] = bot.ask_service.ask("Who set off the final blast in the Alpine rail tunnel?").quotes
    # The first sentence is closer to the question's words; the second alone answers it.
    assert quote.highlight == (
        "Chief engineer Marta Keller triggered the explosives as the transport minister looked on."
    )


@pytest.mark.parametrize("question", ["", "   \n\t ", "why " * 25_000])
def test_bad_questions_get_a_clear_error(sample_bot: Briefbot, question: str) -> None:
    with pytest.raises(QuestionError) as info:
        sample_bot.ask_service.ask(question)
    assert "empty" in str(info.value) or "too long" in str(info.value)


def test_ingest_is_idempotent(make_bot: MakeBot) -> None:
    bot = make_bot()
    first = bot.ingest_service.ingest_articles(_items(SMALL))
    assert len(first.added) == 2 and first.passages == 2
    again = bot.ingest_service.ingest_articles(_items(SMALL))
    assert again.added == []
    assert [d.of.title for d in again.duplicates] == [a.title for a in SMALL]
    # Same page behind a tracking link, and the same text under another URL: both duplicates.
    tracked = Article(**{**SMALL[0].__dict__, "url": f"{SMALL[0].url}?utm_source=feed#x"})
    copied = Article(**{**SMALL[1].__dict__, "url": "https://mirror.example/rates"})
    third = bot.ingest_service.ingest_articles(_items([tracked, copied]))
    assert len(third.duplicates) == 2
    assert bot.store.count_articles() == 2
    assert len(bot.vectors) == bot.store.count_passages() == len(bot.lexical) == 2


def test_incremental_add_is_searchable_without_rebuild(make_bot: MakeBot) -> None:
    bot = make_bot()
    bot.ingest_service.ingest_articles(_items(SMALL[:1]))
    before = bot.ask_service.ask("What did the central bank do with interest rates?")
    assert "Central bank holds rates" not in [q.title for q in before.quotes]
    bot.ingest_service.ingest_articles(_items(SMALL[1:]))
    assert bot.prepare() == 0  # nothing to embed again
    # A fresh process sees every vector too, read from the store.
    reopened = Briefbot(bot.settings, embedder=bot.embedder)
    assert reopened.prepare() == 0
    answer = reopened.ask_service.ask("What did the central bank do with interest rates?")
    assert answer.quotes[0].title == "Central bank holds rates"
    assert "4.5 percent" in answer.quotes[0].highlight


def test_deleted_index_files_are_rebuilt_from_the_store_without_the_model(
    make_bot: MakeBot, sample_data_dir: Path
) -> None:
    bot = make_bot()
    copy_data_dir(sample_data_dir, bot.settings.data_dir)
    questions = [KIM, "What happened in the London bombings?", "Who won the election?"]
    before = [bot.ask_service.ask(q).to_dict() for q in questions]
    bot.vectors.checkpoint(force=True)
    for path in bot.index_dir.glob("*"):
        path.unlink()
    reopened = Briefbot(bot.settings, embedder=bot.embedder)
    assert reopened.prepare() == 0  # the store holds the vectors: nothing is re-embedded
    assert len(reopened.vectors) == reopened.store.count_passages() == len(reopened.lexical)
    after = [reopened.ask_service.ask(q).to_dict() for q in questions]
    assert after == before


def test_a_corrupt_file_is_reported_and_the_batch_goes_on(
    make_bot: MakeBot, tmp_path: Path
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.txt").write_text("Storm hits coast\nA storm hit the coast on Friday.")
    (folder / "b.html").write_bytes(b"\x00\x01\x02\xff binary junk")
    (folder / "c.jsonl").write_text('{"title": "Bridge opens", "text": "The bridge opened."}\n')
    report = make_bot().ingest_service.ingest_paths([folder])
    assert sorted(a.title for a in report.added) == ["Bridge opens", "Storm hits coast"]
    assert len(report.failures) == 1 and report.failures[0].origin.endswith("b.html")
