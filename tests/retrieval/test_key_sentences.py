from __future__ import annotations

import pytest

from retrieval.chunking import sentence_spans
from retrieval.embedding import Embedder
from retrieval.key_sentences import key_sentences

FACTORY = (
    "Acme Motors will close its Leeds car factory in March, cutting 400 jobs.\n\n"
    "The company blamed falling demand for petrol cars and rising energy costs. "
    "Workers at the Leeds factory were told of the closure at a meeting on Monday. "
    "The site opened in 1962 and once employed more than 2,000 people. "
    "Unions said they would fight to save the jobs and called for talks with ministers."
)
RATES_A = (
    "The central bank raised interest rates by half a percentage point on Tuesday.\n\n"
    "It was the largest single rise in more than a decade. "
    "Borrowers with variable mortgages will see their monthly payments go up. "
    "The bank said inflation was still far above its target."
)
RATES_B = (
    "On Tuesday the central bank raised interest rates by half a percentage point.\n\n"
    "Economists had expected a smaller rise of a quarter point. "
    "Shares in housebuilders fell sharply after the announcement. "
    "The bank's governor said further rises could not be ruled out."
)


def test_sentences_are_verbatim_at_their_offsets(embedder: Embedder) -> None:
    texts = [FACTORY, RATES_A, RATES_B]
    chosen = key_sentences(texts, k=4, embedder=embedder)
    assert chosen
    for selected in chosen:
        text = texts[selected.article_index]
        assert text[selected.start : selected.end] == selected.text
        spans = {(s.start, s.end) for s in sentence_spans(text)}
        assert (selected.start, selected.end) in spans
    # Reading order: by article, then by position.
    assert chosen == sorted(chosen, key=lambda s: (s.article_index, s.start))


@pytest.mark.parametrize("k", [0, 1, 2, 3])
@pytest.mark.parametrize("with_embedder", [True, False])
def test_k_is_respected(embedder: Embedder, k: int, with_embedder: bool) -> None:
    chosen = key_sentences([FACTORY], k=k, embedder=embedder if with_embedder else None)
    assert len(chosen) == k


def test_near_duplicates_from_two_articles_are_not_both_chosen(embedder: Embedder) -> None:
    lead_a = RATES_A.split("\n")[0]
    lead_b = RATES_B.split("\n")[0]
    # Without the redundancy threshold the two reworded leads are the two most central sentences.
    unfiltered = {
        s.text for s in key_sentences([RATES_A, RATES_B], k=2, embedder=embedder, redundancy=1.01)
    }
    assert unfiltered == {lead_a, lead_b}
    chosen = [s.text for s in key_sentences([RATES_A, RATES_B], k=2, embedder=embedder)]
    assert len(chosen) == 2
    assert not {lead_a, lead_b} <= set(chosen)
    assert {lead_a, lead_b} & set(chosen)


def test_bylines_and_headings_are_never_chosen(embedder: Embedder) -> None:
    byline = "By Jane Smith and Tom Brown, BBC News."
    heading = "Acme Motors to close Leeds car factory, cutting 400 jobs"
    credit = "Reporting by Tom Brown; editing by Ann Lee"
    text = f"{byline}\n\n{heading}\n\n{FACTORY}\n\n{credit}"
    # A budget larger than the article: only the filter can keep these lines out.
    chosen = {s.text for s in key_sentences([text], k=20, embedder=embedder)}
    assert len(chosen) == 5
    assert not {byline, heading, credit} & chosen


def test_the_lead_carrying_the_news_is_chosen(embedder: Embedder) -> None:
    chosen = key_sentences([FACTORY], k=1, embedder=embedder)
    assert [s.text for s in chosen] == [FACTORY.split("\n")[0]]
    assert chosen[0].start == 0


def test_a_lead_that_repeats_the_headline_is_skipped(embedder: Embedder) -> None:
    lead = FACTORY.split("\n")[0]
    # Wikinews-style: the lead restates the title word for word ("to close" / "will close").
    headline = "Acme Motors to close Leeds car factory, cutting 400 jobs"
    chosen = [s.text for s in key_sentences([FACTORY], k=2, embedder=embedder, headline=headline)]
    assert len(chosen) == 2
    assert lead not in chosen
    # A headline the lead does not restate leaves it the first choice.
    other = "Unions vow to fight closures"
    assert [s.text for s in key_sentences([FACTORY], k=1, embedder=embedder, headline=other)] == [
        lead
    ]


