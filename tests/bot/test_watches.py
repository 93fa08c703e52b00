"""Alerts and a followed feed's live posts: each new article a channel's watch matches reaches
the channel once — through the Slack adapter and its mock Web API — across restarts, capped per
cycle, and only the articles that match."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.replies import Caller, Reply
from bot.wiring import Briefbot
from tests.conftest import MakeBot, isolated_settings
from tests.http_server import LoopbackServer
from tests.http_server import Reply as Page
from tests.slack_harness import adapter_for, texts
from tests.slack_mock import MockSlack

ADMIN = Caller(platform="slack", channel="C1", user="U1", trusted=True)
MEMBER = Caller(platform="slack", channel="C1", user="U2", trusted=False)
RSS = {"Content-Type": "application/rss+xml"}

FLOOD = (
    "River Tamsin floods Harrowby",
    "The River Tamsin burst its banks on Sunday and flooded the old mill district of Harrowby,"
    " where 300 homes were evacuated. The council opened the sports hall as a shelter for the"
    " families whose houses were under water.",
)
FLOOD_LATER = (
    "Harrowby flood clean-up begins",
    "Volunteers began clearing mud from the flooded homes of Harrowby on Tuesday as the River"
    " Tamsin fell back below its banks. Insurers said the flood damaged 300 homes.",
)
FERRY = (
    "Skerrow ferries resume",
    "Ferry crossings to the island of Skerrow resumed on Monday after the storm damaged the"
    " harbour wall. The operator said two sailings a day will run until the repairs end.",
)
CHESS = (
    "Chess club wins county title",
    "The Harrowby chess club won the county league on Saturday, its first title in twenty"
    " years, after a final-round draw against the champions of last season.",
)


def slack_poster(slack: MockSlack, bot: Briefbot) -> Callable[[str, Reply], None]:
    """What ``briefbot run`` hands the watches: the Slack adapter's own post, on its loop."""
    adapter = adapter_for(bot, slack)
    return lambda channel, reply: asyncio.run(adapter.post(channel, reply))


def add(bot: Briefbot, *articles: tuple[str, str]) -> None:
    for title, text in articles:
        slug = title.lower().replace(" ", "-")
        report = bot.ingest_service.ingest_text(text, title=title, url=f"https://n.example/{slug}")
        assert len(report.added) == 1


def test_an_alert_posts_each_matching_new_article_once_across_restarts(
    make_bot: MakeBot, slack: MockSlack
) -> None:
    bot = make_bot()
    add(bot, FLOOD)  # stored before the alert: never posted
    assert bot.commands.alert(MEMBER, "Harrowby flood").problem  # admins only
    set_up = bot.commands.alert(ADMIN, "Harrowby flood")
    assert set_up.lines == (
        "Set alert 1: news about “Harrowby flood”: each new article about it will be posted"
        " here once.",
    )
    assert bot.commands.alert(ADMIN, "harrowby  FLOOD").lines[0].startswith("This channel already")
    post = slack_poster(slack, bot)
    assert bot.watch_service.run_once({"slack": post}) == 0

    add(bot, FERRY, FLOOD_LATER, CHESS)
    assert bot.watch_service.run_once({"slack": post}) == 1
    [message] = slack.posted
    assert message["channel"] == "C1"
    said = " ".join(texts(message))
    assert "🔔 news about “Harrowby flood”: Harrowby flood clean-up begins" in said
    assert "Volunteers began clearing mud from the flooded homes of Harrowby" in said
    assert "https://n.example/harrowby-flood-clean-up-begins" in said
    assert bot.watch_service.run_once({"slack": post}) == 0

    restarted = Briefbot(bot.settings, embedder=bot.embedder)  # a new process on the store
    assert restarted.watch_service.run_once({"slack": post}) == 0
    assert len(slack.posted) == 1

    listed = restarted.commands.alerts(MEMBER)
    assert listed.lines == ("alert 1: news about “Harrowby flood”",)
    assert restarted.commands.unalert(ADMIN, "1").lines == ("Stopped alert 1.",)
    add(restarted, ("Harrowby flood defences approved", FLOOD[1].replace("Sunday", "Friday")))
    assert restarted.watch_service.run_once({"slack": post}) == 0


