"""The chat commands every adapter shares: parsing, permissions, and the replies they make."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.adapters.text import run
from bot.commands import PERMISSIONS, REFUSAL, Who
from bot.replies import Caller, Help, Notice, is_public
from bot.services.ask import Answer
from bot.services.briefing import Briefing
from bot.wiring import Briefbot
from tests.conftest import MakeBot

NOW = datetime(2005, 7, 8, 9, 0, tzinfo=UTC)
MEMBER = Caller(platform="slack", channel="C1", user="U1", trusted=False)
ADMIN = Caller(platform="slack", channel="C1", user="UADMIN", trusted=True)


def test_text_commands_parse_to_the_right_reply(sample_bot: Briefbot) -> None:
    commands = sample_bot.commands
    assert isinstance(run(commands, "", MEMBER), Help)
    typo = run(commands, "subscibe", MEMBER)
    assert isinstance(typo, Help) and typo.intro == "Did you mean “subscribe”?"
    # Any other single word is a question, searched like one.
    word = run(commands, "sheep", MEMBER)
    assert isinstance(word, Answer) and word.found
    assert "sheep" in word.quotes[0].title.lower()
    question = "Why did Vanuatu ban Fijian biscuits?"
    for text in (f"ask {question}", question):
        answer = run(commands, text, MEMBER, now=NOW)
        assert isinstance(answer, Answer) and "biscuit" in answer.quotes[0].title
    empty = run(commands, "ask", MEMBER)
    assert isinstance(empty, Notice) and empty.problem and "empty" in empty.text


def test_briefing_takes_a_day_and_topics(sample_bot: Briefbot) -> None:
    commands = sample_bot.commands
    day = run(commands, "briefing 2005-07-07", MEMBER, now=NOW)
    assert isinstance(day, Briefing) and day.window.label == "2005-07-07" and day.stories
    yesterday = run(commands, "briefing yesterday", MEMBER, now=NOW)
    assert isinstance(yesterday, Briefing) and yesterday.window.label == "2005-07-07"
    today = run(commands, "today", MEMBER, now=NOW)
    assert isinstance(today, Briefing) and today.window.label == "2005-07-08"
    topical = run(commands, "briefing 2005-07-07 London bombings", MEMBER, now=NOW)
    assert isinstance(topical, Briefing) and topical.topics == ("London", "bombings")
    assert len(topical.stories) < len(day.stories)
    undated = run(commands, "briefing London", MEMBER, now=NOW)
    assert isinstance(undated, Briefing)
    assert (undated.window.label, undated.topics) == ("2005-07-08", ("London",))


def test_changes_need_a_trusted_caller(make_bot: MakeBot) -> None:
    bot = make_bot()
    commands = bot.commands
    for reply in (
        run(commands, "subscribe 08:00 Europe/Berlin weekdays", MEMBER, now=NOW),
        run(commands, "unsubscribe", MEMBER),
        run(commands, "add https://example.com/story", MEMBER),
        run(commands, "follow https://example.com/rss.xml", MEMBER),
        run(commands, "unfollow https://example.com/rss.xml", MEMBER),
        commands.add_file(MEMBER, "story.txt", b"Title\n\nBody text of the story."),
    ):
        assert reply == Notice((REFUSAL,), problem=True)
    assert bot.subscriptions.all() == [] and bot.store.count_articles() == 0


def test_subscriptions_are_per_channel_and_shape_the_briefing_day(make_bot: MakeBot) -> None:
    commands = make_bot().commands
    done = run(commands, "subscribe 08:00 Asia/Tokyo weekdays energy, climate", ADMIN, now=NOW)
    assert isinstance(done, Notice) and not done.problem
    assert done.lines[0] == (
        "Scheduled a briefing here: 08:00 Asia/Tokyo on weekdays — topics: energy, climate."
    )
    assert done.lines[1] == "Next one: Monday 2005-07-11 08:00 JST."
    listed = run(commands, "subscriptions", MEMBER, now=NOW)
    assert listed == Notice(
        (
            "Briefings here: 08:00 Asia/Tokyo on weekdays — topics: energy, climate.",
            "Next one: Monday 2005-07-11 08:00 JST.",
        )
    )
    # 20:00 UTC on 8 July is already 9 July in Tokyo, the channel's timezone.
    late = run(commands, "today", MEMBER, now=datetime(2005, 7, 8, 20, tzinfo=UTC))
    assert isinstance(late, Briefing) and late.window.label == "2005-07-09"
    elsewhere = Caller(platform="slack", channel="C2", user="U1", trusted=False)
    assert "no scheduled briefing" in commands.subscriptions(elsewhere).text
    bad = run(commands, "subscribe 25:00 Mars/Base", ADMIN, now=NOW)
    assert isinstance(bad, Notice) and bad.problem
    assert commands.unsubscribe(ADMIN).lines == (
        "Stopped the scheduled briefings in this channel.",
    )


def test_add_explains_what_it_needs(make_bot: MakeBot) -> None:
    commands = make_bot().commands
    assert "Give a URL" in commands.add_url(ADMIN, "").text
    assert "is not a web address" in commands.add_url(ADMIN, "example.com/story").text
    assert "Give the feed's address" in commands.follow(ADMIN, "rss").text
    pasted = run(
        commands,
        "add Harbour reopens\nThe city harbour reopened on Monday after a month of repairs.",
        ADMIN,
    )
    today = datetime.now(UTC).date()  # pasted text is dated when it is added
    assert pasted == Notice((f"Added “Harbour reopens” (unknown source, {today})",), private=False)
    again = run(
        commands,
        "add Harbour reopens\nThe city harbour reopened on Monday after a month of repairs.",
        ADMIN,
    )
    assert isinstance(again, Notice) and again.text.startswith("Already have “Harbour reopens”")


def test_briefings_of_the_first_and_last_representable_days_are_empty(
    sample_bot: Briefbot,
) -> None:
    commands = sample_bot.commands
    for day in ("9999-12-31", "0001-01-01"):
        briefing = run(commands, f"briefing {day}", MEMBER, now=NOW)
        assert isinstance(briefing, Briefing) and briefing.window.label == day
        assert briefing.stories == []


def test_typed_commands_take_options_as_discord_sends_them(make_bot: MakeBot) -> None:
    commands = make_bot().commands
    done = commands.subscribe(
        ADMIN, time="07:30", timezone="Europe/Berlin", days="mon, wed", topics=["energy policy"]
    )
    assert done.lines[0] == (
        "Scheduled a briefing here: 07:30 Europe/Berlin on Mon, Wed — topics: energy policy."
    )
    assert is_public(done)  # a change to the channel is announced in it
    pasted = commands.add_text(ADMIN, title="Harbour reopens", text="The harbour reopened today.")
    assert pasted.lines == (
        f"Added “Harbour reopens” (unknown source, {datetime.now(UTC).date()})",
    )


def test_the_permission_table_decides_and_refusals_are_private(make_bot: MakeBot) -> None:
    commands = make_bot().commands
    trusted = {name for name, who in PERMISSIONS.items() if who is Who.TRUSTED}
    assert trusted == {
        *("add", "follow", "unfollow", "subscribe", "unsubscribe", "remove", "alert", "unalert")
    }
    for name in PERMISSIONS:
        refusal = commands.refusal(name, MEMBER)
        assert (refusal is not None) == (name in trusted)
        assert commands.refusal(name, ADMIN) is None
    refusal = commands.refusal("add", MEMBER)
    assert refusal is not None and not is_public(refusal)
    assert not is_public(commands.help())
    assert not is_public(run(commands, "subscribe 25:00 Mars/Base", ADMIN, now=NOW))
