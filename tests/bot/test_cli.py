"""The briefbot command as a person runs it: real processes, real exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path

from tests.articles import ARTICLE_PAGE, KIM, LONDON, NEXT
from tests.cli_harness import briefbot, copy_data_dir, one_line_error
from tests.http_server import LoopbackServer, Reply


def test_empty_question_is_a_one_line_error(tmp_path: Path) -> None:
    line = one_line_error(briefbot("ask", "", "--data-dir", str(tmp_path)))
    assert "empty" in line


def test_missing_data_directory_says_to_ingest(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    line = one_line_error(briefbot("ask", KIM, "--data-dir", str(missing)))
    assert line.startswith("error: no articles yet — add some with briefbot ingest, or run")
    assert not missing.exists()


def test_invalid_setting_names_the_variable(tmp_path: Path) -> None:
    result = briefbot(
        "stats", "--data-dir", str(tmp_path), env={"BRIEFBOT_RETRIEVAL__TOP_K": "many"}
    )
    line = one_line_error(result)
    assert line.startswith("error: invalid setting BRIEFBOT_RETRIEVAL__TOP_K:")
    assert result.returncode == 2


def test_ask_json_and_stdin_protocol(sample_data_dir: Path) -> None:
    result = briefbot("ask", "--json", KIM, "--data-dir", str(sample_data_dir))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["found"] is True
    top = answer["quotes"][0]
    assert set(top) >= {"url", "title", "source", "published_at", "text", "highlight", "score"}
    assert "Marshal Shaposhnikov" in top["text"]
    assert top["source"] == "TASS" and top["published_at"].startswith("2023-09-19")

    lines = "\n".join(
        [KIM, json.dumps({"question": "best pizza dough recipe?", "now": "2024-01-01"}), ""]
    )
    streamed = briefbot("ask", "--data-dir", str(sample_data_dir), stdin=lines + "\n")
    assert streamed.returncode == 0, streamed.stderr
    replies = [json.loads(line) for line in streamed.stdout.splitlines()]
    assert [r["found"] for r in replies] == [True, False]
    assert replies[0]["quotes"][0]["source"] == "TASS"


def test_ingest_a_url_then_follow_a_feed(tmp_path: Path, http_server: LoopbackServer) -> None:
    page = ARTICLE_PAGE.read_bytes()
    http_server.routes["/article.html"] = Reply(headers={"Content-Type": "text/html"}, body=page)
    url = http_server.url("/article.html")
    data = ["--data-dir", str(tmp_path)]

    refused = one_line_error(briefbot("ingest", url, *data))
    assert "private network" in refused and url in refused
    assert http_server.requests == []

    allowed = {"BRIEFBOT_INGEST__ALLOW_PRIVATE_NETWORKS": "true"}
    added = briefbot("ingest", url, *data, env=allowed)
    assert added.returncode == 0, added.stderr
    assert "Glacier retreat speeds up in the Alps" in added.stdout
    assert "2024-08-14" in added.stdout
    answer = json.loads(
        briefbot("ask", "--json", "How much ice did Swiss glaciers lose?", *data).stdout
    )
    assert answer["quotes"][0]["title"] == "Glacier retreat speeds up in the Alps"
    assert "four percent" in answer["quotes"][0]["highlight"]

    def rss(*titles: str) -> Reply:
        items = "".join(
            f"<item><title>{t}</title><guid>{t}</guid><description>{t} happened in the valley"
            " today, officials said, and more news is expected soon.</description></item>"
            for t in titles
        )
        body = f'<rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>'
        return Reply(headers={"Content-Type": "application/rss+xml"}, body=body.encode())

    http_server.routes["/feed.xml"] = rss("Storm warning issued", "Market day moved")
    feed = http_server.url("/feed.xml")
    followed = briefbot("feeds", "add", feed, *data, env=allowed)
    assert followed.returncode == 0, followed.stderr
    assert "2 new" in followed.stdout
    http_server.routes["/feed.xml"] = rss(
        "Storm warning issued", "Market day moved", "Road reopens"
    )
    polled = briefbot("feeds", "poll", *data, env=allowed)
    assert polled.returncode == 0, polled.stderr
    assert "Wire: 1 new, 0 duplicates, 0 failed" in polled.stdout
    assert "feed.xml" in briefbot("feeds", "list", *data).stdout


def test_terminal_chat_takes_the_chat_commands(sample_data_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    copy_data_dir(sample_data_dir, data_dir)
    lines = ["help", "Why did Vanuatu ban Fijian biscuits?", "briefing 2005-07-07", "add x", "quit"]
    result = briefbot("chat", "--data-dir", str(data_dir), stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # rich wraps long lines
    assert "subscribe HH:MM Area/City [days] [topics…]" in out
    assert "Flour Mills of Fiji" in out and "Wikinews · 2005-07-01" in out
    assert "News briefing — 2005-07-07" in out
    assert "“x” is not a web address" in out


def test_terminal_chat_answers_as_of_a_reference_time(
    sample_data_dir: Path, tmp_path: Path
) -> None:
    """`chat --now` and the `now` command: "what happened yesterday?" gets that day's stories."""
    data_dir = tmp_path / "data"
    copy_data_dir(sample_data_dir, data_dir)
    lines = [
        "what happened yesterday?",
        "now 2005-07-03T12:00",
        "what happened yesterday?",
        "now soon",
        "now off",
        "sheep",
        "quit",
    ]
    result = briefbot(
        "chat", "--now", "2005-07-08T09:00", "--data-dir", str(data_dir),
        stdin="\n".join(lines) + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # rich wraps long lines
    first, _, rest = out.partition("Answering as of 2005-07-03T12:00")
    assert "The top stories from “yesterday”" in first and "Wikinews · 2005-07-07" in first
    assert "Wikinews · 2005-07-02" not in first
    second, _, last = rest.partition("is not an ISO date-time")
    assert "The top stories from “yesterday”" in second and "Wikinews · 2005-07-02" in second
    assert "Wikinews · 2005-07-07" not in second
    assert "Answering as of the current time again." in last
    assert "sheep" in last.lower() and "Did you mean" not in last


def test_terminal_chat_follows_up_within_the_session(sample_data_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    copy_data_dir(sample_data_dir, data_dir)
    stdin = "\n".join([LONDON, NEXT, "quit"]) + "\n"
    result = briefbot("chat", "--data-dir", str(data_dir), stdin=stdin)
    assert result.returncode == 0, result.stderr
    _, first, later, _ = " ".join(result.stdout.split()).split("you ›")
    assert "London" in first and "2005-07-07" in first
    assert "London" in later and "2005-07-07" not in later


def test_run_explains_an_incomplete_chat_setup(tmp_path: Path) -> None:
    """Each half-configured Slack set-up fails at once, in one line, without echoing a token."""
    cases = [
        ({"BRIEFBOT_SLACK__BOT_TOKEN": "paste-your-token-here"}, [], "starting with xoxb-"),
        ({"BRIEFBOT_SLACK__BOT_TOKEN": "xoxb-secret-1"}, [], "APP_TOKEN"),
        ({"BRIEFBOT_SLACK__BOT_TOKEN": "xoxb-secret-1"}, ["--slack-http"], "SIGNING_SECRET"),
        ({}, ["--slack-http"], "needs BRIEFBOT_SLACK__BOT_TOKEN"),
    ]
    for env, flags, expected in cases:
        result = briefbot("run", *flags, "--data-dir", str(tmp_path), env=env)
        line = one_line_error(result)
        assert expected in line and result.returncode == 2
        assert "secret-1" not in line and "paste-your" not in line


def test_a_quote_count_out_of_range_is_one_line(sample_data_dir: Path) -> None:
    line = one_line_error(briefbot("ask", KIM, "--k", "0", "--data-dir", str(sample_data_dir)))
    assert line == "error: --k: ask for 1 to 20 quotes, not 0"