ATTACK_CONTEXT = [
    "Rebels attacked an army base near the northern town of Gulu on Sunday, killing 12 soldiers.",
    '"We will strike again and again," the rebel statement posted on a website said.',
    "Army spokesman John Okello said four rebels had been killed in the fighting.",
    "It is expected that the government will send more troops to the region.",
    "It has been confirmed by officials in Kampala that the base is back under army control.",
    "This week, aid agencies moved their foreign staff out of the town.",
    'Okello told reporters in Kampala: "Our soldiers fought bravely against a larger force."',
    "Her Majesty the Queen sent her condolences to the families of the dead soldiers.",
    "Also on Sunday, the families of eight of the soldiers killed at the base were told.",
    "*All* of the soldiers killed at the army base near Gulu will be buried on Monday.",
    "Parliament voted 108 for, 125 against, on sending more troops to the army base near Gulu.",
    "Soldiers of Company A, the unit hit hardest, were flown from Gulu to the capital Kampala.",
]
ATTACK_BARE = [
    '"We will fight on until the government falls and our people are free."',
    '"The town is calm now and the roads are open again," he said.',
    "He said the army would hunt down the attackers within days.",
    "It was the deadliest attack on the army in the region this year.",
    "But they have fought the government for almost two decades.",
    "In 1987, he founded the movement in the villages around the town.",
    "Its leaders are wanted for war crimes by the International Criminal Court.",
    # A retort to a sentence not shown.
    "However, rebels attacked the army base near Gulu again, killing two more soldiers.",
    # A statement printed without quotation marks.
    "We have warned the government many times and we will not stop now.",
    # In a list of reactions, the credit of the quotation before: not this one's speaker.
    '— Army spokesman John Okello *"Every town in the north will be defended."',
    # Items of a list ("The soldiers killed"), shown without its heading.
    "* Corporal James Otim, 24, from Gulu, killed when rebels attacked the army base. "
    "* Private Sam Okot: army base near Gulu, killed in the fighting with the rebels.",
    "- Sergeant Paul Ouma, 31, killed in the rebel attack on the army base near Gulu.",
    "*Captain Tom Akena: rebels attacked the army base near Gulu and killed the soldiers.",
    "# Private Ben Ocen, 19, from Gulu, killed when the rebels attacked the army base.",
    # Words lost where a link was: the sentence starts mid-way, or leaves a gap.
    "of the northern brigade, with two rebel commanders, attacked the army base near Gulu.",
    "A spokesman for the, John Okello, said rebels attacked the army base near Gulu.",
]


def test_sentences_without_their_context_are_skipped(embedder: Embedder) -> None:
    text = "\n\n".join(ATTACK_CONTEXT + ATTACK_BARE)
    # As many as can stand alone: a context-free sentence would have to displace one of them.
    chosen = key_sentences([text], k=len(ATTACK_CONTEXT), embedder=embedder)
    assert {s.text for s in chosen} == set(ATTACK_CONTEXT)
    for selected in chosen:
        assert text[selected.start : selected.end] == selected.text
    assert chosen == sorted(chosen, key=lambda s: s.start)


def test_a_statement_printed_without_quotation_marks_is_skipped(embedder: Embedder) -> None:
    statement = [
        "We have carried out the attack on the army base in the north.",
        # Third person, but between two sentences of the statement: part of it.
        "The northern brigade attacked the army base and killed the soldiers guarding it.",
        "We will strike again until all of our demands are met in full.",
    ]
    report = "This week, aid agencies moved their foreign staff out of the town."
    text = "\n\n".join([*statement, report])
    # The middle sentence is the most central; only the rule keeps it out.
    assert [s.text for s in key_sentences([text], k=1, embedder=embedder)] == [report]


def test_however_waits_for_the_sentence_it_answers_but_instead_of_stands_alone(
    embedder: Embedder,
) -> None:
    alone = "Instead of waiting for the army, villagers near Gulu have formed night patrols."
    retort = "However, rebels attacked the army base near Gulu again, killing two more soldiers."
    # Each follows a sentence that is never shown: a quotation without its speaker.
    text = "\n\n".join([ATTACK_BARE[0], retort, ATTACK_BARE[0], alone])
    assert [s.text for s in key_sentences([text], k=1, embedder=embedder)] == [alone]


@pytest.mark.parametrize("with_embedder", [True, False])
def test_a_pronoun_is_fine_right_after_the_sentence_it_stands_for(
    embedder: Embedder, with_embedder: bool
) -> None:
    named = "Army spokesman John Okello said four rebels had been killed in the fighting near Gulu."
    pronoun = "He said the army would hunt down the rebels who attacked the base near Gulu."
    aside = "Aid agencies have moved their foreign staff out of the region."
    model = embedder if with_embedder else None
    # Shown in reading order, "He" follows the sentence that names him.
    chosen = key_sentences([f"{named}\n\n{pronoun}\n\n{aside}"], k=2, embedder=model)
    assert [s.text for s in chosen] == [named, pronoun]
    # Two sentences apart, it would stand for nobody.
    chosen = key_sentences([f"{named}\n\n{aside}\n\n{pronoun}"], k=2, embedder=model)
    assert [s.text for s in chosen] == [named, aside]


@pytest.mark.parametrize("with_embedder", [True, False])
def test_held_back_sentences_fill_in_when_nothing_else_is_left(
    embedder: Embedder, with_embedder: bool
) -> None:
    text = "\n\n".join([ATTACK_CONTEXT[0], *ATTACK_BARE[:4]])
    headline = "Rebels attack army base near Gulu, killing 12 soldiers"
    chosen = key_sentences(
        [text], k=3, embedder=embedder if with_embedder else None, headline=headline
    )
    # Every sentence is held back (the lead repeats the headline), yet k are still given, in
    # reading order.
    assert len(chosen) == 3
    assert chosen == sorted(chosen, key=lambda s: s.start)
    alone = key_sentences([ATTACK_BARE[2]], k=1, embedder=embedder if with_embedder else None)
    assert [s.text for s in alone] == [ATTACK_BARE[2]]