def test_a_failed_post_is_retried_and_posts_are_capped_per_cycle(make_bot: MakeBot) -> None:
    bot = make_bot(ingest={"posts_per_cycle": 1})
    bot.commands.alert(ADMIN, "Harrowby flood")
    add(bot, FLOOD, FLOOD_LATER)
    sent: list[str] = []

    def broken(channel: str, reply: Reply) -> None:
        raise ConnectionError("Slack is down")

    def works(channel: str, reply: Reply) -> None:
        sent.append(reply.lines[1] if hasattr(reply, "lines") else "")

    assert bot.watch_service.run_once({"slack": broken}) == 0
    assert bot.watch_service.run_once({"slack": works}) == 1  # the cap: one per cycle
    assert bot.watch_service.run_once({"slack": works}) == 1
    assert bot.watch_service.run_once({"slack": works}) == 0
    assert len(sent) == 2 and "300 homes were evacuated" in sent[0]


@pytest.fixture
def feed_bot(make_bot: MakeBot) -> Briefbot:
    bot = make_bot(ingest={"allow_private_networks": True, "timeout_seconds": 2.0})
    bot.prepare()
    return bot


def rss(*items: tuple[str, str]) -> bytes:
    entries = "".join(
        f"<item><title>{title}</title><guid>{title}</guid><description>{text}</description></item>"
        for title, text in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Valley Wire</title>{entries}'
        "</channel></rss>"
    ).encode()


def test_a_feed_followed_in_a_channel_posts_each_new_entry_there_once(
    feed_bot: Briefbot, http_server: LoopbackServer, slack: MockSlack, tmp_path: Path
) -> None:
    http_server.routes["/wire.xml"] = Page(headers=RSS, body=rss(FERRY))
    url = http_server.url("/wire.xml")
    followed = feed_bot.commands.follow(ADMIN, url, channel="C7")
    assert followed.lines[0] == "Now following Valley Wire."
    assert (
        followed.lines[-1]
        == "New entries will be posted in <#C7> (feed 1: new entries of Valley Wire)."
    )
    filtered = feed_bot.commands.follow(ADMIN, url, words="Harrowby flood")  # in C1
    assert filtered.lines == (
        "New entries will be posted here (feed 2: new entries of Valley Wire, only about"
        " “Harrowby flood”).",
    )
    post = slack_poster(slack, feed_bot)
    assert feed_bot.watch_service.run_once({"slack": post}) == 0  # what was there: not news

    http_server.routes["/wire.xml"] = Page(headers=RSS, body=rss(FERRY, FLOOD, CHESS))
    [polled] = feed_bot.feed_service.poll_all()
    assert len(polled.report.added) == 2
    assert feed_bot.watch_service.run_once({"slack": post}) == 3
    to_c7 = [m for m in slack.posted if m["channel"] == "C7"]
    to_c1 = [m for m in slack.posted if m["channel"] == "C1"]
    assert [" ".join(texts(m)).split(": ", 1)[1][:28] for m in to_c7] == [
        "River Tamsin floods Harrowby",
        "Chess club wins county title",
    ]
    assert len(to_c1) == 1 and "River Tamsin floods Harrowby" in " ".join(texts(to_c1[0]))
    assert "“The River Tamsin burst its banks on Sunday" in " ".join(texts(to_c7[0]))

    restarted = Briefbot(feed_bot.settings, embedder=feed_bot.embedder)
    assert restarted.watch_service.run_once({"slack": post}) == 0
    # Unfollowing the feed stops its channel posts with it.
    assert not restarted.commands.unfollow(ADMIN, url).problem
    assert restarted.commands.alerts(ADMIN).lines[0].startswith("No alerts or feeds post here")
    other = Briefbot(isolated_settings(data_dir=tmp_path / "elsewhere", load_samples=False))
    assert other.watch_service.store.all() == []


def test_unaskable_alert_words_are_refused_and_a_failing_watch_never_stops_the_others(
    make_bot: MakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot()
    assert bot.commands.alert(ADMIN, "   ").problem
    too_long = bot.commands.alert(ADMIN, "flood " * 1000)
    assert too_long.problem and "too long" in too_long.text
    # A watch whose words can no longer be asked (say, stored before a lower limit), first.
    bot.watches.add("slack", "C2", words="flood " * 1000, feed_id=None, after=0)
    bot.commands.alert(ADMIN, "Harrowby flood")
    add(bot, FLOOD)
    sent: list[str] = []
    assert bot.watch_service.run_once({"slack": lambda channel, _: sent.append(channel)}) == 1
    assert sent == ["C1"]
    assert "alert 1: news about" in caplog.text
