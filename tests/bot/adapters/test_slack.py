"""The Slack adapter, driven through Bolt's real dispatch: signed HTTP requests to the aiohttp
server of HTTP mode and Socket Mode payloads, against a mock Slack Web API on loopback."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.adapters.slack import (
    APOLOGY,
    FRESH_SECONDS,
    MAX_BODY_BYTES,
    RecentSignatures,
    from_slack,
)
from bot.commands import REFUSAL, Commands
from bot.rendering import slack as render
from bot.replies import Notice
from bot.services.ask import Answer, Quote
from bot.services.briefing import Briefing
from bot.settings import SlackSettings
from bot.wiring import Briefbot
from retrieval.window import Window
from tests.articles import LONDON, NEXT, REPOSITORY
from tests.conftest import MakeBot
from tests.http_server import LoopbackServer, Reply
from tests.slack_harness import (
    FORM,
    QUESTION,
    SECRET,
    adapter_for,
    assert_biscuit_answer,
    command_body,
    event_body,
    eventually,
    http_mode,
    idle,
    mention,
    run,
    send_command,
    send_event,
    signed_headers,
    texts,
)
from tests.slack_mock import BOT_ID, TOKEN, MockSlack


def test_slash_command_answers_in_channel_restating_the_question(
    sample_bot: Briefbot, slack: MockSlack
) -> None:
    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            ack = await send_command(client, slack, f"ask {QUESTION}")
            assert ack.status == 200
            assert "Searching" in await ack.text()
            [reply] = await eventually(lambda: slack.responses)
            assert reply["response_type"] == "in_channel"
            assert texts(reply)[0] == f"*Q:* {QUESTION}"
            assert_biscuit_answer(reply)
            # The bare form means the same.
            await send_command(client, slack, QUESTION)
            await eventually(lambda: len(slack.responses) == 2)
            # The same answer; only the id its 👍 / 👎 buttons carry differs.
            assert slack.responses[1]["blocks"][:-1] == reply["blocks"][:-1]

    run(scenario)


def test_a_mention_is_answered_in_its_thread(sample_bot: Briefbot, slack: MockSlack) -> None:
    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            ack = await send_event(client, event_body(mention(QUESTION, ts="1700000000.000200")))
            assert ack.status == 200
            [message] = await eventually(lambda: slack.posted)
            assert message["channel"] == "C1"
            assert message["thread_ts"] == "1700000000.000200"
            assert_biscuit_answer(message)

    run(scenario)


def test_a_follow_up_in_a_thread_is_read_against_the_question_before_it(
    sample_bot: Briefbot, slack: MockSlack
) -> None:
    root = "1700000100.000001"

    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            await send_event(client, event_body(mention(LONDON, ts=root), event_id="EvL1"))
            await eventually(lambda: slack.posted)
            follow_up = mention(NEXT, ts="1700000100.000002") | {"thread_ts": root}
            await send_event(client, event_body(follow_up, event_id="EvL2"))
            await eventually(lambda: len(slack.posted) == 2)
            # The same words outside the thread have nothing to refer to.
            alone = mention(NEXT, ts="1700000100.000003")
            await send_event(client, event_body(alone, event_id="EvL3"))
            await eventually(lambda: len(slack.posted) == 3)
            await eventually(idle)

    run(scenario)
    first, later, alone = slack.posted
    assert later["thread_ts"] == root
    said = " ".join(texts(first))
    assert "London" in said and "2005-07-07" in said
    # The story's later developments: about London, all published after the first answer's.
    followed = " ".join(texts(later))
    assert "London" in followed and "2005-07-07" not in followed
    assert re.search(r"2005-07-(?:0[89]|[1-3]\d)", followed)
    assert "couldn't find anything" in json.dumps(alone)


@pytest.mark.parametrize(
    ("secret", "age"), [("not-the-secret", 0), (SECRET, 10 * 60)], ids=["bad-signature", "stale"]
)
def test_unverified_requests_are_rejected(
    sample_bot: Briefbot, slack: MockSlack, secret: str, age: float
) -> None:
    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            response = await send_command(client, slack, QUESTION, secret=secret, age=age)
            assert response.status == 401
            await eventually(idle)
        assert slack.responses == [] and slack.posted == []

    run(scenario)


def nothing_reached_slack(slack: MockSlack) -> bool:
    return slack.responses == [] and slack.posted == []


def no_traceback(caplog: pytest.LogCaptureFixture) -> bool:
    return "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize("signed_with", [None, "not-the-secret"], ids=["unsigned", "bad-signature"])
def test_a_refused_request_is_logged_in_one_short_line(
    sample_bot: Briefbot,
    slack: MockSlack,
    caplog: pytest.LogCaptureFixture,
    signed_with: str | None,
) -> None:
    """Bolt alone logs a refused request's whole body: 1 MB of log for a request anyone can send."""
    body = command_body(slack, "bulk " + "x" * 1_000_000)
    headers = FORM | (signed_headers(body, secret=signed_with) if signed_with else {})
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            caplog.clear()
            response = await client.post("/slack/events", data=body, headers=headers)
            assert response.status == 401
            await eventually(idle)

    run(scenario)
    assert nothing_reached_slack(slack)
    assert len(caplog.text) < 2000 and "xxxxxxxxxx" not in caplog.text
    refusals = [r for r in caplog.records if r.name.startswith(("bot", "slack"))]
    assert len(refusals) == 1 and "refused a Slack request" in refusals[0].getMessage()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_body_is_refused(
    sample_bot: Briefbot, slack: MockSlack, chunked: bool
) -> None:
    body = command_body(slack, "big")
    body += "x" * (MAX_BODY_BYTES + 1 - len(body))  # a byte over, even though signed

    async def chunks() -> AsyncIterator[bytes]:
        data = body.encode()
        for start in range(0, len(data), 256 * 1024):
            yield data[start : start + 256 * 1024]

    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            data = chunks() if chunked else body
            headers = FORM | signed_headers(body)
            response = await client.post("/slack/events", data=data, headers=headers)
            assert response.status == 413
            # A byte less is read, to be refused for its signature: the limit is ours, not
            # aiohttp's default of 1 MiB.
            response = await client.post("/slack/events", data=body[:-1], headers=FORM)
            assert response.status == 401
            await eventually(idle)

    run(scenario)
    assert nothing_reached_slack(slack)


