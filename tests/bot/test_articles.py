"""Managing the stored articles: pasted text with its metadata, listing, and removal that
leaves the store and both search indexes consistent and the article unquotable."""

from __future__ import annotations

import json
from pathlib import Path

from bot.replies import Caller
from bot.wiring import Briefbot
from tests.cli_harness import briefbot, one_line_error
from tests.conftest import MakeBot, isolated_settings

MILL = (
    "The old watermill at Harrowby turned again on Sunday after a forty-year silence. Volunteers"
    " rebuilt the wheel from oak felled in the estate's own woods, and the miller, Ada Quince,"
    " ground the first flour before a crowd of two hundred."
)
MILL_QUESTION = "Which watermill turned again after forty years?"
FERRY = (
    "Ferry crossings to the island of Skerrow resumed on Monday after the storm damaged the"
    " harbour wall. The operator said two sailings a day will run until the repairs end."
)


def _ingest(data_dir: Path, *args: str) -> None:
    result = briefbot("ingest", *args, "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr


def _listed(data_dir: Path, *args: str) -> list[dict[str, object]]:
    result = briefbot("articles", "--json", *args, "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    listed: list[dict[str, object]] = json.loads(result.stdout)
    return listed


def test_pasted_text_keeps_its_metadata_and_is_listed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _ingest(
        data_dir,
        *("--text", MILL, "--title", "Harrowby mill turns again", "--source", "Harrowby Gazette"),
        *("--date", "2026-11-30", "--url", "https://gazette.example/mill"),
    )
    _ingest(data_dir, "--text", "Skerrow ferries resume\n" + FERRY)
    newest, oldest = _listed(data_dir)
    assert oldest == {
        "id": oldest["id"],
        "title": "Harrowby mill turns again",
        "source": "Harrowby Gazette",
        "published_at": "2026-11-30T00:00:00+00:00",
        "added_at": oldest["added_at"],
        "url": "https://gazette.example/mill",
    }
    # Undated pasted text is dated when it was added, so it shows in that day's briefing.
    assert newest["title"] == "Skerrow ferries resume"
    assert newest["published_at"] == newest["added_at"]
    assert [a["title"] for a in _listed(data_dir, "--source", "harrowby gazette")] == [
        "Harrowby mill turns again"
    ]
    assert _listed(data_dir, "--since", "2999-01-01") == []
    plain = briefbot("articles", "--data-dir", str(data_dir))
    assert "Harrowby mill turns again  (Harrowby Gazette)  https://gazette.example/mill" in (
        plain.stdout
    )

    line = one_line_error(
        briefbot("ingest", str(tmp_path), "--title", "Not text", "--data-dir", str(data_dir))
    )
    assert line == "error: --title, --source, --date and --url describe a --text article"
    line = one_line_error(
        briefbot("ingest", "--text", MILL, "--date", "last Tuesday", "--data-dir", str(data_dir))
    )
    assert line.startswith("error: --date: 'last Tuesday' is not an ISO date-time")


def test_a_removed_article_leaves_consistent_indexes_and_is_never_quoted(
    make_bot: MakeBot, tmp_path: Path
) -> None:
    bot = make_bot()
    bot.ingest_service.ingest_text("Skerrow ferries resume\n" + FERRY)
    added = bot.ingest_service.ingest_text(MILL, title="Harrowby mill", url="https://m.example/1")
    mill = added.added[0]
    assert bot.ask_service.ask(MILL_QUESTION).quotes[0].title == "Harrowby mill"
    before = (bot.store.count_articles(), bot.store.count_passages())

    data_dir = ["--data-dir", str(bot.settings.data_dir)]
    removed = briefbot("articles", "remove", "https://M.example/1", *data_dir)  # another process
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith(f"removed  {mill.id}  Harrowby mill")

    # This bot (another process, as far as the store is concerned) and a fresh one agree.
    for reader in (bot, Briefbot(isolated_settings(data_dir=bot.settings.data_dir))):
        assert reader.store.count_articles() == before[0] - 1
        passages = reader.store.count_passages()
        assert passages < before[1]
        assert len(reader.vectors) == len(reader.lexical) == passages
        assert reader.health(check=True).problems == []
        answer = reader.ask_service.ask(MILL_QUESTION)
        assert all(quote.title != "Harrowby mill" for quote in answer.quotes)
        assert not reader.lexical.search("watermill Quince", 10)

    # Removed, not remembered as a duplicate: it can be added again, under ids never used
    # before (a process holding the old passages' vectors must not mistake them for the new).
    readded = bot.ingest_service.ingest_text(MILL, title="Harrowby mill").added
    assert len(readded) == 1 and readded[0].id is not None and readded[0].id > (mill.id or 0)
    assert min(bot.store.passage_ids_of([readded[0].id])[readded[0].id]) > before[1]
    assert bot.ask_service.ask(MILL_QUESTION).quotes[0].title == "Harrowby mill"

    again = one_line_error(briefbot("articles", "remove", str(mill.id), *data_dir))
    assert again == (
        f"error: no article has the id or URL '{mill.id}' — `articles` lists them with their ids"
    )


def test_the_chat_lists_removes_and_takes_a_multi_line_paste(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _ingest(data_dir, "--text", "Skerrow ferries resume\n" + FERRY)
    lines = [
        "add",  # then the article, pasted over several lines, ended by an empty line
        "Harrowby mill turns again",
        MILL[:90],
        MILL[90:],
        "",
        "articles",
        "remove 99",
        "remove 2",
        MILL_QUESTION,
        "quit",
    ]
    result = briefbot(
        "chat", "--data-dir", str(data_dir), stdin="\n".join(lines) + "\n"
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # rich wraps long lines
    assert "Added “Harrowby mill turns again”" in out
    assert "2 · " in out and "· Harrowby mill turns again (unknown source)" in out
    assert "No article has the id or URL '99'" in out
    assert "Removed “Harrowby mill turns again”: it will not be quoted again." in out
    assert "Ada Quince" not in out.split("it will not be quoted again.")[1]


def test_only_admins_remove_articles_and_an_opml_file_shared_in_chat_is_imported(
    make_bot: MakeBot,
) -> None:
    bot = make_bot()
    bot.ingest_service.ingest_text(MILL, title="Harrowby mill")
    member = Caller(platform="slack", channel="C1", user="U2", trusted=False)
    admin = Caller(platform="slack", channel="C1", user="U1", trusted=True)
    assert bot.commands.remove(member, "1").problem
    assert bot.store.count_articles() == 1
    assert not bot.commands.remove(admin, "1").problem
    assert bot.store.count_articles() == 0

    opml = b'<opml version="2.0"><body><outline text="Nowhere"/></body></opml>'
    assert bot.commands.add_file(member, "feeds.opml", opml).problem  # refused
    shared = bot.commands.add_file(admin, "feeds.opml", opml)
    assert shared.lines == ("feeds.opml: 0 followed, 0 already followed, 0 failed.",)
    broken = bot.commands.add_file(admin, "feeds.opml", b"<rss/>")
    assert broken.problem and "not OPML" in broken.text