def signed_request(slack: MockSlack, case: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of a request signed with the right secret but malformed in one way."""
    if case == "non-numeric-timestamp":
        body = command_body(slack, "help")
        return FORM | signed_headers(body, timestamp="17e8"), body.encode()
    if case == "no-timestamp":
        body = command_body(slack, "help")
        return FORM | {"X-Slack-Signature": signed_headers(body)["X-Slack-Signature"]}, b""
    raw = {
        "bad-json": b'{"type": "event_callback", "event": ',
        "json-list": b"[1, 2]",
        "bad-form-payload": b"payload=%7Bnot-json",
        "not-utf-8": b"text=caf\xe9&command=/brief",
        "command-without-channel": command_body(slack, "help", channel_id="").encode(),
        "event-not-an-object": json.dumps(event_body({}) | {"event": "app_mention"}).encode(),
        "mention-without-channel": json.dumps(
            event_body({k: v for k, v in mention(QUESTION).items() if k != "channel"})
        ).encode(),
    }[case]
    kind = "application/json" if raw[:1] in b"{[" else FORM["Content-Type"]
    return {"Content-Type": kind} | signed_headers(raw), raw


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("non-numeric-timestamp", 401),
        ("no-timestamp", 401),
        ("bad-json", 400),
        ("json-list", 400),
        ("bad-form-payload", 400),
        ("not-utf-8", 400),
        ("command-without-channel", 400),
        ("event-not-an-object", 400),
        ("mention-without-channel", 200),  # events are acknowledged first, then looked at
    ],
)
def test_a_malformed_request_is_turned_away_without_a_traceback(
    sample_bot: Briefbot,
    slack: MockSlack,
    caplog: pytest.LogCaptureFixture,
    case: str,
    status: int,
) -> None:
    headers, body = signed_request(slack, case)
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            caplog.clear()
            response = await client.post("/slack/events", data=body, headers=headers)
            assert response.status == status
            await eventually(idle)

    run(scenario)
    assert nothing_reached_slack(slack)
    assert no_traceback(caplog)
    assert len([r for r in caplog.records if r.name.startswith(("bot", "slack"))]) == 1


def test_an_exact_replay_is_answered_once(sample_bot: Briefbot, slack: MockSlack) -> None:
    body = command_body(slack, "help")
    headers = FORM | signed_headers(body)

    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            assert (await client.post("/slack/events", data=body, headers=headers)).status == 200
            replay = await client.post("/slack/events", data=body, headers=headers)
            assert replay.status == 200 and await replay.text() == ""
            await eventually(lambda: slack.responses)
            await eventually(idle)
            assert len(slack.responses) == 1
            # The same command signed again, as a person repeating it would be, is answered.
            # (A second before the first: "now minus one" is the first's second on a slow run.)
            earlier = str(int(headers["X-Slack-Request-Timestamp"]) - 1)
            resigned = FORM | signed_headers(body, timestamp=earlier)
            assert (await client.post("/slack/events", data=body, headers=resigned)).status == 200
            await eventually(lambda: len(slack.responses) == 2)

    run(scenario)


def test_remembered_signatures_last_while_fresh_and_are_bounded() -> None:
    recent = RecentSignatures(size=2)
    assert recent.first_time("a", timestamp=1000, now=1000)
    assert not recent.first_time("a", timestamp=1000, now=1000 + FRESH_SECONDS)
    # Past that, the request is refused as stale before the memory is asked.
    assert recent.first_time("a", timestamp=1000, now=1001 + FRESH_SECONDS)
    for signature in ("x", "y", "z"):
        assert recent.first_time(signature, timestamp=5000, now=5000)
    assert not recent.first_time("z", timestamp=5000, now=5000)
    assert recent.first_time("x", timestamp=5000, now=5000)  # the oldest made room


def test_slacks_certificate_check_is_answered_unsigned(
    sample_bot: Briefbot, slack: MockSlack
) -> None:
    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            response = await client.post(
                "/slack/events", data="ssl_check=1&token=legacy", headers=FORM
            )
            assert response.status == 200 and await response.text() == ""
            # Nothing else gets through unsigned by calling itself a certificate check.
            smuggled = command_body(slack, "help", ssl_check="0")
            response = await client.post("/slack/events", data=smuggled, headers=FORM)
            assert response.status == 401
            await eventually(idle)

    run(scenario)
    assert nothing_reached_slack(slack)


def test_secrets_stay_out_of_logs_and_replies(
    sample_bot: Briefbot, slack: MockSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    replies: list[str] = []

    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            for case in ("bad-json", "non-numeric-timestamp"):
                headers, body = signed_request(slack, case)
                response = await client.post("/slack/events", data=body, headers=headers)
                replies.append(await response.text())
            for secret, text in (("not-the-secret", "help"), (SECRET, "help"), (SECRET, "feeds")):
                response = await send_command(client, slack, text, secret=secret)
                replies.append(await response.text())
            await send_event(client, event_body(mention(QUESTION, ts="2.2")))
            await eventually(lambda: slack.posted and len(slack.responses) == 2)
            await eventually(idle)

    run(scenario)
    seen = caplog.text + "".join(replies) + json.dumps([slack.posted, slack.responses])
    assert TOKEN not in seen and SECRET not in seen


def test_a_retried_event_is_answered_once(sample_bot: Briefbot, slack: MockSlack) -> None:
    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            body = event_body(mention(QUESTION, ts="1.1"), event_id="EvSame")
            assert (await send_event(client, body)).status == 200
            assert (await send_event(client, body, retry=1)).status == 200
            await eventually(lambda: slack.posted)
            await eventually(idle)  # every listener Bolt started has finished
        assert [m["thread_ts"] for m in slack.posted] == ["1.1"]

    run(scenario)


def test_rate_limited_post_is_retried_after_retry_after(
    sample_bot: Briefbot, slack: MockSlack
) -> None:
    slack.rate_limit = 1

    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            await send_event(client, event_body(mention(QUESTION)))
            [message] = await eventually(lambda: slack.posted)
            assert_biscuit_answer(message)
        assert len(slack.calls("/api/chat.postMessage")) == 2  # the 429, then the retry

    run(scenario)


def test_only_admins_may_add(
    make_bot: MakeBot, slack: MockSlack, http_server: LoopbackServer
) -> None:
    bot = make_bot(ingest={"allow_private_networks": True})
    page = (
        "<html><head><title>Harbour reopens</title></head><body><article><h1>Harbour reopens"
        "</h1><p>The city harbour reopened on Monday after a month of repairs to its piers, the"
        " port authority said.</p><p>Ferries resumed their usual timetable and fishing boats"
        " returned to the inner basin by the afternoon.</p></article></body></html>"
    )
    http_server.routes["/harbour"] = Reply(
        headers={"Content-Type": "text/html; charset=utf-8"}, body=page.encode()
    )
    url = http_server.url("/harbour")

    async def scenario() -> None:
        adapter = adapter_for(bot, slack, admins=frozenset({"UADMIN"}))
        async with http_mode(adapter) as client:
            ack = await send_command(client, slack, f"add <{url}>", user="USOMEONE")
            refusal = await ack.json()  # at once, in the acknowledgement only the asker sees
            assert refusal["text"].endswith(REFUSAL) and "response_type" not in refusal
            await eventually(idle)
            assert slack.responses == [] and slack.posted == []
            assert http_server.requests == [] and bot.store.count_articles() == 0

            await send_command(client, slack, f"add <{url}>", user="UADMIN")
            added = await eventually(lambda: slack.responses)
            assert added[0]["response_type"] == "in_channel"
            assert added[0]["text"].startswith("Added “Harbour reopens”")
            assert bot.store.count_articles() == 1

    run(scenario)


def test_help_and_unknown_commands_list_the_commands(
    sample_bot: Briefbot, slack: MockSlack
) -> None:
    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            await send_command(client, slack, "help")
            await send_command(client, slack, "subscibe")
            helps = await eventually(lambda: slack.responses[1:] and slack.responses)
        for reply in helps:
            assert reply["response_type"] == "ephemeral"
            listing = texts(reply)[0]
            for name in ("ask", "today", "briefing", "subscribe", "add", "follow", "feeds"):
                assert f"`/brief {name}" in listing
        # The two commands are answered concurrently, in either order: one reply suggests.
        assert ["Did you mean “subscribe”?" in texts(reply)[0] for reply in helps].count(True) == 1

    run(scenario)


def test_bots_and_slackbot_are_ignored(sample_bot: Briefbot, slack: MockSlack) -> None:
    from_bot = mention(QUESTION, ts="3.3") | {"bot_id": BOT_ID}
    from_slackbot = mention(QUESTION, ts="4.4", user="USLACKBOT")

    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            await send_event(client, event_body(from_bot, event_id="EvBot"))
            await send_event(client, event_body(from_slackbot, event_id="EvSlackbot"))
            await send_event(client, event_body(mention(QUESTION, ts="5.5"), event_id="EvPerson"))
            await eventually(lambda: slack.posted)
            await eventually(idle)
        assert [m["thread_ts"] for m in slack.posted] == ["5.5"]

    run(scenario)


class StuckCommands(Commands):
    """Questions about "stuck" hang until released: a stand-in for a very slow answer."""

    release = threading.Event()

    def ask(self, question: str, **kwargs: Any) -> Answer | Notice:
        if "stuck" in question:
            self.release.wait(timeout=60)
        return super().ask(question, **kwargs)


def test_a_slow_answer_does_not_hold_up_other_people(
    sample_bot: Briefbot, slack: MockSlack
) -> None:
    commands = sample_bot.build_commands(StuckCommands)
    adapter = adapter_for(commands, slack)

    async def scenario() -> None:
        async with http_mode(adapter) as client:
            await send_event(
                client, event_body(mention("Why is this stuck?", ts="8.8"), event_id="Ev8")
            )
            await send_event(client, event_body(mention(QUESTION, ts="9.9"), event_id="Ev9"))
            [answered] = await eventually(lambda: slack.posted)
            assert answered["thread_ts"] == "9.9"
            commands.release.set()
            await eventually(lambda: len(slack.posted) == 2)
        assert slack.posted[1]["thread_ts"] == "8.8"

    run(scenario)


class BrokenCommands(Commands):
    def ask(self, question: str, **_: object) -> Answer:
        raise RuntimeError("the index is on fire")


def test_a_failure_while_answering_gets_an_apology(
    sample_bot: Briefbot, slack: MockSlack, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = adapter_for(sample_bot.build_commands(BrokenCommands), slack)

    async def scenario() -> None:
        async with http_mode(adapter) as client:
            await send_event(client, event_body(mention(QUESTION, ts="6.6")))
            [message] = await eventually(lambda: slack.posted)
        assert message == {"channel": "C1", "thread_ts": "6.6", "text": APOLOGY}

    run(scenario)
    assert "answering a Slack message failed" in caplog.text
    assert TOKEN not in caplog.text


def test_socket_mode_direct_message_with_a_file_is_ingested(
    make_bot: MakeBot, slack: MockSlack
) -> None:
    bot = make_bot()
    text = (
        "Library extends opening hours\n\nThe central library will stay open until ten in the"
        " evening from next month, the council announced on Tuesday. Students asked for longer"
        " hours during the exam season."
    )
    event = {
        "type": "message",
        "subtype": "file_share",
        "channel_type": "im",
        "channel": "D1",
        "user": "U1",
        "text": "",
        "ts": "7.7",
        "files": [
            {
                "id": "F1",
                "name": "library.txt",
                "size": len(text),
                "url_private_download": slack.serve_file("library.txt", text.encode()),
            }
        ],
    }

    async def scenario() -> None:
        adapter = adapter_for(bot, slack)
        request = AsyncBoltRequest(body=event_body(event), mode="socket_mode")
        response = await adapter.app.async_dispatch(request)
        assert response.status == 200
        messages = await eventually(lambda: slack.posted[1:] and slack.posted)
        assert messages[0]["text"] == "Adding library.txt — one moment."
        assert messages[1]["thread_ts"] == "7.7"
        assert messages[1]["text"].startswith("Added “Library extends opening hours”")

    run(scenario)
    assert bot.store.count_articles() == 1


def test_scheduled_briefings(sample_bot: Briefbot, slack: MockSlack) -> None:
    async def scenario() -> None:
        adapter = adapter_for(sample_bot, slack)
        briefing = Briefing(window=Window.last_24h(datetime.now(UTC)))
        await adapter.post("C9", briefing)
        [message] = slack.posted
        assert message["channel"] == "C9" and message["text"] == briefing.empty_note

    run(scenario)


def test_an_oversized_passage_stays_within_block_limits() -> None:
    filler = "The committee heard evidence from witnesses about the harbour & its <piers>. "
    key = "The minister resigned on Friday after the report was published."
    text = filler * 60 + key + " " + filler * 60
    start = text.index(key)
    quote = Quote(
        text=text,
        highlights=((start, start + len(key)),),
        title="A very long report",
        source="Example News",
        url="https://example.com/report",
        published_at=None,
        score=1.0,
        article_id=1,
        passage_id=1,
    )
    message = render.answer_message(Answer(question="Who resigned?", quotes=[quote] * 20))
    assert len(message["blocks"]) <= render.MAX_BLOCKS
    for block in message["blocks"]:
        assert len(block.get("text", {}).get("text", "")) <= render.MAX_SECTION
    first = message["blocks"][0]["text"]["text"]
    assert f"*{key}*" in first
    assert "&amp;" in first and "&lt;piers&gt;" in first and "<piers>" not in first
    assert first.startswith(">… ") and first.endswith(" …")


def test_from_slack_unwraps_links_and_mentions() -> None:
    raw = "<@U123> add <https://example.com/a?b=1&amp;c=2|example.com/a> &lt;3"
    assert from_slack(raw) == "add https://example.com/a?b=1&c=2 <3"
    assert from_slack("add  Title\nBody   text") == "add Title\nBody text"


def test_the_manifest_matches_the_adapter() -> None:
    manifest = yaml.safe_load((REPOSITORY / "deploy" / "slack-manifest.yaml").read_text())
    assert manifest["settings"]["interactivity"]["is_enabled"]  # the feedback buttons
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == SlackSettings().command
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.im",
    }
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history", "files:read"} <= scopes


def _vote_body(slack: MockSlack, message: dict[str, Any], *, up: bool, user: str) -> str:
    """A click on one of an answer's buttons, as Slack posts it (a ``block_actions`` payload)."""
    [buttons] = [block for block in message["blocks"] if block["type"] == "actions"]
    button = buttons["elements"][0 if up else 1]
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "A1",
        "team": {"id": "T1", "domain": "newsroom"},
        "channel": {"id": "C1", "name": "news"},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C1"},
        "trigger_id": f"trigger-{user}-{up}",
        "response_url": slack.response_url,
        "actions": [
            {
                "type": "button",
                "block_id": buttons["block_id"],
                "action_id": button["action_id"],
                "value": button["value"],
                "text": button["text"],
                "action_ts": "1700000001.000200",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def test_a_vote_on_an_answer_is_stored_and_can_be_changed(
    sample_bot: Briefbot, slack: MockSlack
) -> None:
    adapter = adapter_for(sample_bot, slack)

    async def click(client: Any, message: dict[str, Any], *, up: bool, user: str) -> str:
        body = _vote_body(slack, message, up=up, user=user)
        answered = len(slack.responses)
        ack = await client.post("/slack/events", data=body, headers=FORM | signed_headers(body))
        assert ack.status == 200
        await eventually(lambda: len(slack.responses) > answered)
        reply = slack.responses[-1]
        assert reply["response_type"] == "ephemeral"  # thanked privately
        return str(reply["text"])

    async def scenario() -> None:
        async with http_mode(adapter) as client:
            await send_event(client, event_body(mention(QUESTION, ts="1700000300.000001")))
            [answer] = await eventually(lambda: slack.posted)
            assert_biscuit_answer(answer)
            assert await click(client, answer, up=True, user="U1") == (
                "Thanks — you rated this answer 👍. Click the other to change it."
            )
            assert adapter.feedback.counts() == {"up": 1, "down": 0}
            await click(client, answer, up=False, user="U1")  # changed, not added
            assert adapter.feedback.counts() == {"up": 0, "down": 1}
            await click(client, answer, up=True, user="U2")
            assert adapter.feedback.counts() == {"up": 1, "down": 1}

            actions = answer["blocks"][-1]
            made_up = [{**button, "value": "made-up"} for button in actions["elements"]]
            forged = {
                **answer,
                "blocks": [*answer["blocks"][:-1], {**actions, "elements": made_up}],
            }
            assert await click(client, forged, up=True, user="U3") == (
                "That answer can no longer be rated."
            )
            assert adapter.feedback.counts() == {"up": 1, "down": 1}

        [rated] = adapter.feedback.export()
        assert rated["question"] == QUESTION and rated["votes"] == {"up": 1, "down": 1}
        summary = adapter.feedback.summary()
        assert (summary.answers, summary.up, summary.down) == (1, 1, 1)

    run(scenario)


def test_a_refusal_or_nothing_found_has_no_buttons(sample_bot: Briefbot, slack: MockSlack) -> None:
    async def scenario() -> None:
        async with http_mode(adapter_for(sample_bot, slack)) as client:
            await send_command(client, slack, "What is the best pizza dough recipe?")
            [reply] = await eventually(lambda: slack.responses)
            assert all(block["type"] != "actions" for block in reply["blocks"])

    run(scenario)
